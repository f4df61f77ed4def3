using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Text;
using Npgsql;
using Quantixkvm.Bench.Platform;
using Quantixkvm.Bench.Reporting;
using Quantixkvm.Contracts;

namespace Quantixkvm.Bench.Scale;

/// <summary>
/// How far one control plane scales: for K = 100, 1,000, 10,000 simulated hosts (real agents in one simulator process,
/// bench/Quantixkvm.FleetSim), each step on a fresh control plane: wait until every host is ONLINE, create
/// K × vms-per-host VMs through the GraphQL API (placement chooses the host, the host's agent defines the domain in its
/// own test driver; every other VM is started), then hold still for a window and measure the control plane's CPU and
/// memory, heartbeats published against consumed, the broker's queue depths, how far the async daemon trails the log,
/// and how long a silenced host takes to be noticed. Steps run in increasing K and stop at the first that breaks.
/// Baselines: the same control plane idle before any host (memory, CPU), and the heartbeats the hosts published.
/// Writes scale.md, scale.json and scale-create.svg (create latencies) into the results folder.
/// </summary>
public static class ScaleScenario
{
    private const string CreateVm = "mutation($input: CreateVmInput!) { createVm(input: $input) { operation { id } } }";

    public static async Task<int> RunAsync(string[] args)
    {
        var options = new BenchArgs(args);
        var settings = new ScaleSettings(
            (options.String("--hosts") ?? "100,1000,10000").Split(',').Select(s => int.Parse(s, CultureInfo.InvariantCulture)).ToList(),
            options.Int("--vms-per-host", 10),
            double.Parse(options.String("--heartbeat-seconds") ?? "10", CultureInfo.InvariantCulture),
            options.Int("--window-seconds", 60),
            options.Int("--create-seconds", 600),
            options.Int("--clients", 8),
            options.Int("--hosts-per-connection", 1000));
        var output = options.OutputFolder();
        await using var data = NpgsqlDataSource.Create(BenchArgs.Postgres);
        var steps = new List<ScaleStep>();
        var latencies = new List<Latencies>();
        foreach (var hosts in settings.Hosts)
        {
            Console.WriteLine($"--- {hosts} hosts, {hosts * settings.VmsPerHost} VMs ---");
            var (step, created) = await RunStepAsync(settings, hosts, data, output);
            steps.Add(step);
            latencies.Add(created);
            Console.WriteLine(step.Summary());
            if (step.BrokeBecause is not null && !options.Flag("--keep-going"))
            {
                Console.WriteLine($"broke at {hosts} hosts: {step.BrokeBecause}");
                break;
            }
        }

        await Latencies.WriteCdfSvgAsync(Path.Combine(output, "scale-create.svg"), "createVm: request to SUCCEEDED, by fleet size", latencies);
        var machine = await Machine.DescribeAsync(data);
        await Report.WriteAsync(output, "scale", machine, new { settings, steps }, Markdown(machine, settings, steps));
        return 0;
    }

