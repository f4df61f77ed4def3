using System.Diagnostics;
using Npgsql;
using Quantixkvm.Contracts;
using RabbitMQ.Client;

namespace Quantixkvm.FaultHarness;

public enum FaultKind
{
    /// <summary>kill -9 of the control plane at a random moment, then a restart.</summary>
    ControlPlaneKill,

    /// <summary>The control plane runs with dispatch held, accepts (appends) commands, and is killed before sending them.</summary>
    ControlPlaneKillBetweenAppendAndDispatch,

    /// <summary>The agent's outcomes are produced while no control plane runs: they wait in RabbitMQ, not yet appended.</summary>
    ControlPlaneKillBetweenOutcomeAndAppend,

    /// <summary>kill -9 of the agent (while operations are in flight), then a restart.</summary>
    AgentKill,

    /// <summary>kill -9 of the RabbitMQ node; started again after a short outage.</summary>
    RabbitMqKill,

    /// <summary>PostgreSQL's immediate shutdown (no checkpoint: crash recovery on start); started again after a short outage.</summary>
    PostgresKill,
}

/// <summary>One injected fault: when, what it hit, and how long the platform took to be whole again.</summary>
public sealed record FaultRecord(
    int Index, FaultKind Kind, int AtOperation, DateTimeOffset StartedAt, DateTimeOffset HealedAt, double RestartSeconds, int InFlightAtFault,
    string Detail)
{
    /// <summary>From the fault to the first operation that succeeded after it was healed (filled in after the run).</summary>
    public double? OperationsResumedSeconds { get; set; }
}

/// <summary>
/// Injects <see cref="FaultOptions.Faults"/> faults, one after another, at seeded points of the workload (after a seeded
/// number of acknowledged operations), every kind in turn in a seeded order. Each fault is healed before the next.
/// </summary>
public sealed class FaultInjector(FaultPlatform platform, Workload workload, FaultOptions options)
{
    private readonly List<FaultRecord> _records = [];

    public IReadOnlyList<FaultRecord> Records => _records;

    /// <summary>The plan: which fault after how many acknowledged operations. Every kind appears once before any repeats.</summary>
    public static IReadOnlyList<(FaultKind Kind, int AtOperation)> Plan(FaultOptions options)
    {
        var random = new Random(options.Seed);
        var kinds = Enum.GetValues<FaultKind>();
        var plan = new List<(FaultKind, int)>();
        var order = new List<FaultKind>();
        while (order.Count < options.Faults)
        {
            order.AddRange(kinds.OrderBy(_ => random.Next()));
        }

        // Spread over 5%..90% of the workload, each at a jittered point of its own share.
        var span = options.Operations * 0.85 / options.Faults;
        for (var i = 0; i < options.Faults; i++)
        {
            plan.Add((order[i], (int)(options.Operations * 0.05 + span * i + random.NextDouble() * span * 0.5)));
        }

        return plan;
    }

    public async Task RunAsync(Task workloadDone, CancellationToken cancellationToken)
    {
        var random = new Random(options.Seed * 7919);
        var plan = Plan(options);
        for (var i = 0; i < plan.Count; i++)
        {
            var (kind, at) = plan[i];
            while (workload.AcknowledgedCount < at && !workloadDone.IsCompleted)
            {
                await Task.Delay(20, cancellationToken);
            }

            if (workloadDone.IsCompleted)
            {
                // The workload failed or ended early: the remaining faults are not injected (the report shows how many were).
                return;
            }

            var record = await InjectAsync(i + 1, kind, random, cancellationToken);
            _records.Add(record);
            Console.WriteLine($"fault {record.Index}/{plan.Count} {record.Kind} at operation {record.AtOperation}: {record.Detail} "
                + $"(healed after {(record.HealedAt - record.StartedAt).TotalSeconds:0.0} s)");
        }
    }

