using System.Diagnostics;
using System.Globalization;
using System.Text;
using Npgsql;

namespace Quantixkvm.FaultHarness;

/// <summary>What a run did and found: the workload, the faults with their recovery times, and every invariant's figures.</summary>
public sealed record FaultRunResult(
    FaultOptions Options,
    DateTimeOffset StartedAt,
    double ElapsedSeconds,
    double ServicesFirstStartSeconds,
    IReadOnlyList<MutationFigures> Mutations,
    IReadOnlyDictionary<string, int> RejectedByCode,
    int Acknowledged,
    int Resent,
    IReadOnlyList<FaultRecord> Faults,
    double QuietAfterSeconds,
    IReadOnlyList<InvariantResult> Invariants)
{
    /// <summary>Every planned fault injected and every invariant checked and held.</summary>
    public bool Passed => Faults.Count == Options.Faults && Invariants.All(i => i.Passed);

    public string ToMarkdown()
    {
        string F(double v) => v.ToString("0.0", CultureInfo.InvariantCulture);
        var md = new StringBuilder();
        md.AppendLine("# Fault harness");
        md.AppendLine();
        md.AppendLine(CultureInfo.InvariantCulture,
            $"Seed {Options.Seed}; {Options.Vms} VM slots, {Options.Clients} clients, {Acknowledged} acknowledged operations (asked for {Options.Operations}), "
            + $"{Faults.Count} of {Options.Faults} faults; operation deadline {Options.OperationTimeoutSeconds} s, inventory every {Options.InventorySeconds} s. "
            + $"Run took {F(ElapsedSeconds)} s; the private PostgreSQL + RabbitMQ first started in {F(ServicesFirstStartSeconds)} s.");
        md.AppendLine();
        md.AppendLine($"**Verdict: {(Passed ? "PASS" : "FAIL")}** — " + string.Join("; ", Invariants.Select(i => $"{i.Name}: {Verdict(i)}")));
        md.AppendLine();
        md.AppendLine("## Operations");
        md.AppendLine();
        md.AppendLine("| mutation | sent | acknowledged | succeeded | failed | timed out | end not seen by the client |");
        md.AppendLine("|---|---:|---:|---:|---:|---:|---:|");
        foreach (var m in Mutations)
        {
            md.AppendLine(CultureInfo.InvariantCulture, $"| {m.Mutation} | {m.Sent} | {m.Acknowledged} | {m.Succeeded} | {m.Failed} | {m.TimedOut} | {m.NotSeen} |");
        }

        md.AppendLine();
        md.AppendLine(CultureInfo.InvariantCulture,
            $"Rejected with a typed error (not acknowledged, nothing to check): {(RejectedByCode.Count == 0 ? "none" : string.Join(", ", RejectedByCode.OrderBy(r => r.Key).Select(r => $"{r.Key} {r.Value}")))}. "
            + $"Sends repeated with the same command id because no answer came: {Resent}.");
        md.AppendLine();
        md.AppendLine("## Faults");
        md.AppendLine();
        md.AppendLine("| # | fault | at operation | at (s into the run) | healed after (s) | restart (s) | operations resumed after (s) | what happened |");
        md.AppendLine("|---:|---|---:|---:|---:|---:|---:|---|");
        foreach (var f in Faults)
        {
            md.AppendLine(CultureInfo.InvariantCulture,
                $"| {f.Index} | {f.Kind} | {f.AtOperation} | {F((f.StartedAt - StartedAt).TotalSeconds)} | {F((f.HealedAt - f.StartedAt).TotalSeconds)} | {F(f.RestartSeconds)} | "
                + $"{(f.OperationsResumedSeconds is { } r ? F(r) : "–")} | {f.Detail} |");
        }

        md.AppendLine();
        md.AppendLine("| fault | times | healed after, median / max (s) | operations resumed after, median / max (s) |");
        md.AppendLine("|---|---:|---:|---:|");
        foreach (var kind in Faults.GroupBy(f => f.Kind).OrderBy(g => g.Key))
        {
            var healed = kind.Select(f => (f.HealedAt - f.StartedAt).TotalSeconds).ToList();
            var resumed = kind.Where(f => f.OperationsResumedSeconds is not null).Select(f => f.OperationsResumedSeconds!.Value).ToList();
            md.AppendLine(CultureInfo.InvariantCulture,
                $"| {kind.Key} | {kind.Count()} | {F(Median(healed))} / {F(healed.Max())} | {(resumed.Count == 0 ? "–" : $"{F(Median(resumed))} / {F(resumed.Max())}")} |");
        }

        md.AppendLine();
        md.AppendLine("Healed: the killed part runs again (control plane ready, agent heartbeating, service's start script done). "
            + "Operations resumed: from the fault to the first operation that succeeded after it was healed.");
        md.AppendLine();
        md.AppendLine(CultureInfo.InvariantCulture, $"## Invariants (checked {F(QuietAfterSeconds)} s after the workload, once quiet)");
        foreach (var invariant in Invariants)
        {
            md.AppendLine();
            md.AppendLine($"### {invariant.Name}: {Verdict(invariant)}");
            md.AppendLine();
            if (invariant.NotChecked is { } why)
            {
                md.AppendLine($"Not checked: {why}");
                md.AppendLine();
            }

            foreach (var (name, value) in invariant.Figures)
            {
                md.AppendLine(CultureInfo.InvariantCulture, $"- {name.Trim()}{(name.StartsWith(' ') ? " (of the above)" : "")}: {value}");
            }

            foreach (var violation in invariant.Violations)
            {
                md.AppendLine($"- VIOLATION: {violation}");
            }
        }

        if (Options.LogFolder is not null)
        {
            md.AppendLine();
            md.AppendLine("Evidence beside this report: controlplane.log and agent.log (every start of each process), libvirt-api.log (libvirtd's log of every domain API call).");
        }

        return md.ToString();
    }

    private static double Median(List<double> values) => values.Order().ElementAt((values.Count - 1) / 2);

    private static string Verdict(InvariantResult i) => i.NotChecked is not null ? "NOT CHECKED" : i.Holds ? "holds" : "VIOLATED";
}