    private static async Task<(ScaleStep Step, Latencies Created)> RunStepAsync(ScaleSettings settings, int hosts, NpgsqlDataSource data, string output)
    {
        await using var platform = await ScalePlatform.StartAsync(settings.HeartbeatSeconds * 3, operationTimeoutSeconds: 300);
        var schema = new SchemaProbe(data, platform.Schema);
        using var broker = new BrokerProbe(platform.VirtualHost);
        var folder = Path.Combine(Path.GetTempPath(), $"qkvm-scale-{platform.VirtualHost}");
        await using var sampler = new Sampler(platform.ControlPlanePid, schema, broker);

        // Baseline: the same control plane before any host, after its start-up has settled.
        sampler.Phase = "idle";
        await Task.Delay(TimeSpan.FromSeconds(10));
        var idle = sampler.Window("idle");

        var vms = hosts * settings.VmsPerHost;
        var step = new ScaleStep { Hosts = hosts, VmsRequested = vms, Idle = idle };
        FleetProcess? fleet = null;
        try
        {
            // Registration: every host's reporter started, then every host ONLINE in the control plane's read model.
            sampler.Phase = "registration";
            Console.WriteLine($"{DateTime.UtcNow:HH:mm:ss} registration");
            var clock = Stopwatch.StartNew();
            fleet = FleetProcess.Start(platform.VirtualHost, hosts, settings.HeartbeatSeconds, folder, settings.HostsPerConnection);
            sampler.FleetPid = fleet.Pid;
            await fleet.WaitReadyAsync(TimeSpan.FromSeconds(120 + hosts / 20.0));
            step.FleetReadySeconds = clock.Elapsed.TotalSeconds;
            var onlineBy = DateTime.UtcNow.AddSeconds(120 + hosts / 50.0);
            while (await schema.OnlineHostsAsync() < hosts)
            {
                if (DateTime.UtcNow > onlineBy || platform.ControlPlane!.HasExited || fleet.HasExited)
                {
                    step.BrokeBecause = $"only {await schema.OnlineHostsAsync()} of {hosts} hosts were ONLINE {clock.Elapsed.TotalSeconds:0} s after the start"
                        + (platform.ControlPlane!.HasExited ? " (the control plane died)" : fleet.HasExited ? " (the simulator died)" : "");
                    step.Registration = sampler.Window("registration");
                    return (step, new Latencies($"{hosts} hosts", []));
                }

                await Task.Delay(500);
            }

            step.AllOnlineSeconds = clock.Elapsed.TotalSeconds;
            step.Registration = sampler.Window("registration");
            sampler.Phase = "hosts";
            Console.WriteLine($"{DateTime.UtcNow:HH:mm:ss} hosts");
            await Task.Delay(TimeSpan.FromSeconds(Math.Max(10, settings.HeartbeatSeconds)));
            step.WithHosts = sampler.Window("hosts");

            // Creates through the real command path, as many clients at once as asked.
            sampler.Phase = "create";
            Console.WriteLine($"{DateTime.UtcNow:HH:mm:ss} create");
            var created = await CreateVmsAsync(platform, schema, step, vms, settings);
            step.Create = sampler.Window("create");

            // Hold still: heartbeats, inventories and the periodic scans are all that runs.
            sampler.Phase = "steady";
            Console.WriteLine($"{DateTime.UtcNow:HH:mm:ss} steady");
            await Task.Delay(TimeSpan.FromSeconds(settings.WindowSeconds));
            step.Steady = sampler.Window("steady");
            step.RssPerHostKiB = Math.Round((step.WithHosts.RssMiB - idle.RssMiB) * 1024 / hosts, 1);
            step.RssPerVmKiB = step.VmsCreated == 0 ? null : Math.Round((step.Steady.RssMiB - step.WithHosts.RssMiB) * 1024 / step.VmsCreated, 1);

            // A host dies (its heartbeats stop): how long until the control plane records it UNREACHABLE.
            sampler.Phase = "death";
            Console.WriteLine($"{DateTime.UtcNow:HH:mm:ss} death");
            const string victim = "sim-00000";
            await fleet.SilenceAsync(victim);
            clock.Restart();
            var noticedBy = DateTime.UtcNow.AddSeconds(settings.HeartbeatSeconds * 3 + 60);
            while (DateTime.UtcNow < noticedBy && await schema.HostStatusAsync(victim, "Unreachable") == 0)
            {
                await Task.Delay(200);
            }

            step.DeathNoticedSeconds = DateTime.UtcNow < noticedBy ? Math.Round(clock.Elapsed.TotalSeconds, 1) : null;
            step.BrokeBecause = Verdict(step, hosts, settings.HeartbeatSeconds, platform, fleet);
            step.Evidence = Evidence(step.Steady);
            step.Samples = sampler.Samples;
            return (step, created);
        }
        finally
        {
            step.Samples = sampler.Samples;
            if (fleet is not null)
            {
                await fleet.DisposeAsync();
            }

            try
            {
                Directory.Delete(folder, recursive: true);
            }
            catch (IOException)
            {
                // A leftover temp folder is no failure of the bench.
            }
        }
    }

