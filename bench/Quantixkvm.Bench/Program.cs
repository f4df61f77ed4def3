using BenchmarkDotNet.Running;
using Quantixkvm.Bench;

// Scenarios against the real services (see bench/README.md):
//   dotnet run -c Release --project bench/Quantixkvm.Bench -- append [--events N] [--out DIR]
// Micro-benchmarks (BenchmarkDotNet):
//   dotnet run -c Release --project bench/Quantixkvm.Bench -- --filter '*Placement*'
if (args.Length > 0 && args[0] == "append")
{
    return await AppendScenario.RunAsync(args[1..]);
}

BenchmarkSwitcher.FromAssembly(typeof(PlacementBenchmarks).Assembly).Run(args);
return 0;
