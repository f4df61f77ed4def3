using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.Json.Nodes;
using Npgsql;
using Quantixkvm.Bench.Platform;
using Quantixkvm.Bench.Reporting;
using Quantixkvm.Testing;

namespace Quantixkvm.Bench;

/// <summary>
/// N concurrent GraphQL clients drive the VM lifecycle through the real control plane and agent (separate processes,
/// <see cref="BenchPlatform"/>): each loops createVm → startVm → stopVm → deleteVm. A command's latency runs from
/// sending its mutation (over HTTP, as GraphQL clients send mutations) to the receipt, on the client's own
/// graphql-transport-ws socket, of the <c>operationUpdated</c> message saying its operation ended: mutation → event →
/// dispatch → RabbitMQ → agent → libvirt → outcome → event → read model → subscription. Beside it, measured in the same
/// run before the platform starts: a raw RabbitMQ request/reply round-trip and a raw PostgreSQL commit, each with one
/// client (latency) and with N (throughput). Writes e2e.md, e2e.json and e2e-latency.svg.
/// </summary>
public static class EndToEndScenario
{
    private const string OperationSubscription =
        "subscription($id: ID!) { operationUpdated(id: $id) { id status error { code message } startedAt acceptedByHostAt finishedAt } }";

    private static readonly (string Kind, string Mutation)[] Cycle =
    [
        ("createVm", "mutation($input: CreateVmInput!) { createVm(input: $input) { operation { id } vm { id } } }"),
        ("startVm", "mutation($id: ID!) { startVm(id: $id) { operation { id } } }"),
        ("stopVm", "mutation($id: ID!) { stopVm(id: $id) { operation { id } } }"),
        ("deleteVm", "mutation($id: ID!) { deleteVm(id: $id) { operation { id } } }"),
    ];

    public static async Task<int> RunAsync(string[] args)
    {
        var options = new BenchArgs(args);
        var clients = options.Int("--clients", 100);
        var duration = TimeSpan.FromSeconds(options.Int("--duration", 60));
        var commandBudget = options.Int("--commands", int.MaxValue);
        var baselineDuration = TimeSpan.FromSeconds(options.Int("--baseline-seconds", 5));
        var output = options.OutputFolder();

        Console.WriteLine($"baselines ({baselineDuration.TotalSeconds:0} s each, before the platform starts)...");
        var rabbitOne = await RawBaselines.RabbitMqRoundTripsAsync(1, baselineDuration);
        var rabbitMany = await RawBaselines.RabbitMqRoundTripsAsync(clients, baselineDuration);
        var postgresOne = await RawBaselines.PostgresCommitsAsync(1, baselineDuration);
        var postgresMany = await RawBaselines.PostgresCommitsAsync(Math.Min(clients, 32), baselineDuration);
        foreach (var baseline in new[] { rabbitOne, rabbitMany, postgresOne, postgresMany })
        {
            Console.WriteLine($"{baseline.Latencies.Name}: p50 {baseline.Latencies.Percentile(50):0.##} ms, p99 {baseline.Latencies.Percentile(99):0.##} ms, {baseline.PerSecond:0}/s");
        }

        Console.WriteLine("starting the control plane and the agent...");
        await using var platform = await BenchPlatform.StartAsync();
        var run = new Run(platform, commandBudget);

        // Warm-up, not measured: every client runs one whole cycle (JIT, connection pools, prepared statements).
        Console.WriteLine($"{clients} clients: warm-up cycle...");
        await Task.WhenAll(Enumerable.Range(0, clients).Select(c => run.ClientAsync(c, TimeSpan.Zero, record: false)));

        Console.WriteLine($"{clients} clients: measuring for {duration.TotalSeconds:0} s (or {commandBudget} commands)...");
        var cpu = new CpuUsage(("control plane", platform.ControlPlane.Id), ("agent", platform.Agent.Id), ("bench clients", Environment.ProcessId));
        var clock = Stopwatch.StartNew();
        await Task.WhenAll(Enumerable.Range(0, clients).Select(c => run.ClientAsync(c, duration, record: true)));
        var wall = clock.Elapsed;
        var cores = cpu.Cores();

        var samples = run.Samples.ToList();
        var succeeded = samples.Where(s => s.Error is null).ToList();
        var overall = new Latencies("end to end, all commands", succeeded.Select(s => s.Milliseconds));
        var byKind = Cycle.Select(c => new Latencies(c.Kind, succeeded.Where(s => s.Kind == c.Kind).Select(s => s.Milliseconds))).ToList();
        var stages = Stages(succeeded);
        var postgresStages = await EventLogStagesAsync(platform, succeeded);
        var result = new EndToEndResult(
            clients, Math.Round(wall.TotalSeconds, 1), samples.Count, succeeded.Count, Math.Round(succeeded.Count / wall.TotalSeconds, 1),
            samples.Count - succeeded.Count, run.Errors.Take(5).ToList(),
            succeeded.Count(s => s.EndedBeforeSubscribing),
            overall.Summary(), byKind.Select(k => k.Summary()).ToList(), stages.Select(s => s.Summary()).ToList(),
            postgresStages.Select(s => s.Summary()).ToList(),
            [rabbitOne.Latencies.Summary(), rabbitMany.Latencies.Summary(), postgresOne.Latencies.Summary(), postgresMany.Latencies.Summary()],
            Math.Round(rabbitMany.PerSecond), Math.Round(postgresMany.PerSecond), cores);
        Console.WriteLine($"{result.CommandsSucceeded} commands in {result.WallSeconds} s: {result.CommandsPerSecond}/s; "
            + $"p50 {overall.Percentile(50):0.#} ms, p99 {overall.Percentile(99):0.#} ms; errors {result.Errors}");
        foreach (var error in result.FirstErrors)
        {
            Console.WriteLine($"  error: {error}");
        }


        await using var data = NpgsqlDataSource.Create(BenchArgs.Postgres);
        var machine = await Machine.DescribeAsync(data);
        await Latencies.WriteCdfSvgAsync(Path.Combine(output, "e2e-latency.svg"),
            $"Mutation → operation ended on the subscription, {clients} clients, vs raw baselines",
            [overall, rabbitOne.Latencies, postgresOne.Latencies]);
        await Report.WriteAsync(output, "e2e", machine, result, Markdown(machine, result, overall, rabbitOne, postgresOne));
        return 0;
    }