    /// <summary>Creates the VMs with concurrent clients within the create budget, and waits for their operations to end.</summary>
    private static async Task<Latencies> CreateVmsAsync(ScalePlatform platform, SchemaProbe schema, ScaleStep step, int vms, ScaleSettings settings)
    {
        var sent = new ConcurrentDictionary<Guid, DateTimeOffset>();
        var accepted = new ConcurrentBag<double>();
        var failures = 0;
        string? firstError = null;
        var next = -1;
        var clock = Stopwatch.StartNew();
        var budget = TimeSpan.FromSeconds(settings.CreateSeconds);
        var clients = Enumerable.Range(0, settings.Clients).Select(_ => Task.Run(async () =>
        {
            int i;
            while ((i = Interlocked.Increment(ref next)) < vms && clock.Elapsed < budget)
            {
                var at = DateTimeOffset.UtcNow;
                var watch = Stopwatch.StartNew();
                try
                {
                    var result = await platform.Api.DataAsync(CreateVm, new { input = new { name = $"vm-{i:D6}", vcpus = 1, memoryMiB = 512, start = i % 2 == 0 } });
                    accepted.Add(watch.Elapsed.TotalMilliseconds);
                    sent[Guid.Parse(result["createVm"]!["operation"]!["id"]!.GetValue<string>())] = at;
                }
                catch (Exception ex) when (ex is InvalidOperationException or HttpRequestException or TaskCanceledException)
                {
                    Interlocked.Increment(ref failures);
                    Interlocked.CompareExchange(ref firstError, ex.Message, null);
                }
            }
        })).ToList();
        await Task.WhenAll(clients);
        step.CreateRequestSeconds = Math.Round(clock.Elapsed.TotalSeconds, 1);
        step.CreateRejected = failures;
        step.CreateFirstError = firstError;

        // The last operations end a little after the last request; give them the operation deadline at most.
        var endBy = DateTime.UtcNow.AddSeconds(300);
        while (DateTime.UtcNow < endBy && await schema.EndedOperationCountAsync() < sent.Count)
        {
            await Task.Delay(500);
        }

        var ended = await schema.EndedOperationsAsync();
        step.CreateAllEndedSeconds = Math.Round(clock.Elapsed.TotalSeconds, 1);
        step.VmsCreated = sent.Keys.Count(id => ended.TryGetValue(id, out var e) && e.Status == "Succeeded");
        step.CreateFailed = sent.Keys.Count(id => ended.TryGetValue(id, out var e) && e.Status != "Succeeded");
        step.CreateNotEnded = sent.Keys.Count(id => !ended.ContainsKey(id));
        step.CreatesPerSecond = step.VmsCreated == 0 ? 0 : Math.Round(step.VmsCreated / step.CreateAllEndedSeconds, 1);
        var done = new Latencies($"{step.Hosts} hosts", sent
            .Where(s => ended.TryGetValue(s.Key, out var e) && e.FinishedAt is not null)
            .Select(s => (ended[s.Key].FinishedAt!.Value - s.Value).TotalMilliseconds));
        // Creates per second as the VMs pile up, tenth by tenth: placement reads every VM, so it slows as they grow.
        var finishes = sent.Keys.Where(id => ended.TryGetValue(id, out var e) && e.FinishedAt is not null).Select(id => ended[id].FinishedAt!.Value).Order().ToList();
        var tenth = Math.Max(10, finishes.Count / 10);
        step.CreatesPerSecondAsVmsGrow = Enumerable.Range(0, finishes.Count / tenth)
            .Select(i => (finishes[(i + 1) * tenth - 1] - finishes[i * tenth]).TotalSeconds)
            .Select(seconds => Math.Round((tenth - 1) / Math.Max(seconds, 0.001), 1)).ToList();

        // An empty series has no percentiles (NaN, which JSON cannot hold): left out.
        if (done.Count > 0)
        {
            step.CreateAccepted = new Latencies("accepted", accepted).Summary();
            step.CreateSucceeded = done.Summary();
        }

        return done;
    }

