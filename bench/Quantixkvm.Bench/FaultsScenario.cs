using System.Globalization;
using Npgsql;
using Quantixkvm.Bench.Reporting;
using Quantixkvm.FaultHarness;

namespace Quantixkvm.Bench;

/// <summary>
/// The fault harness, long version: a mixed VM workload through GraphQL (default 1,000 acknowledged operations over 30 VM
/// slots) while 20 faults are injected (kill -9 of the control plane, also between append and dispatch and between outcome
/// and append; kill -9 of the agent; RabbitMQ and PostgreSQL of the harness's own killed and restarted), then the invariants.
/// Writes faults.md and faults.json; exits 1 when an invariant failed or could not be checked.
/// </summary>
public static class FaultsScenario
{
    public static async Task<int> RunAsync(string[] args)
    {
        var arguments = new BenchArgs(args);
        var options = new FaultOptions
        {
            Operations = arguments.Int("--operations", 1_000),
            Faults = arguments.Int("--faults", 20),
            Vms = arguments.Int("--vms", 30),
            Clients = arguments.Int("--clients", 4),
            Seed = arguments.Int("--seed", 1),
            OperationTimeoutSeconds = arguments.Int("--deadline", 10),
        };
        var output = arguments.OutputFolder();
        options = options with { LogFolder = output };
        Console.WriteLine($"faults: {options.Operations} operations, {options.Faults} faults, {options.Vms} VMs, seed {options.Seed}; "
            + "starting a PostgreSQL and a RabbitMQ of its own, a libvirt daemon, the control plane and an agent");

        // Ctrl-C stops the run and still removes the private services, daemon and processes (disposal runs).
        using var interrupted = new CancellationTokenSource();
        Console.CancelKeyPress += (_, e) =>
        {
            e.Cancel = true;
            interrupted.Cancel();
        };
        await using var platform = await FaultPlatform.StartAsync(options, interrupted.Token);
        var result = await FaultRun.RunAsync(platform, options, interrupted.Token);
        await using var data = NpgsqlDataSource.Create(platform.Services.Postgres);
        var machine = await Machine.DescribeAsync(data);
        var markdown = $"{result.ToMarkdown()}\n{machine.ToMarkdown()} PostgreSQL durable (fsync on), private to the run.\n";
        await Report.WriteAsync(output, "faults", machine, result, markdown);
        // The evidence beside the report: libvirtd's API log (the processes' logs are there already).
        File.Copy(platform.Daemon.ApiLog, Path.Combine(output, "libvirt-api.log"), overwrite: true);
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"verdict: {(result.Passed ? "PASS" : "FAIL")} ({result.ElapsedSeconds:0} s)"));
        foreach (var invariant in result.Invariants)
        {
            Console.WriteLine($"  {invariant.Name}: {(invariant.NotChecked is not null ? "NOT CHECKED" : invariant.Holds ? "holds" : "VIOLATED")} "
                + string.Join(", ", invariant.Figures.Select(f => $"{f.Key.Trim()} {f.Value}")));
        }

        return result.Passed ? 0 : 1;
    }
}