    private sealed record Sample(string Kind, double Milliseconds, string? Error, bool EndedBeforeSubscribing, JsonNode? Operation, DateTimeOffset SentAt, DateTimeOffset ReceivedAt);

    /// <summary>The clients' shared state: the command budget, and what they measured.</summary>
    private sealed class Run(BenchPlatform platform, int commandBudget)
    {
        private int _commandsLeft = commandBudget;
        private int _vmNumber;

        public ConcurrentQueue<Sample> Samples { get; } = new();
        public ConcurrentQueue<string> Errors { get; } = new();

        /// <summary>One client: its own websocket; whole cycles until the time is up (at least one), each VM its own.</summary>
        public async Task ClientAsync(int client, TimeSpan duration, bool record)
        {
            var until = Stopwatch.GetTimestamp() + (long)(duration.TotalSeconds * Stopwatch.Frequency);
            await using var socket = await GraphQLSubscriptionClient.ConnectAsync(platform.GraphQLEndpoint);
            var subscription = 0;
            do
            {
                string? vmId = null;
                foreach (var (kind, mutation) in Cycle)
                {
                    if (record && (Stopwatch.GetTimestamp() > until || Interlocked.Decrement(ref _commandsLeft) < 0))
                    {
                        return;
                    }

                    object variables = kind == "createVm"
                        ? new { input = new { name = $"bench-{client}-{Interlocked.Increment(ref _vmNumber)}", vcpus = 1, memoryMiB = 64 } }
                        : new { id = vmId };
                    var sample = await CommandAsync(socket, $"{client}-{++subscription}", kind, mutation, variables);
                    if (record)
                    {
                        Samples.Enqueue(sample);
                        if (sample.Error is not null && Errors.Count < 50)
                        {
                            Errors.Enqueue($"{kind}: {sample.Error}");
                        }
                    }

                    if (sample.Error is not null)
                    {
                        // The VM is left as it is; the client starts over with a new one.
                        break;
                    }

                    vmId ??= sample.Operation?["vmId"]?.GetValue<string>();
                }
            }
            while (record && Stopwatch.GetTimestamp() < until);
        }