    /// <summary>Why the step counts as broken (null: it held): the issue's aims turned into limits.</summary>
    private static string? Verdict(ScaleStep step, int hosts, double heartbeatSeconds, ScalePlatform platform, FleetProcess fleet)
    {
        var steady = step.Steady!;
        var reasons = new List<string>();
        if (platform.ControlPlane!.HasExited)
        {
            reasons.Add("the control plane died");
        }

        if (fleet.HasExited)
        {
            reasons.Add("the simulator died");
        }

        if (steady.OnlineMin < hosts)
        {
            reasons.Add($"hosts fell UNREACHABLE during the window (as few as {steady.OnlineMin} of {hosts} ONLINE)");
        }

        // The broker's counters move in steps of its statistics interval (5 s), so the published/consumed rates over a
        // minute differ by a few % even when nothing waits: falling behind shows as a queue or as stale heartbeats instead.
        if (steady.HeartbeatDepthMax > hosts || steady.StalestHeartbeatSecondsMax > 2 * heartbeatSeconds)
        {
            reasons.Add($"heartbeats fell behind (up to {steady.HeartbeatDepthMax} waiting; the stalest was {steady.StalestHeartbeatSecondsMax:0.#} s old)");
        }

        if (steady.LagSecondsMax > 10)
        {
            reasons.Add($"projection lag reached {steady.LagSecondsMax:0.#} s");
        }

        if (step.VmsCreated < step.VmsRequested)
        {
            reasons.Add($"only {step.VmsCreated} of {step.VmsRequested} VMs created within the create budget");
        }

        return reasons.Count == 0 ? null : string.Join("; ", reasons);
    }

    private static string Evidence(WindowStats w) => string.Create(CultureInfo.InvariantCulture,
        $"control plane {w.CpuPercent:0}% CPU, simulator {w.FleetCpuPercent:0}%, PostgreSQL {w.PostgresCpuPercent:0}%, RabbitMQ {w.RabbitCpuPercent:0}% "
        + $"(100% = one of {Environment.ProcessorCount} cores); heartbeat queue up to {w.HeartbeatDepthMax}, hosts queue up to {w.HostsDepthMax}, "
        + $"outcomes queue up to {w.OutcomesDepthMax}; stalest heartbeat {w.StalestHeartbeatSecondsMax:0.#} s");

