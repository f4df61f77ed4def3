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
/// Subscription fan-out: C graphql-transport-ws clients, each on its own socket, subscribe to <c>vmChanged</c> without an
/// id — every VM's changes, as a fleet dashboard's VM list would — on the real control plane (<see cref="BenchPlatform"/>).
/// Then one VM is started or stopped, a few rounds in turn. Each client's latency runs from the change's own timestamp
/// (the VM's <c>updatedAt</c> in the message: PostgreSQL's <c>now()</c> in the transaction that recorded the request,
/// which commits right after; same machine, same clock) to the client's receipt of that message. The baseline, measured
/// in the same run, is the same change delivered to a single subscriber. Writes subscriptions.md, subscriptions.json
/// and subscriptions-latency.svg.
/// </summary>
public static class SubscriptionsScenario
{
    private const string Dashboard =
        "subscription { vmChanged { id name powerState desiredPowerState version updatedAt currentOperation { id kind status } } }";

    private const int ConnectParallelism = 100;

    public static async Task<int> RunAsync(string[] args)
    {
        var options = new BenchArgs(args);
        var sizes = (options.String("--clients") ?? "1000,10000").Split(',').Select(c => int.Parse(c, CultureInfo.InvariantCulture)).ToList();
        var rounds = options.Int("--rounds", 5);
        var output = options.OutputFolder();

        Console.WriteLine("starting the control plane and the agent...");
        await using var platform = await BenchPlatform.StartAsync();
        var vmId = await platform.CreateVmAsync("bench-dashboard-vm", start: false);
        var results = new List<FanOutResult>();
        var series = new List<Latencies>();
        foreach (var clients in new[] { 1 }.Concat(sizes))
        {
            var (result, latencies) = await FanOutAsync(platform, vmId, clients, rounds);
            results.Add(result);
            series.Add(latencies);
        }

        await using var data = NpgsqlDataSource.Create(BenchArgs.Postgres);
        var machine = await Machine.DescribeAsync(data);
        await Latencies.WriteCdfSvgAsync(Path.Combine(output, "subscriptions-latency.svg"),
            "Change committed → vmChanged message received, per subscriber", series);
        await Report.WriteAsync(output, "subscriptions", machine, results, Markdown(machine, results, rounds));
        return 0;
    }

    private static async Task<(FanOutResult, Latencies)> FanOutAsync(BenchPlatform platform, string vmId, int count, int rounds)
    {
        Console.WriteLine($"{count} clients: connecting and subscribing...");
        var clock = Stopwatch.StartNew();
        var clients = new Subscriber?[count];
        var connectErrors = new ConcurrentQueue<string>();
        using (var gate = new SemaphoreSlim(ConnectParallelism))
        {
            await Task.WhenAll(Enumerable.Range(0, count).Select(async i =>
            {
                await gate.WaitAsync();
                try
                {
                    clients[i] = await Subscriber.ConnectAsync(platform.GraphQLEndpoint);
                }
                catch (Exception ex) when (ex is System.Net.WebSockets.WebSocketException or InvalidOperationException or TimeoutException
                    or OperationCanceledException or IOException)
                {
                    connectErrors.Enqueue($"{ex.GetType().Name}: {ex.Message}");
                }
                finally
                {
                    gate.Release();
                }
            }));
        }

        var connected = clients.OfType<Subscriber>().ToList();
        var connectSeconds = clock.Elapsed.TotalSeconds;

        // graphql-transport-ws does not acknowledge a subscribe: a first change, not measured, shows every subscription live.
        await ChangeAsync(platform, vmId, connected);
        var confirmedSeconds = clock.Elapsed.TotalSeconds;
        var confirmed = connected.Count(c => c.Received.Count > 0);
        Console.WriteLine($"{connected.Count} connected in {connectSeconds:0.0} s, {confirmed} subscriptions live after {confirmedSeconds:0.0} s");

        var cpu = new CpuUsage(("control plane", platform.ControlPlane.Id), ("bench clients", Environment.ProcessId));
        var roundResults = new List<RoundResult>();
        var all = new List<double>();
        for (var round = 1; round <= rounds; round++)
        {
            var change = await ChangeAsync(platform, vmId, connected);
            var latencies = connected.Select(c => c.LatencyOf(change.Version)).OfType<double>().ToList();
            all.AddRange(latencies);
            var summary = new Latencies($"round {round}", latencies).Summary();
            roundResults.Add(new RoundResult(round, change.Mutation, Math.Round(latencies.DefaultIfEmpty(double.NaN).Min(), 2), summary,
                connected.Count - latencies.Count, Math.Round(change.AnsweredAfterChangeMs, 1)));
            Console.WriteLine($"  round {round} ({change.Mutation}): p50 {summary.P50Ms:0.#} ms, p99 {summary.P99Ms:0.#} ms, max {summary.MaxMs:0.#} ms, "
                + $"missing {connected.Count - latencies.Count}");
        }

        var cores = cpu.Cores();
        var errors = connected.SelectMany(c => c.Errors).Concat(connectErrors).Take(5).ToList();
        var total = new Latencies($"{count} subscriber(s)", all);
        clock.Restart();
        using (var gate = new SemaphoreSlim(ConnectParallelism))
        {
            await Task.WhenAll(connected.Select(async c =>
            {
                await gate.WaitAsync();
                try
                {
                    await c.DisposeAsync();
                }
                finally
                {
                    gate.Release();
                }
            }));
        }

        Console.WriteLine($"{count} clients closed in {clock.Elapsed.TotalSeconds:0.0} s");
        return (new FanOutResult(count, connected.Count, connectErrors.Count, Math.Round(connectSeconds, 1), confirmed, Math.Round(confirmedSeconds, 1),
            total.Summary(), roundResults.Sum(r => r.Missing), roundResults, errors, cores), total);
    }

