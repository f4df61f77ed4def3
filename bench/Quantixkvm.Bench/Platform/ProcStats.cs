using System.Globalization;

namespace Quantixkvm.Bench.Platform;

/// <summary>CPU time and resident memory of processes, from /proc (Linux): enough to tell which side of the bench is busy.</summary>
public static class ProcStats
{
    private const double TicksPerSecond = 100; // USER_HZ on Linux

    /// <summary>User + system CPU seconds of the process; 0 once it is gone.</summary>
    public static double CpuSeconds(int pid, bool withEndedChildren = false)
    {
        try
        {
            var stat = File.ReadAllText($"/proc/{pid}/stat");
            // The command name (field 2) may hold spaces; the fields after its closing parenthesis are fixed.
            var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
            // utime, stime, then cutime, cstime (children that ended and were waited for).
            var ticks = fields.Skip(11).Take(withEndedChildren ? 4 : 2).Sum(f => long.Parse(f, CultureInfo.InvariantCulture));
            return ticks / TicksPerSecond;
        }
        catch (IOException)
        {
            return 0;
        }
    }

    /// <summary>Resident set size in MiB; 0 once the process is gone.</summary>
    public static double RssMiB(int pid)
    {
        try
        {
            var line = File.ReadLines($"/proc/{pid}/status").FirstOrDefault(l => l.StartsWith("VmRSS:", StringComparison.Ordinal));
            return line is null ? 0 : long.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], CultureInfo.InvariantCulture) / 1024.0;
        }
        catch (IOException)
        {
            return 0;
        }
    }

    /// <summary>The processes whose command name is <paramref name="comm"/> (e.g. every PostgreSQL backend).</summary>
    public static IReadOnlyList<int> ByName(string comm) => Pids().Where(pid => Read($"/proc/{pid}/comm")?.Trim() == comm).ToList();

    /// <summary>
    /// CPU seconds of every process named <paramref name="comm"/>, looked up now, with what their ended children used
    /// (PostgreSQL's backends come and go; the postmaster keeps the CPU of those that ended).
    /// </summary>
    public static double CpuSecondsOfAll(string comm) => ByName(comm).Sum(pid => CpuSeconds(pid, withEndedChildren: true));

    private static IEnumerable<int> Pids() =>
        Directory.EnumerateDirectories("/proc").Select(Path.GetFileName).Select(n => int.TryParse(n, out var pid) ? pid : -1).Where(pid => pid > 0);

    private static string? Read(string path)
    {
        try
        {
            return File.ReadAllText(path);
        }
        catch (IOException)
        {
            return null;
        }
        catch (UnauthorizedAccessException)
        {
            return null;
        }
    }
}