    private static string Markdown(MachineInfo machine, ScaleSettings settings, List<ScaleStep> steps)
    {
        var md = new StringBuilder();
        string F(double v, string format = "0.#") => double.IsNaN(v) ? "n/a" : v.ToString(format, CultureInfo.InvariantCulture);
        md.AppendLine("# Scale: one control plane, K simulated hosts");
        md.AppendLine();
        md.AppendLine(machine.ToMarkdown());
        md.AppendLine();
        md.AppendLine(string.Create(CultureInfo.InvariantCulture,
            $"Each step: a fresh control plane (own schema and vhost), K real agents in one simulator process (heartbeat every {settings.HeartbeatSeconds} s, "
            + $"host declared UNREACHABLE after {settings.HeartbeatSeconds * 3} s of silence), {settings.VmsPerHost} VMs per host created through GraphQL "
            + $"by {settings.Clients} concurrent clients (every other one started), then a {settings.WindowSeconds} s steady window. "
            + $"CPU is % of one core (the machine has {Environment.ProcessorCount}); PostgreSQL and RabbitMQ figures are all of their processes, "
            + $"shared with anything else on the machine."));
        md.AppendLine();
        md.AppendLine("| hosts | VMs created | all ONLINE after (s) | creates/s | create p50 / p99 (ms) | CP CPU steady (idle) | CP RSS MiB steady (idle) | RSS per host (KiB) | RSS per VM (KiB) | heartbeats consumed / published per s | projection lag p99 / max (s) | silenced host noticed after (s) | simulator CPU / RSS MiB | broke |");
        md.AppendLine("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|");
        foreach (var s in steps)
        {
            var w = s.Steady;
            md.AppendLine(string.Create(CultureInfo.InvariantCulture,
                $"| {s.Hosts} | {s.VmsCreated} of {s.VmsRequested} | {F(s.AllOnlineSeconds ?? double.NaN)} | {F(s.CreatesPerSecond)} | "
                + $"{F(s.CreateSucceeded?.P50Ms ?? double.NaN, "0")} / {F(s.CreateSucceeded?.P99Ms ?? double.NaN, "0")} | "
                + $"{F(w?.CpuPercent ?? double.NaN, "0")}% ({F(s.Idle.CpuPercent, "0")}%) | {F(w?.RssMiB ?? double.NaN, "0")} ({F(s.Idle.RssMiB, "0")}) | "
                + $"{F(s.RssPerHostKiB ?? double.NaN)} | {F(s.RssPerVmKiB ?? double.NaN)} | "
                + $"{F(w?.HeartbeatsConsumedPerSecond ?? double.NaN)} / {F(w?.HeartbeatsPublishedPerSecond ?? double.NaN)} "
                + $"({F(w is null || w.HeartbeatsPublishedPerSecond == 0 ? double.NaN : w.HeartbeatsConsumedPerSecond / w.HeartbeatsPublishedPerSecond, "0.00")}) | "
                + $"{F(w?.LagSecondsP99 ?? double.NaN, "0.##")} / {F(w?.LagSecondsMax ?? double.NaN, "0.##")} | {F(s.DeathNoticedSeconds ?? double.NaN)} | "
                + $"{F(w?.FleetCpuPercent ?? double.NaN, "0")}% / {F(w?.FleetRssMiB ?? double.NaN, "0")} | {s.BrokeBecause ?? "no"} |"));
        }

        md.AppendLine();
        md.AppendLine("## Per step, per phase");
        foreach (var s in steps)
        {
            md.AppendLine();
            md.AppendLine(string.Create(CultureInfo.InvariantCulture, $"### {s.Hosts} hosts"));
            md.AppendLine();
            md.AppendLine(string.Create(CultureInfo.InvariantCulture,
                $"Simulator ready after {F(s.FleetReadySeconds)} s; all hosts ONLINE after {F(s.AllOnlineSeconds ?? double.NaN)} s. "
                + $"Creates: {s.VmsCreated} succeeded, {s.CreateFailed} failed, {s.CreateNotEnded} not ended, {s.CreateRejected} rejected by the API"
                + $"{(s.CreateFirstError is null ? "" : $" (first: {s.CreateFirstError})")}"
                + $"; requests took {F(s.CreateRequestSeconds)} s, the last ended after {F(s.CreateAllEndedSeconds)} s. "
                + $"Creates per second over each tenth of them: {string.Join(", ", s.CreatesPerSecondAsVmsGrow.Select(r => F(r)))}."));
            if (s.Evidence is not null)
            {
                md.AppendLine();
                md.AppendLine($"Steady window: {s.Evidence}.");
            }

            md.AppendLine();
            md.AppendLine(WindowStats.MarkdownHeader);
            foreach (var w in new[] { s.Idle, s.Registration, s.WithHosts, s.Create, s.Steady }.OfType<WindowStats>())
            {
                md.AppendLine(w.ToMarkdownRow());
            }

            if (s.CreateAccepted is not null && s.CreateSucceeded is not null)
            {
                md.AppendLine();
                md.AppendLine(LatencySummary.MarkdownHeader);
                md.AppendLine((s.CreateAccepted with { Series = "createVm answered" }).ToMarkdownRow());
                md.AppendLine((s.CreateSucceeded with { Series = "createVm request to SUCCEEDED" }).ToMarkdownRow());
            }
        }

        md.AppendLine();
        md.AppendLine("Create latency distributions: scale-create.svg. Every second's sample of every step is in scale.json.");
        return md.ToString();
    }
}

public sealed record ScaleSettings(
    IReadOnlyList<int> Hosts, int VmsPerHost, double HeartbeatSeconds, int WindowSeconds, int CreateSeconds, int Clients, int HostsPerConnection);

public sealed class ScaleStep
{
    public int Hosts { get; init; }
    public int VmsRequested { get; init; }
    public int VmsCreated { get; set; }
    public int CreateFailed { get; set; }
    public int CreateNotEnded { get; set; }
    public int CreateRejected { get; set; }
    public string? CreateFirstError { get; set; }
    public double CreateRequestSeconds { get; set; }
    public double CreateAllEndedSeconds { get; set; }
    public double CreatesPerSecond { get; set; }
    /// <summary>The create rate over each successive tenth of the VMs created.</summary>
    public IReadOnlyList<double> CreatesPerSecondAsVmsGrow { get; set; } = [];
    public LatencySummary? CreateAccepted { get; set; }
    public LatencySummary? CreateSucceeded { get; set; }
    public double FleetReadySeconds { get; set; }
    public double? AllOnlineSeconds { get; set; }
    public double? RssPerHostKiB { get; set; }
    public double? RssPerVmKiB { get; set; }
    public double? DeathNoticedSeconds { get; set; }
    public required WindowStats Idle { get; init; }
    public WindowStats? Registration { get; set; }
    public WindowStats? WithHosts { get; set; }
    public WindowStats? Create { get; set; }
    public WindowStats? Steady { get; set; }
    public string? BrokeBecause { get; set; }
    public string? Evidence { get; set; }
    public IReadOnlyList<ScaleSample> Samples { get; set; } = [];