public sealed record MutationFigures(string Mutation, int Sent, int Acknowledged, int Succeeded, int Failed, int TimedOut, int NotSeen);

/// <summary>One run: the workload and the faults side by side, then healing, waiting until quiet, and the invariants.</summary>
public static class FaultRun
{
    public static async Task<FaultRunResult> RunAsync(FaultPlatform platform, FaultOptions options, CancellationToken cancellationToken = default)
    {
        var startedAt = DateTimeOffset.UtcNow;
        var clock = Stopwatch.StartNew();
        var workload = new Workload(platform, options);
        var injector = new FaultInjector(platform, workload, options);
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var faultsDone = false;
        var workloadTask = workload.RunAsync(() => !Volatile.Read(ref faultsDone), stop.Token);
        try
        {
            await injector.RunAsync(workloadTask, stop.Token);
            // More work after the last fault, until an operation succeeds after it was healed (or 60 s have passed), so
            // that its recovery shows too: acknowledged operations alone may all be ones that time out meanwhile.
            var healedAt = injector.Records.Count > 0 ? injector.Records[^1].HealedAt : DateTimeOffset.UtcNow;
            var until = DateTime.UtcNow.AddSeconds(60);
            while (!workload.Acknowledged.Any(o => o.Status == "SUCCEEDED" && o.EndedAt > healedAt) && !workloadTask.IsCompleted
                   && DateTime.UtcNow < until)
            {
                await Task.Delay(50, stop.Token);
            }
        }
        catch
        {
            // A fault that could not be injected or healed ends the run: it is an error of the run, not a figure.
            Volatile.Write(ref faultsDone, true);
            await stop.CancelAsync();
            throw;
        }

        Volatile.Write(ref faultsDone, true);
        await HealAsync(platform, cancellationToken);
        await workloadTask;
        var quietFrom = Stopwatch.StartNew();
        await WaitUntilQuietAsync(platform, options, cancellationToken);
        var invariants = await new Invariants(platform).CheckAsync(workload.Acknowledged, cancellationToken);

        foreach (var fault in injector.Records)
        {
            var resumed = workload.Acknowledged.Where(o => o.Status == "SUCCEEDED" && o.EndedAt > fault.HealedAt).Select(o => o.EndedAt!.Value).DefaultIfEmpty().Min();
            fault.OperationsResumedSeconds = resumed == default ? null : Math.Round((resumed - fault.StartedAt).TotalSeconds, 2);
        }

        invariants = [.. invariants, Invariants.CheckRecovered(
            injector.Records, options.Faults, options.RecoveryBoundSeconds is { } bound ? TimeSpan.FromSeconds(bound) : null)];
        var mutations = workload.SentByMutation.Keys.Order().Select(m =>
        {
            var acked = workload.Acknowledged.Where(o => o.Mutation == m).ToList();
            return new MutationFigures(m, workload.SentByMutation[m], acked.Count, acked.Count(o => o.Status == "SUCCEEDED"), acked.Count(o => o.Status == "FAILED"),
                acked.Count(o => o.Status == "TIMED_OUT"), acked.Count(o => o.Status is null));
        }).ToList();
        return new FaultRunResult(
            options, startedAt, Math.Round(clock.Elapsed.TotalSeconds, 1), Math.Round(platform.Services.FirstStart.TotalSeconds, 1), mutations,
            workload.RejectedByCode.ToDictionary(), workload.AcknowledgedCount, workload.Resent, injector.Records, Math.Round(quietFrom.Elapsed.TotalSeconds, 1),
            invariants);
    }