        private async Task<Sample> CommandAsync(GraphQLSubscriptionClient socket, string subscriptionId, string kind, string mutation, object variables)
        {
            var sentAt = DateTimeOffset.UtcNow;
            var started = Stopwatch.GetTimestamp();
            try
            {
                var answer = await platform.Api.SendAsync(mutation, variables);
                if (answer["errors"] is JsonArray { Count: > 0 } errors)
                {
                    return Failed(errors[0]?["message"]?.GetValue<string>() ?? errors.ToJsonString());
                }

                var operationId = answer["data"]![kind]!["operation"]!["id"]!.GetValue<string>();
                await socket.SubscribeAsync(subscriptionId, OperationSubscription, new { id = operationId });
                var updates = await socket.ReadUntilAsync(subscriptionId, d => IsFinal(d["operationUpdated"]!), TimeSpan.FromSeconds(120));
                var milliseconds = Stopwatch.GetElapsedTime(started).TotalMilliseconds;
                var operation = updates[^1]["operationUpdated"]!;
                operation["vmId"] = kind == "createVm" ? answer["data"]![kind]!["vm"]!["id"]!.GetValue<string>() : null;
                var status = operation["status"]!.GetValue<string>();
                return new Sample(kind, milliseconds,
                    status == "SUCCEEDED" ? null : $"operation {status}: {operation["error"]?["message"]?.GetValue<string>()}",
                    updates.Count == 1, operation, sentAt, DateTimeOffset.UtcNow);
            }
            catch (Exception ex) when (ex is TimeoutException or InvalidOperationException or HttpRequestException or TaskCanceledException)
            {
                return Failed($"{ex.GetType().Name}: {ex.Message}");
            }

            Sample Failed(string error) =>
                new(kind, Stopwatch.GetElapsedTime(started).TotalMilliseconds, error, false, null, sentAt, DateTimeOffset.UtcNow);
        }

        private static bool IsFinal(JsonNode operation) => operation["status"]!.GetValue<string>() is "SUCCEEDED" or "FAILED" or "TIMED_OUT";
    }

    /// <summary>
    /// Where a command's time goes, from the timestamps its operation carries (one machine, one clock): the client's send;
    /// requested (the control plane decided, before its commit); accepted (the control plane recorded the agent's
    /// "started" report); finished (the agent's own clock when libvirt was done); and the subscription message's receipt.
    /// </summary>
    private static List<Latencies> Stages(List<Sample> samples)
    {
        double Ms(DateTimeOffset from, DateTimeOffset to) => (to - from).TotalMilliseconds;
        DateTimeOffset At(Sample s, string field) => DateTimeOffset.Parse(s.Operation![field]!.GetValue<string>(), CultureInfo.InvariantCulture);
        var timed = samples.Where(s => s.Operation?["acceptedByHostAt"] is not null && s.Operation["finishedAt"] is not null).ToList();
        return
        [
            new("send → requested (HTTP, decide)", timed.Select(s => Ms(s.SentAt, At(s, "startedAt")))),
            new("requested → host accepted (commit, dispatch, RabbitMQ, agent, report back)", timed.Select(s => Ms(At(s, "startedAt"), At(s, "acceptedByHostAt")))),
            new("host accepted → host finished (libvirt)", timed.Select(s => Ms(At(s, "acceptedByHostAt"), At(s, "finishedAt")))),
            new("host finished → received (report, commit, change feed, socket)", timed.Select(s => Ms(At(s, "finishedAt"), s.ReceivedAt))),
        ];
    }