    public string Summary() => string.Create(CultureInfo.InvariantCulture,
        $"{Hosts} hosts: all ONLINE after {AllOnlineSeconds:0.#} s; {VmsCreated}/{VmsRequested} VMs at {CreatesPerSecond:0.#}/s "
        + $"(p50 {CreateSucceeded?.P50Ms:0} ms, p99 {CreateSucceeded?.P99Ms:0} ms); steady: CP {Steady?.CpuPercent:0}% CPU, {Steady?.RssMiB:0} MiB "
        + $"(idle {Idle.RssMiB:0} MiB; {RssPerHostKiB:0.#} KiB/host, {RssPerVmKiB:0.#} KiB/VM); heartbeats {Steady?.HeartbeatsConsumedPerSecond:0.#}/"
        + $"{Steady?.HeartbeatsPublishedPerSecond:0.#} per s; lag max {Steady?.LagSecondsMax:0.##} s; death noticed after {DeathNoticedSeconds:0.#} s");
}

/// <summary>One second's look at everything: cumulative CPU seconds (rates come from differences), memory, queues, lag.</summary>
public sealed record ScaleSample(
    double At, string Phase, double ControlPlaneCpuSeconds, double ControlPlaneRssMiB, double FleetCpuSeconds, double FleetRssMiB,
    double PostgresCpuSeconds, double RabbitCpuSeconds, long LagEvents, double LagSeconds, QueueCounters Heartbeats, QueueCounters Hosts,
    QueueCounters Outcomes, long Online, double StalestHeartbeatSeconds);

/// <summary>A phase's figures, from its samples.</summary>
public sealed record WindowStats(
    string Phase, double Seconds, double CpuPercent, double RssMiB, double FleetCpuPercent, double FleetRssMiB, double PostgresCpuPercent,
    double RabbitCpuPercent, double HeartbeatsPublishedPerSecond, double HeartbeatsConsumedPerSecond, long HeartbeatDepthMax, long HostsDepthMax,
    long OutcomesDepthMax, double LagSecondsP99, double LagSecondsMax, long LagEventsMax, long OnlineMin, double StalestHeartbeatSecondsMax)
{
    public static string MarkdownHeader =>
        "| phase | s | CP CPU | CP RSS MiB | simulator CPU | simulator RSS MiB | PostgreSQL CPU | RabbitMQ CPU | heartbeats published/s | consumed/s | heartbeat queue max | hosts queue max | outcomes queue max | lag p99 (s) | lag max (s) | lag max (events) | ONLINE min | stalest heartbeat (s) |\n"
        + "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|";

    public string ToMarkdownRow() => string.Create(CultureInfo.InvariantCulture,
        $"| {Phase} | {Seconds:0} | {CpuPercent:0}% | {RssMiB:0} | {FleetCpuPercent:0}% | {FleetRssMiB:0} | {PostgresCpuPercent:0}% | {RabbitCpuPercent:0}% | "
        + $"{HeartbeatsPublishedPerSecond:0.#} | {HeartbeatsConsumedPerSecond:0.#} | {HeartbeatDepthMax} | {HostsDepthMax} | {OutcomesDepthMax} | "
        + $"{LagSecondsP99:0.##} | {LagSecondsMax:0.##} | {LagEventsMax} | {OnlineMin} | {StalestHeartbeatSecondsMax:0.#} |");

    public static WindowStats Of(string phase, IReadOnlyList<ScaleSample> samples)
    {
        if (samples.Count < 2)
        {
            var only = samples.FirstOrDefault();
            // Too short to measure a rate: zeros (JSON has no NaN).
            return new WindowStats(phase, 0, 0, only?.ControlPlaneRssMiB ?? 0, 0, only?.FleetRssMiB ?? 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, only?.Online ?? 0, 0);
        }

        var first = samples[0];
        var last = samples[^1];
        var seconds = last.At - first.At;
        double Rate(Func<ScaleSample, double> of) => Math.Round((of(last) - of(first)) / seconds, 1);
        var lags = new Latencies("lag", samples.Select(s => s.LagSeconds));
        return new WindowStats(
            phase, Math.Round(seconds), Rate(s => s.ControlPlaneCpuSeconds * 100), Math.Round(samples.Average(s => s.ControlPlaneRssMiB), 1),
            Rate(s => s.FleetCpuSeconds * 100), Math.Round(samples.Average(s => s.FleetRssMiB), 1),
            Rate(s => s.PostgresCpuSeconds * 100), Rate(s => s.RabbitCpuSeconds * 100),
            Rate(s => s.Heartbeats.Published), Rate(s => s.Heartbeats.Acknowledged),
            samples.Max(s => s.Heartbeats.Depth), samples.Max(s => s.Hosts.Depth), samples.Max(s => s.Outcomes.Depth),
            Math.Round(lags.Percentile(99), 3), Math.Round(samples.Max(s => s.LagSeconds), 3), samples.Max(s => s.LagEvents),
            samples.Min(s => s.Online), Math.Round(samples.Max(s => s.StalestHeartbeatSeconds), 1));
    }
}

