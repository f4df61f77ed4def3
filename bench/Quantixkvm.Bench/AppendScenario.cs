using System.Diagnostics;
using System.Globalization;
using System.Text;
using Marten;
using Npgsql;
using Quantixkvm.Bench.Reporting;
using Quantixkvm.ControlPlane.EventStore;
using Quantixkvm.Domain.Vms;

namespace Quantixkvm.Bench;

/// <summary>
/// Event append throughput through the project's event store path (Marten configured by <see cref="EventStoreSetup"/>:
/// the same event names, metadata and serializer the control plane uses) against its natural baseline measured in the
/// same run: raw Npgsql inserts of the same JSON rows, in the same transaction shape (a stream row upserted with its new
/// version, then the event rows). One event per commit and batches of 100, with 1 and 8 writers. Each writer appends to
/// its own streams, as VMs do. The project's path projects the VM and operation read models inline, in the same
/// transaction; a second Marten store with the event store alone (no read models) shows what that costs.
/// Writes append.md and append.json into the results folder.
/// </summary>
public static class AppendScenario
{
    private const int BatchSize = 100;

    public static async Task<int> RunAsync(string[] args)
    {
        var options = new BenchArgs(args);
        var events = options.Int("--events", 20_000);
        var output = options.OutputFolder();
        var connection = BenchArgs.Postgres;
        var schema = $"bench_append_{Guid.NewGuid():N}"[..24];

        await using var store = DocumentStore.For(options => EventStoreSetup.Configure(options, connection, schema));
        await store.Storage.ApplyAllConfiguredChangesToDatabaseAsync();
        await using var eventsOnly = DocumentStore.For(options => EventStoreSetup.ConfigureEvents(options, connection, schema + "_e"));
        await eventsOnly.Storage.ApplyAllConfiguredChangesToDatabaseAsync();
        await using var data = NpgsqlDataSource.Create(connection);
        await CreateRawTablesAsync(data, schema);

        var json = store.Options.Serializer().ToJson(SampleEvent(Guid.NewGuid()));
        var results = new List<AppendResult>();
        try
        {
            foreach (var perCommit in new[] { 1, BatchSize })
            {
                foreach (var writers in new[] { 1, 8 })
                {
                    // Warm both paths up (connections, prepared plans, JIT) before measuring.
                    await MartenAsync(store, writers, perCommit, Math.Min(events / 10, 2_000));
                    await MartenAsync(eventsOnly, writers, perCommit, Math.Min(events / 10, 2_000));
                    await RawAsync(data, schema, json, writers, perCommit, Math.Min(events / 10, 2_000));
                    var marten = await MartenAsync(store, writers, perCommit, events);
                    var bare = await MartenAsync(eventsOnly, writers, perCommit, events);
                    var raw = await RawAsync(data, schema, json, writers, perCommit, events);
                    var result = new AppendResult(perCommit == 1 ? "one event per commit" : $"{perCommit} events per commit", writers, events,
                        Math.Round(events / marten.TotalSeconds), Math.Round(events / bare.TotalSeconds), Math.Round(events / raw.TotalSeconds));
                    results.Add(result);
                    Console.WriteLine($"{result.Shape}, {writers} writer(s): project path {result.MartenEventsPerSecond:0} events/s, "
                        + $"event store alone {result.EventsOnlyPerSecond:0}, raw Npgsql {result.RawEventsPerSecond:0}, ratio {result.Ratio:0.00}");
                }
            }
        }
        finally
        {
            await using var drop = data.CreateCommand(
                $"DROP SCHEMA IF EXISTS {schema} CASCADE; DROP SCHEMA IF EXISTS {schema}_e CASCADE; DROP SCHEMA IF EXISTS {schema}_raw CASCADE;");
            await drop.ExecuteNonQueryAsync();
        }

        var machine = await Machine.DescribeAsync(data);
        await Report.WriteAsync(output, "append", machine, results, Markdown(machine, results));
        return 0;
    }

    /// <summary>What the control plane appends most: an operation request, with its real shape and names.</summary>
    internal static VmOperationRequested SampleEvent(Guid vmId) => new(
        vmId, Guid.NewGuid(), "bench-command", OperationKind.Start, false, PowerState.Running, Guid.NewGuid(), "user:bench",
        DateTimeOffset.UtcNow, DateTimeOffset.UtcNow.AddMinutes(1));

    private static async Task<TimeSpan> MartenAsync(IDocumentStore store, int writers, int perCommit, int events)
    {
        var clock = Stopwatch.StartNew();
        await Task.WhenAll(Enumerable.Range(0, writers).Select(_ => Task.Run(async () =>
        {
            var stream = Guid.NewGuid();
            var version = 0L;
            for (var appended = 0; appended < events / writers; appended += perCommit)
            {
                await using var session = store.LightweightSession();
                session.CorrelationId = "bench";
                session.CausationId = "bench";
                var batch = Enumerable.Range(0, perCommit).Select(_ => (object)SampleEvent(stream)).ToArray();
                // As the control plane appends: with the stream's expected version (optimistic concurrency).
                session.Events.Append(stream, version + perCommit, batch);
                await session.SaveChangesAsync();
                version += perCommit;
            }
        })));
        return clock.Elapsed;
    }

