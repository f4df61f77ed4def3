namespace Quantixkvm.Cli;

// Not top-level statements: the global Program type is the control plane's (its tests host it by that name).
internal static class Program
{
    private static Task<int> Main(string[] args) => Qkvm.RunAsync(args, Console.Out, Console.Error, Environment.GetEnvironmentVariable);
}