/// <summary>Samples every second, in the background, tagged with the phase the scenario is in.</summary>
public sealed class Sampler : IAsyncDisposable
{
    private readonly int _controlPlanePid;
    private readonly SchemaProbe _schema;
    private readonly BrokerProbe _broker;
    private readonly ConcurrentQueue<ScaleSample> _samples = new();
    private readonly CancellationTokenSource _stop = new();
    private readonly Stopwatch _clock = Stopwatch.StartNew();
    private readonly Task _loop;

    public Sampler(int controlPlanePid, SchemaProbe schema, BrokerProbe broker)
    {
        _controlPlanePid = controlPlanePid;
        _schema = schema;
        _broker = broker;
        _loop = Task.Run(LoopAsync);
    }

    public string Phase { get; set; } = "";

    public int? FleetPid { get; set; }

    public IReadOnlyList<ScaleSample> Samples => _samples.ToList();

    public WindowStats Window(string phase) => WindowStats.Of(phase, _samples.Where(s => s.Phase == phase).ToList());

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        await _loop;
        _stop.Dispose();
    }

    private async Task LoopAsync()
    {
        // The broker is the oldest beam.smp; rabbitmqctl and friends start short-lived ones of their own.
        var rabbit = ProcStats.ByName("beam.smp").DefaultIfEmpty(0).Min();
        while (!_stop.IsCancellationRequested)
        {
            var started = _clock.Elapsed;
            try
            {
                var phase = Phase;
                var (lagEvents, lagSeconds) = await _schema.ProjectionLagAsync();
                _samples.Enqueue(new ScaleSample(
                    Math.Round(started.TotalSeconds, 2), phase, ProcStats.CpuSeconds(_controlPlanePid), ProcStats.RssMiB(_controlPlanePid),
                    FleetPid is { } fleet ? ProcStats.CpuSeconds(fleet) : 0, FleetPid is { } f ? ProcStats.RssMiB(f) : 0,
                    ProcStats.CpuSecondsOfAll("postgres"), ProcStats.CpuSeconds(rabbit), lagEvents, Math.Round(lagSeconds, 3),
                    await _broker.QueueAsync(AgentQueues.ControlPlaneHeartbeats), await _broker.QueueAsync(AgentQueues.ControlPlaneHosts),
                    await _broker.QueueAsync(AgentQueues.ControlPlaneOutcomes), await _schema.OnlineHostsAsync(), await _schema.StalestHeartbeatSecondsAsync()));
            }
            catch (Exception ex) when (ex is NpgsqlException or HttpRequestException or TaskCanceledException or InvalidOperationException)
            {
                Console.WriteLine($"sample skipped: {ex.Message}");
            }

            var wait = TimeSpan.FromSeconds(1) - (_clock.Elapsed - started);
            if (wait > TimeSpan.Zero)
            {
                try
                {
                    await Task.Delay(wait, _stop.Token);
                }
                catch (OperationCanceledException)
                {
                    return;
                }
            }
        }
    }
}