    /// <summary>Whatever a fault left down runs again: the services, the control plane (dispatching), the agent (thawed).</summary>
    private static async Task HealAsync(FaultPlatform platform, CancellationToken cancellationToken)
    {
        platform.FreezeAgent(false);
        await platform.Services.RestartAsync(cancellationToken);
        if (platform.ControlPlane is null || platform.ControlPlane.HasExited || !platform.ControlPlaneDispatches)
        {
            await platform.KillControlPlaneAsync();
            await platform.StartControlPlaneAsync(dispatch: true, cancellationToken);
        }

        if (platform.Agent is null || platform.Agent.HasExited)
        {
            await platform.StartAgentAsync(cancellationToken);
        }
    }

    /// <summary>
    /// Quiet: no operation left PENDING or RUNNING (bounded by the deadline every operation has, plus a margin), then no new
    /// event for two inventory periods (so the agent's inventory has reported what libvirt holds, and drift is recorded).
    /// </summary>
    private static async Task WaitUntilQuietAsync(FaultPlatform platform, FaultOptions options, CancellationToken cancellationToken)
    {
        await using var data = NpgsqlDataSource.Create(platform.Services.Postgres);
        var until = DateTime.UtcNow.AddSeconds(options.OperationTimeoutSeconds + 30);
        while (DateTime.UtcNow < until)
        {
            await using var open = data.CreateCommand(
                $"select count(*) from {FaultPlatform.Schema}.mt_doc_operationview where data->>'status' not in ('Succeeded', 'Failed', 'TimedOut')");
            if ((long)(await open.ExecuteScalarAsync(cancellationToken))! == 0)
            {
                break;
            }

            await Task.Delay(250, cancellationToken);
        }

        var still = TimeSpan.FromSeconds(options.InventorySeconds * 2 + 1);
        long last = -1;
        var stillSince = DateTime.UtcNow;
        until = DateTime.UtcNow.AddSeconds(60);
        while (DateTime.UtcNow < until)
        {
            await using var head = data.CreateCommand($"select coalesce(max(seq_id), 0) from {FaultPlatform.Schema}.mt_events");
            var seq = (long)(await head.ExecuteScalarAsync(cancellationToken))!;
            if (seq != last)
            {
                last = seq;
                stillSince = DateTime.UtcNow;
            }
            else if (DateTime.UtcNow - stillSince >= still)
            {
                return;
            }

            await Task.Delay(250, cancellationToken);
        }
    }
}