    /// <summary>
    /// The two hops through the async daemon, from the event log and the processes' own log lines. Each event's timestamp
    /// is PostgreSQL's <c>now()</c> in the transaction that appended it; the control plane logs when it dispatched an
    /// operation and the agent when it began to run it (text logs, ms resolution; only the last few hundred lines are
    /// kept, so these cover the run's last commands).
    /// </summary>
    private static async Task<List<Latencies>> EventLogStagesAsync(BenchPlatform platform, List<Sample> samples)
    {
        await using var data = NpgsqlDataSource.Create(TestServices.Postgres);
        await using var command = data.CreateCommand($"""
            SELECT data->>'operationId', type, timestamp FROM "{platform.Schema}".mt_events
            WHERE type IN ('vm.operation-requested.v1', 'vm.operation-started.v1', 'vm.operation-succeeded.v1')
            """);
        var events = new Dictionary<string, Dictionary<string, DateTime>>();
        await using (var reader = await command.ExecuteReaderAsync())
        {
            while (await reader.ReadAsync())
            {
                if (!reader.IsDBNull(0))
                {
                    var operation = events.TryGetValue(reader.GetString(0), out var found) ? found : events[reader.GetString(0)] = [];
                    operation[reader.GetString(1).Split('.')[1]] = reader.GetDateTime(2).ToLocalTime();
                }
            }
        }

        var dispatched = LoggedTimes(platform.ControlPlane.Output, "Dispatched");
        var running = LoggedTimes(platform.Agent.Output, "Running");
        var received = samples.Where(s => s.Operation?["id"] is not null)
            .ToDictionary(s => s.Operation!["id"]!.GetValue<string>(), s => s.ReceivedAt.LocalDateTime);
        List<double> Between(string from, string to, IReadOnlyDictionary<string, DateTime>? fromLog = null, IReadOnlyDictionary<string, DateTime>? toLog = null) =>
            [.. events.Where(e => (fromLog is null ? e.Value.ContainsKey(from) : fromLog.ContainsKey(e.Key)) && (toLog is null ? e.Value.ContainsKey(to) : toLog.ContainsKey(e.Key)))
                .Select(e => TimeOfDayMs((fromLog?[e.Key] ?? e.Value[from]), toLog?[e.Key] ?? e.Value[to]))
                .Where(ms => Math.Abs(ms) < 3_600_000)];
        return
        [
            new("log: requested → started (event to event)", Between("operation-requested", "operation-started")),
            new("log: started → succeeded (event to event)", Between("operation-started", "operation-succeeded")),
            new("log: requested → dispatched (commit, async daemon, dispatcher)", Between("operation-requested", "", toLog: dispatched)),
            new("log: dispatched → agent running (RabbitMQ)", Between("", "", dispatched, running)),
            new("log: succeeded → received (commit, async daemon, change feed, socket)", Between("operation-succeeded", "", toLog: received)),
        ];
    }

    /// <summary>Operation id → the time of day of the log line <c>[HH:mm:ss.fff INF] … {verb} … operation {id}</c>.</summary>
    private static Dictionary<string, DateTime> LoggedTimes(string output, string verb)
    {
        var times = new Dictionary<string, DateTime>();
        var pattern = new System.Text.RegularExpressions.Regex(
            $@"^\[(\d\d:\d\d:\d\d\.\d\d\d) INF\].* {verb} \w+ operation ([0-9a-f-]{{36}})");
        foreach (var line in output.Split('\n'))
        {
            if (pattern.Match(line) is { Success: true } match)
            {
                times.TryAdd(match.Groups[2].Value, DateTime.Today + TimeSpan.Parse(match.Groups[1].Value, CultureInfo.InvariantCulture));
            }
        }

        return times;
    }

    /// <summary>Milliseconds between two local times, by their time of day (log lines carry no date).</summary>
    private static double TimeOfDayMs(DateTime from, DateTime to) => (to.TimeOfDay - from.TimeOfDay).TotalMilliseconds;

