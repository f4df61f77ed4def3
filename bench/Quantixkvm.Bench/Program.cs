using BenchmarkDotNet.Running;

// dotnet run -c Release --project bench/Quantixkvm.Bench -- --filter '*Placement*'
BenchmarkSwitcher.FromAssembly(typeof(Program).Assembly).Run(args);

/// <summary>Entry point (BenchmarkDotNet finds the benchmarks in this assembly).</summary>
public partial class Program;