    private sealed record Change(string Mutation, long Version, double AnsweredAfterChangeMs);

    /// <summary>
    /// Starts the VM if it is stopped, stops it otherwise; waits until its operation has ended and every subscriber has
    /// received the VM's final version (or a minute has passed). Returns the version the request created.
    /// </summary>
    private static async Task<Change> ChangeAsync(BenchPlatform platform, string vmId, IReadOnlyList<Subscriber> subscribers)
    {
        var state = (await platform.Api.DataAsync("query($id: ID!) { vm(id: $id) { powerState } }", new { id = vmId }))["vm"]!;
        var mutation = state["powerState"]!.GetValue<string>() == "STOPPED" ? "startVm" : "stopVm";
        var answer = (await platform.Api.DataAsync(
            $"mutation($id: ID!) {{ {mutation}(id: $id) {{ operation {{ id }} vm {{ version updatedAt }} }} }}", new { id = vmId }))[mutation]!;
        var answeredAt = DateTimeOffset.UtcNow;
        var version = answer["vm"]!["version"]!.GetValue<long>();
        var changedAt = DateTimeOffset.Parse(answer["vm"]!["updatedAt"]!.GetValue<string>(), CultureInfo.InvariantCulture);
        var operationId = answer["operation"]!["id"]!.GetValue<string>();

        var deadline = DateTime.UtcNow.AddMinutes(1);
        long finalVersion = 0;
        while (DateTime.UtcNow < deadline)
        {
            var now = (await platform.Api.DataAsync(
                "query($id: ID!, $vm: ID!) { operation(id: $id) { status } vm(id: $vm) { version } }", new { id = operationId, vm = vmId }))!;
            if (now["operation"]!["status"]!.GetValue<string>() is not ("PENDING" or "RUNNING"))
            {
                finalVersion = now["vm"]!["version"]!.GetValue<long>();
                break;
            }

            await Task.Delay(50);
        }

        while (DateTime.UtcNow < deadline && subscribers.Any(s => s.HighestVersion < finalVersion))
        {
            await Task.Delay(50);
        }

        return new Change(mutation, version, (answeredAt - changedAt).TotalMilliseconds);
    }

    /// <summary>One dashboard: its socket, its subscription, and when each VM version arrived.</summary>
    private sealed class Subscriber : IAsyncDisposable
    {
        private readonly GraphQLSubscriptionClient _client;
        private readonly Task _reader;
        private long _highestVersion;

        private Subscriber(GraphQLSubscriptionClient client)
        {
            _client = client;
            _reader = ReadAsync();
        }

        /// <summary>Version → (the change's own timestamp, when the message arrived), for the first message of each version.</summary>
        public ConcurrentDictionary<long, (DateTimeOffset ChangedAt, DateTimeOffset ReceivedAt)> Received { get; } = new();

        public ConcurrentQueue<string> Errors { get; } = new();

        public long HighestVersion => Interlocked.Read(ref _highestVersion);

        public static async Task<Subscriber> ConnectAsync(Uri endpoint)
        {
            var client = await GraphQLSubscriptionClient.ConnectAsync(endpoint);
            await client.SubscribeAsync("dashboard", Dashboard);
            return new Subscriber(client);
        }

        public double? LatencyOf(long version) =>
            Received.TryGetValue(version, out var times) ? (times.ReceivedAt - times.ChangedAt).TotalMilliseconds : null;

        public async ValueTask DisposeAsync()
        {
            await _client.DisposeAsync();
            await _reader;
        }

        private async Task ReadAsync()
        {
            while (true)
            {
                JsonNode message;
                try
                {
                    message = await _client.NextMessageAsync(TimeSpan.FromHours(1));
                }
                catch (Exception ex) when (ex is InvalidOperationException or TimeoutException)
                {
                    return;
                }

                var receivedAt = DateTimeOffset.UtcNow;
                if (message["type"]?.GetValue<string>() != "next" || message["payload"]?["data"]?["vmChanged"] is not { } vm)
                {
                    Errors.Enqueue(message.ToJsonString());
                    continue;
                }

                var version = vm["version"]!.GetValue<long>();
                Received.TryAdd(version, (DateTimeOffset.Parse(vm["updatedAt"]!.GetValue<string>(), CultureInfo.InvariantCulture), receivedAt));
                if (version > HighestVersion)
                {
                    Interlocked.Exchange(ref _highestVersion, version);
                }
            }
        }
    }

