using System.Globalization;

namespace Quantixkvm.Bench.Reporting;

/// <summary>A scenario's command-line options (<c>--name value</c>), with the defaults every scenario shares.</summary>
public sealed class BenchArgs(string[] args)
{
    public int Int(string name, int fallback) =>
        String(name) is { } value ? int.Parse(value, CultureInfo.InvariantCulture) : fallback;

    public string? String(string name)
    {
        var index = Array.IndexOf(args, name);
        return index >= 0 && index + 1 < args.Length ? args[index + 1] : null;
    }

    public bool Flag(string name) => Array.IndexOf(args, name) >= 0;

    /// <summary><c>--out DIR</c>, or <c>bench/results/&lt;UTC time&gt;/</c>; created.</summary>
    public string OutputFolder()
    {
        var folder = String("--out") ?? Path.Combine("bench", "results", DateTime.UtcNow.ToString("yyyyMMdd-HHmmss", CultureInfo.InvariantCulture));
        Directory.CreateDirectory(folder);
        return folder;
    }

    /// <summary>PostgreSQL as infra/dev/env.sh exports it, else infra/dev's defaults.</summary>
    public static string Postgres =>
        Environment.GetEnvironmentVariable("ConnectionStrings__Postgres")
        ?? "Host=127.0.0.1;Port=15433;Database=quantixkvm;Username=quantixkvm;Password=quantixkvm;Maximum Pool Size=32";
}