    private static async Task CreateRawTablesAsync(NpgsqlDataSource data, string schema)
    {
        await using var command = data.CreateCommand($"""
            CREATE SCHEMA {schema}_raw;
            CREATE TABLE {schema}_raw.streams (id uuid PRIMARY KEY, version bigint NOT NULL, timestamp timestamptz NOT NULL);
            CREATE TABLE {schema}_raw.events (
                seq_id bigserial PRIMARY KEY, id uuid NOT NULL, stream_id uuid NOT NULL, version bigint NOT NULL, type text NOT NULL,
                data jsonb NOT NULL, timestamp timestamptz NOT NULL, correlation_id text, causation_id text, user_name text,
                UNIQUE (stream_id, version));
            """);
        await command.ExecuteNonQueryAsync();
    }

    /// <summary>The same rows in the same transaction shape: upsert the stream's version (checking it), then insert the events.</summary>
    private static async Task<TimeSpan> RawAsync(NpgsqlDataSource data, string schema, string json, int writers, int perCommit, int events)
    {
        var clock = Stopwatch.StartNew();
        await Task.WhenAll(Enumerable.Range(0, writers).Select(_ => Task.Run(async () =>
        {
            var stream = Guid.NewGuid();
            var version = 0L;
            await using var connection = await data.OpenConnectionAsync();
            for (var appended = 0; appended < events / writers; appended += perCommit)
            {
                await using var transaction = await connection.BeginTransactionAsync();
                await using var batch = new NpgsqlBatch(connection, transaction);
                var upsert = new NpgsqlBatchCommand(
                    $"INSERT INTO {schema}_raw.streams (id, version, timestamp) VALUES ($1, $2, now()) "
                    + $"ON CONFLICT (id) DO UPDATE SET version = excluded.version, timestamp = excluded.timestamp WHERE {schema}_raw.streams.version = $3");
                upsert.Parameters.Add(new NpgsqlParameter { Value = stream });
                upsert.Parameters.Add(new NpgsqlParameter { Value = version + perCommit });
                upsert.Parameters.Add(new NpgsqlParameter { Value = version });
                batch.BatchCommands.Add(upsert);
                for (var i = 1; i <= perCommit; i++)
                {
                    var insert = new NpgsqlBatchCommand(
                        $"INSERT INTO {schema}_raw.events (id, stream_id, version, type, data, timestamp, correlation_id, causation_id, user_name) "
                        + "VALUES ($1, $2, $3, $4, $5::jsonb, now(), $6, $7, $8)");
                    insert.Parameters.Add(new NpgsqlParameter { Value = Guid.NewGuid() });
                    insert.Parameters.Add(new NpgsqlParameter { Value = stream });
                    insert.Parameters.Add(new NpgsqlParameter { Value = version + i });
                    insert.Parameters.Add(new NpgsqlParameter { Value = "vm.operation-requested.v1" });
                    insert.Parameters.Add(new NpgsqlParameter { Value = json });
                    insert.Parameters.Add(new NpgsqlParameter { Value = "bench" });
                    insert.Parameters.Add(new NpgsqlParameter { Value = "bench" });
                    insert.Parameters.Add(new NpgsqlParameter { Value = "user:bench" });
                    batch.BatchCommands.Add(insert);
                }

                await batch.ExecuteNonQueryAsync();
                await transaction.CommitAsync();
                version += perCommit;
            }
        })));
        return clock.Elapsed;
    }

    private static string Markdown(MachineInfo machine, IReadOnlyList<AppendResult> results)
    {
        var text = new StringBuilder();
        text.AppendLine("# Append: the project's event store path vs raw Npgsql inserts of the same rows");
        text.AppendLine();
        text.AppendLine(machine.ToMarkdown());
        text.AppendLine();
        text.AppendLine("Project path: Marten as the control plane configures it, read models projected inline. Event store alone: the same");
        text.AppendLine("Marten configuration without read models. Raw: Npgsql inserting the same JSON rows in the same transaction shape.");
        text.AppendLine();
        text.AppendLine("| transaction shape | writers | events | project path (events/s) | event store alone (events/s) | raw Npgsql (events/s) | ratio, project path / raw (aim ≥ 0.7) | ratio, event store alone / raw |");
        text.AppendLine("|---|---:|---:|---:|---:|---:|---:|---:|");
        foreach (var r in results)
        {
            text.AppendLine(CultureInfo.InvariantCulture,
                $"| {r.Shape} | {r.Writers} | {r.Events} | {r.MartenEventsPerSecond:0} | {r.EventsOnlyPerSecond:0} | {r.RawEventsPerSecond:0} | {r.Ratio:0.00} | {r.EventsOnlyRatio:0.00} |");
        }

        return text.ToString();
    }
}

public sealed record AppendResult(
    string Shape, int Writers, int Events, double MartenEventsPerSecond, double EventsOnlyPerSecond, double RawEventsPerSecond)
{
    public double Ratio => RawEventsPerSecond <= 0 ? 0 : Math.Round(MartenEventsPerSecond / RawEventsPerSecond, 2);

    public double EventsOnlyRatio => RawEventsPerSecond <= 0 ? 0 : Math.Round(EventsOnlyPerSecond / RawEventsPerSecond, 2);
}
