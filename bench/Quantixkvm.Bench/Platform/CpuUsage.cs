using System.Diagnostics;
using System.Globalization;

namespace Quantixkvm.Bench.Platform;

/// <summary>CPU used over an interval: by the whole machine (from /proc/stat) and by named processes, in cores.</summary>
public sealed class CpuUsage
{
    private readonly Dictionary<string, (int Pid, TimeSpan Start)> _processes = [];
    private readonly (long Busy, long Total) _machineStart = MachineTicks();
    private readonly long _startedAt = Stopwatch.GetTimestamp();

    public CpuUsage(params (string Name, int Pid)[] processes)
    {
        foreach (var (name, pid) in processes)
        {
            _processes[name] = (pid, CpuTime(pid));
        }
    }

    /// <summary>Cores busy on average since this was created: the machine's (0..cores) and each process's.</summary>
    public IReadOnlyDictionary<string, double> Cores()
    {
        var seconds = Stopwatch.GetElapsedTime(_startedAt).TotalSeconds;
        var result = _processes.ToDictionary(p => p.Key, p => Math.Round((CpuTime(p.Value.Pid) - p.Value.Start).TotalSeconds / seconds, 2));
        var (busy, total) = MachineTicks();
        result["machine"] = total == _machineStart.Total
            ? double.NaN
            : Math.Round((double)(busy - _machineStart.Busy) / (total - _machineStart.Total) * Environment.ProcessorCount, 2);
        return result;
    }

    private static TimeSpan CpuTime(int pid) => TimeSpan.FromSeconds(ProcStats.CpuSeconds(pid));

    /// <summary>The first line of /proc/stat: busy (all but idle and iowait) and total jiffies of every core.</summary>
    private static (long Busy, long Total) MachineTicks()
    {
        if (!File.Exists("/proc/stat"))
        {
            return (0, 0);
        }

        var fields = File.ReadLines("/proc/stat").First().Split(' ', StringSplitOptions.RemoveEmptyEntries).Skip(1)
            .Select(f => long.Parse(f, CultureInfo.InvariantCulture)).ToArray();
        var total = fields.Take(8).Sum();
        return (total - fields[3] - fields[4], total);
    }
}