    private async Task<FaultRecord> InjectAsync(int index, FaultKind kind, Random random, CancellationToken cancellationToken)
    {
        var at = workload.AcknowledgedCount;
        var started = DateTimeOffset.UtcNow;
        var inFlight = workload.InFlight.Count;
        TimeSpan restart;
        string detail;
        switch (kind)
        {
            case FaultKind.ControlPlaneKill:
                await Task.Delay(random.Next(0, 300), cancellationToken);
                inFlight = workload.InFlight.Count;
                await platform.KillControlPlaneAsync();
                restart = await platform.StartControlPlaneAsync(dispatch: true, cancellationToken);
                detail = $"kill -9 with {inFlight} operations in flight; ready again {restart.TotalSeconds:0.0} s after the restart";
                break;

            case FaultKind.ControlPlaneKillBetweenAppendAndDispatch:
            {
                await platform.KillControlPlaneAsync();
                await platform.StartControlPlaneAsync(dispatch: false, cancellationToken);
                // Commands are accepted and appended now, but not sent: wait until some are waiting (or a while), then crash.
                var until = DateTime.UtcNow.AddSeconds(8);
                var appended = 0L;
                while ((appended = await PendingAsync()) < 2 && DateTime.UtcNow < until)
                {
                    await Task.Delay(100, cancellationToken);
                }

                inFlight = workload.InFlight.Count;
                await platform.KillControlPlaneAsync();
                restart = await platform.StartControlPlaneAsync(dispatch: true, cancellationToken);
                detail = $"{appended} operations appended and not dispatched (PENDING, dispatch held) at the kill -9; dispatch resumed from the log "
                    + $"({restart.TotalSeconds:0.0} s to ready)";
                break;
            }

            case FaultKind.ControlPlaneKillBetweenOutcomeAndAppend:
            {
                // Frozen, the agent holds its commands unacknowledged; the control plane dies; thawed, the agent acts and
                // reports into RabbitMQ, where the outcomes wait for a control plane to append them.
                platform.FreezeAgent(true);
                try
                {
                    var before = workload.AcknowledgedCount;
                    var until = DateTime.UtcNow.AddSeconds(3);
                    while (workload.AcknowledgedCount < before + 2 && DateTime.UtcNow < until)
                    {
                        await Task.Delay(20, cancellationToken);
                    }

                    // Give dispatch a moment to hand the new commands to the broker.
                    await Task.Delay(500, cancellationToken);
                    inFlight = workload.InFlight.Count;
                    await platform.KillControlPlaneAsync();
                }
                finally
                {
                    platform.FreezeAgent(false);
                }

                var waiting = 0;
                var deadline = DateTime.UtcNow.AddSeconds(5);
                while (DateTime.UtcNow < deadline && (waiting = await QueuedAsync(AgentQueues.ControlPlaneOutcomes)) == 0)
                {
                    await Task.Delay(100, cancellationToken);
                }

                // Let the agent finish what it holds, so its later outcomes wait too.
                await Task.Delay(1000, cancellationToken);
                waiting = Math.Max(waiting, await QueuedAsync(AgentQueues.ControlPlaneOutcomes));
                restart = await platform.StartControlPlaneAsync(dispatch: true, cancellationToken);
                detail = $"kill -9 with {inFlight} operations in flight; {waiting} agent reports (started/finished) waited in RabbitMQ, "
                    + $"unappended, until the restart ({restart.TotalSeconds:0.0} s to ready)";
                break;
            }

            case FaultKind.AgentKill:
            {
                // Preferably mid-command: wait (briefly) for an operation in flight.
                var until = DateTime.UtcNow.AddSeconds(2);
                while (workload.InFlight.Count == 0 && DateTime.UtcNow < until)
                {
                    await Task.Delay(5, cancellationToken);
                }

                inFlight = workload.InFlight.Count;
                await platform.KillAgentAsync();
                await Task.Delay(1000, cancellationToken);
                restart = await platform.StartAgentAsync(cancellationToken);
                detail = $"kill -9 with {inFlight} operations in flight; heartbeating again {restart.TotalSeconds:0.0} s after the restart";
                break;
            }

            case FaultKind.RabbitMqKill:
            {
                var clock = Stopwatch.StartNew();
                await platform.Services.KillRabbitMqAsync();
                var killed = clock.Elapsed;
                await Task.Delay(TimeSpan.FromSeconds(options.OutageSeconds), cancellationToken);
                clock.Restart();
                await platform.Services.RestartAsync(cancellationToken);
                restart = clock.Elapsed;
                detail = $"kill -9 of the node (gone after {killed.TotalSeconds:0.0} s), down {options.OutageSeconds:0.#} s more; the start script took {restart.TotalSeconds:0.0} s";
                break;
            }

            case FaultKind.PostgresKill:
            {
                var clock = Stopwatch.StartNew();
                await platform.Services.StopPostgresAsync();
                var stopped = clock.Elapsed;
                await Task.Delay(TimeSpan.FromSeconds(options.OutageSeconds), cancellationToken);
                clock.Restart();
                await platform.Services.RestartAsync(cancellationToken);
                restart = clock.Elapsed;
                detail = $"immediate shutdown (down after {stopped.TotalSeconds:0.0} s), down {options.OutageSeconds:0.#} s more; "
                    + $"the start script (crash recovery) took {restart.TotalSeconds:0.0} s";
                break;
            }

            default:
                throw new ArgumentOutOfRangeException(nameof(kind), kind, null);
        }

        return new FaultRecord(index, kind, at, started, DateTimeOffset.UtcNow, Math.Round(restart.TotalSeconds, 2), inFlight, detail);
    }

    /// <summary>Operations recorded and not yet begun by the agent (PENDING in the read model).</summary>
    private async Task<long> PendingAsync()
    {
        try
        {
            await using var data = NpgsqlDataSource.Create(platform.Services.Postgres);
            await using var command = data.CreateCommand($"select count(*) from {FaultPlatform.Schema}.mt_doc_operationview where data->>'status' = 'Pending'");
            return (long)(await command.ExecuteScalarAsync())!;
        }
        catch (NpgsqlException)
        {
            return 0;
        }
    }

    /// <summary>Messages ready in a queue of the private broker, read over AMQP (exact, unlike the management API's sampled figures); 0 when it cannot tell.</summary>
    private async Task<int> QueuedAsync(string queue)
    {
        try
        {
            var factory = new ConnectionFactory
            {
                HostName = "127.0.0.1", Port = platform.Services.AmqpPort, UserName = PrivateServices.User, Password = PrivateServices.Password,
            };
            await using var connection = await factory.CreateConnectionAsync();
            await using var channel = await connection.CreateChannelAsync();
            return (int)(await channel.QueueDeclarePassiveAsync(queue)).MessageCount;
        }
        catch (Exception ex) when (ex is RabbitMQ.Client.Exceptions.RabbitMQClientException or RabbitMQ.Client.Exceptions.OperationInterruptedException or IOException)
        {
            return 0;
        }
    }
}