    private static string Markdown(MachineInfo machine, List<FanOutResult> results, int rounds)
    {
        string F(double v) => v.ToString("0.##", CultureInfo.InvariantCulture);
        var baseline = results[0].Overall;
        var md = new StringBuilder();
        md.AppendLine("# Subscription fan-out: one change, C subscribers").AppendLine();
        md.AppendLine(machine.ToMarkdown()).AppendLine();
        md.AppendLine("Each client opens its own graphql-transport-ws socket to the control plane and subscribes to `vmChanged` (all VMs, as a "
            + "fleet dashboard does). One VM is then started or stopped in turn; latency runs from the change's timestamp (the recorded "
            + "request's transaction in PostgreSQL, on the same clock) to each client's receipt of the message with that VM version. "
            + "The baseline is the same change delivered to one subscriber, measured in the same run.").AppendLine();
        md.AppendLine(CultureInfo.InvariantCulture, $"| subscribers | connected | connect + subscribe (s) | live after (s) | samples ({rounds} rounds) | p50 (ms) | p95 (ms) | p99 (ms) | max (ms) | missing | p99 / one subscriber's p99 | aim |");
        md.AppendLine("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|");
        foreach (var r in results)
        {
            md.AppendLine(CultureInfo.InvariantCulture,
                $"| {r.Clients} | {r.Connected} | {F(r.ConnectSeconds)} | {F(r.LiveAfterSeconds)} | {r.Overall.Count} | {F(r.Overall.P50Ms)} | {F(r.Overall.P95Ms)} | {F(r.Overall.P99Ms)} | {F(r.Overall.MaxMs)} | {r.Missing} | {F(r.Overall.P99Ms / baseline.P99Ms)} | {(r.Clients == 10_000 ? "p99 ≤ 100 ms" : "")} |");
        }

        md.AppendLine().AppendLine("## Per round").AppendLine();
        md.AppendLine("The first subscriber's latency is the change feed's own delay (commit, async daemon, folding the VM); "
            + "from there to the last subscriber is the fan-out's cost.").AppendLine();
        md.AppendLine("| subscribers | round | change | first (ms) | p50 (ms) | p99 (ms) | max (ms) | last − first (ms) | missing | mutation answered after the change (ms) |");
        md.AppendLine("|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|");
        foreach (var r in results)
        {
            foreach (var round in r.Rounds)
            {
                md.AppendLine(CultureInfo.InvariantCulture,
                    $"| {r.Clients} | {round.Round} | {round.Mutation} | {F(round.FirstMs)} | {F(round.Latency.P50Ms)} | {F(round.Latency.P99Ms)} | {F(round.Latency.MaxMs)} | {F(round.Latency.MaxMs - round.FirstMs)} | {round.Missing} | {F(round.AnsweredAfterChangeMs)} |");
            }
        }

        md.AppendLine().AppendLine("CPU during the measured rounds, in cores busy on average (of " + machine.Cores + "):").AppendLine();
        foreach (var r in results)
        {
            md.AppendLine(CultureInfo.InvariantCulture, $"- {r.Clients} subscribers: {string.Join(", ", r.CpuCores.Select(c => $"{c.Key} {F(c.Value)}"))}");
        }

        foreach (var r in results.Where(r => r.FirstErrors.Count > 0 || r.ConnectErrors > 0))
        {
            md.AppendLine().AppendLine(CultureInfo.InvariantCulture, $"{r.Clients} subscribers: {r.ConnectErrors} failed to connect; first errors:").AppendLine();
            foreach (var error in r.FirstErrors)
            {
                md.AppendLine(CultureInfo.InvariantCulture, $"- {error.ReplaceLineEndings(" ")}");
            }
        }

        md.AppendLine().AppendLine("Plot: `subscriptions-latency.svg` (CDF per number of subscribers, all rounds).");
        return md.ToString();
    }
}

/// <summary>One change: when its first subscriber had it (the change feed's own delay), and the spread over all of them (the fan-out).</summary>
public sealed record RoundResult(int Round, string Mutation, double FirstMs, LatencySummary Latency, int Missing, double AnsweredAfterChangeMs);

public sealed record FanOutResult(
    int Clients, int Connected, int ConnectErrors, double ConnectSeconds, int LiveSubscriptions, double LiveAfterSeconds, LatencySummary Overall,
    int Missing, IReadOnlyList<RoundResult> Rounds, IReadOnlyList<string> FirstErrors, IReadOnlyDictionary<string, double> CpuCores);