    private static string Markdown(MachineInfo machine, EndToEndResult r, Latencies overall, BaselineRun rabbit, BaselineRun postgres)
    {
        string F(double v) => v.ToString("0.##", CultureInfo.InvariantCulture);
        var md = new StringBuilder();
        md.AppendLine("# End to end: mutation → operation ended on the subscription").AppendLine();
        md.AppendLine(machine.ToMarkdown()).AppendLine();
        md.Append(CultureInfo.InvariantCulture,
            $"{r.Clients} clients, each on its own graphql-transport-ws socket, looping createVm → startVm → stopVm → deleteVm for {F(r.WallSeconds)} s ");
        md.AppendLine("against the control plane and one agent (separate processes, libvirt's test driver behind a private libvirtd). "
            + "Latency: from sending the mutation (HTTP) to receiving the operationUpdated message with the operation's final state.").AppendLine();
        md.AppendLine("| figure | measured | aim | baseline (same run) | ratio |").AppendLine("|---|---:|---:|---|---:|");
        md.AppendLine(CultureInfo.InvariantCulture,
            $"| p99, all commands | {F(r.Overall.P99Ms)} ms | ≤ 50 ms | RabbitMQ round-trip p99 {F(rabbit.Latencies.Percentile(99))} ms; PostgreSQL commit p99 {F(postgres.Latencies.Percentile(99))} ms | {F(r.Overall.P99Ms / rabbit.Latencies.Percentile(99))}× RTT, {F(r.Overall.P99Ms / postgres.Latencies.Percentile(99))}× commit |");
        md.AppendLine(CultureInfo.InvariantCulture,
            $"| p50, all commands | {F(r.Overall.P50Ms)} ms | | RabbitMQ round-trip p50 {F(rabbit.Latencies.Percentile(50))} ms; PostgreSQL commit p50 {F(postgres.Latencies.Percentile(50))} ms | {F(r.Overall.P50Ms / rabbit.Latencies.Percentile(50))}× RTT, {F(r.Overall.P50Ms / postgres.Latencies.Percentile(50))}× commit |");
        md.AppendLine(CultureInfo.InvariantCulture,
            $"| sustained commands/s | {F(r.CommandsPerSecond)} | ≥ 1,000 | raw RabbitMQ round-trips/s with {r.Clients} requesters {F(r.RabbitRoundTripsPerSecond)}; raw PostgreSQL commits/s with {Math.Min(r.Clients, 32)} writers {F(r.PostgresCommitsPerSecond)} | {F(r.CommandsPerSecond / r.RabbitRoundTripsPerSecond)}× RTT/s, {F(r.CommandsPerSecond / r.PostgresCommitsPerSecond)}× commits/s |");
        md.AppendLine();
        md.Append(CultureInfo.InvariantCulture, $"Commands: {r.Commands} sent, {r.CommandsSucceeded} succeeded, {r.Errors} errors. ");
        md.AppendLine(CultureInfo.InvariantCulture,
            $"{r.EndedBeforeSubscribing} of the succeeded commands had ended before their subscription was registered (one message only).").AppendLine();
        if (r.FirstErrors.Count > 0)
        {
            md.AppendLine("First errors:").AppendLine();
            foreach (var error in r.FirstErrors)
            {
                md.AppendLine(CultureInfo.InvariantCulture, $"- {error.ReplaceLineEndings(" ")}");
            }

            md.AppendLine();
        }

        md.AppendLine("## Latency per command kind, and the baselines").AppendLine();
        md.AppendLine(LatencySummary.MarkdownHeader);
        foreach (var row in new[] { r.Overall }.Concat(r.ByKind).Concat(r.Baselines))
        {
            md.AppendLine(row.ToMarkdownRow());
        }

        md.AppendLine().AppendLine("## Where the time goes").AppendLine();
        md.AppendLine("From the timestamps each operation carries (all on one machine's clock), and from the event log's own timestamps "
            + "(PostgreSQL's now() of each appending transaction):").AppendLine();
        md.AppendLine(LatencySummary.MarkdownHeader);
        foreach (var row in r.Stages.Concat(r.EventLogStages))
        {
            md.AppendLine(row.ToMarkdownRow());
        }

        md.AppendLine().AppendLine(CultureInfo.InvariantCulture,
            $"CPU while measuring, in cores busy on average (of {machine.Cores}): {string.Join(", ", r.CpuCores.Select(c => $"{c.Key} {F(c.Value)}"))}.");
        md.AppendLine().AppendLine("Plot: `e2e-latency.svg` (CDF of the end-to-end latency and of the one-client baselines).");
        return md.ToString();
    }
}

public sealed record EndToEndResult(
    int Clients, double WallSeconds, int Commands, int CommandsSucceeded, double CommandsPerSecond, int Errors, IReadOnlyList<string> FirstErrors,
    int EndedBeforeSubscribing, LatencySummary Overall, IReadOnlyList<LatencySummary> ByKind, IReadOnlyList<LatencySummary> Stages,
    IReadOnlyList<LatencySummary> EventLogStages, IReadOnlyList<LatencySummary> Baselines, double RabbitRoundTripsPerSecond,
    double PostgresCommitsPerSecond, IReadOnlyDictionary<string, double> CpuCores);
