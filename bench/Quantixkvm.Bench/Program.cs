using BenchmarkDotNet.Running;
using Quantixkvm.Bench;

// Scenarios against the real services, each writing NAME.md + NAME.json into the results folder (see bench/README.md):
//   dotnet run -c Release --project bench/Quantixkvm.Bench -- SCENARIO [options]
//   dotnet run -c Release --project bench/Quantixkvm.Bench -- all [--out DIR]   (every benchmark, quick sizes)
// Micro-benchmarks (BenchmarkDotNet):
//   dotnet run -c Release --project bench/Quantixkvm.Bench -- --filter '*Placement*'
var scenarios = new Dictionary<string, Func<string[], Task<int>>>
{
    ["append"] = AppendScenario.RunAsync,
    ["faults"] = FaultsScenario.RunAsync,
    ["e2e"] = EndToEndScenario.RunAsync,
    ["subscriptions"] = SubscriptionsScenario.RunAsync,
    ["rebuild"] = RebuildScenario.RunAsync,
    ["scale"] = Quantixkvm.Bench.Scale.ScaleScenario.RunAsync,
    ["networks"] = NetworksScenario.RunAsync,
};

if (args.Length > 0 && args[0] == "all")
{
    return await AllScenarios.RunAsync(args[1..], scenarios);
}

if (args.Length > 0 && scenarios.TryGetValue(args[0], out var scenario))
{
    return await scenario(args[1..]);
}

if (args.Length > 0 && !args[0].StartsWith('-'))
{
    Console.Error.WriteLine($"unknown scenario '{args[0]}'; scenarios: {string.Join(", ", scenarios.Keys)}, all; or BenchmarkDotNet options (--filter '*Placement*')");
    return 2;
}

BenchmarkSwitcher.FromAssembly(typeof(PlacementBenchmarks).Assembly).Run(args);
return 0;
