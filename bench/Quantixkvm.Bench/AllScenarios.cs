using System.Diagnostics;
using System.Globalization;
using System.Text;
using BenchmarkDotNet.Configs;
using BenchmarkDotNet.Jobs;
using BenchmarkDotNet.Running;
using Quantixkvm.Bench.Reporting;

namespace Quantixkvm.Bench;

/// <summary>
/// Every benchmark scenario in one run, at sizes that fit in a few minutes on 2 cores, each writing its report into the
/// same results folder, plus an index (all.md). The full-size figures of docs/performance.md come from running the
/// scenarios one by one with their defaults; the fault harness (`faults`) is not a benchmark and runs on its own.
/// </summary>
public static class AllScenarios
{
    /// <summary>Each scenario with the options this quick run gives it (the folder is added).</summary>
    private static readonly (string Name, string[] Options)[] Quick =
    [
        ("append", ["--events", "10000"]),
        ("e2e", ["--clients", "100", "--duration", "20", "--baseline-seconds", "3"]),
        ("subscriptions", ["--clients", "1000,10000", "--rounds", "3"]),
        ("rebuild", ["--events", "1000000"]),
        ("scale", ["--hosts", "100,1000", "--vms-per-host", "5", "--create-seconds", "60", "--window-seconds", "20", "--keep-going"]),
    ];

    public static async Task<int> RunAsync(string[] args, IReadOnlyDictionary<string, Func<string[], Task<int>>> scenarios)
    {
        var folder = new BenchArgs(args).OutputFolder();
        var index = new StringBuilder("# All benchmark scenarios, quick sizes\n\n| scenario | options | exit | minutes | report |\n|---|---|---:|---:|---|\n");
        var failed = 0;
        foreach (var (name, options) in Quick)
        {
            Console.WriteLine($"=== {name} {string.Join(' ', options)}");
            var clock = Stopwatch.StartNew();
            int code;
            try
            {
                code = await scenarios[name]([.. options, "--out", folder]);
            }
            catch (Exception ex)
            {
                Console.Error.WriteLine($"{name} failed: {ex}");
                code = 1;
            }

            failed += code == 0 ? 0 : 1;
            index.Append(CultureInfo.InvariantCulture, $"| {name} | `{string.Join(' ', options)}` | {code} | {clock.Elapsed.TotalMinutes:0.0} | [{name}.md]({name}.md) |\n");
        }

        Console.WriteLine("=== placement (BenchmarkDotNet, short run)");
        var placement = Stopwatch.StartNew();
        BenchmarkRunner.Run<PlacementBenchmarks>(
            DefaultConfig.Instance.AddJob(Job.ShortRun).WithArtifactsPath(Path.Combine(folder, "placement")));
        index.Append(CultureInfo.InvariantCulture,
            $"| placement | BenchmarkDotNet short run | | {placement.Elapsed.TotalMinutes:0.0} | `placement/results/` |\n");

        await File.WriteAllTextAsync(Path.Combine(folder, "all.md"), index.ToString());
        Console.WriteLine($"index: {Path.Combine(folder, "all.md")}");
        return failed == 0 ? 0 : 1;
    }
}
