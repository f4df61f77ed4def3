using Npgsql;

namespace Quantixkvm.Bench.Reporting;

/// <summary>The machine a report was measured on: figures are only comparable on the same one.</summary>
public sealed record MachineInfo(int Cores, long MemoryMiB, string Os, string Runtime, string Postgres, DateTimeOffset MeasuredAt)
{
    public string ToMarkdown() =>
        $"Measured {MeasuredAt:yyyy-MM-dd HH:mm} UTC on {Cores} cores, {MemoryMiB} MiB, {Os}, {Runtime}; {Postgres} on the same machine.";
}

public static class Machine
{
    public static async Task<MachineInfo> DescribeAsync(NpgsqlDataSource data)
    {
        // Durability settings change commit latency several times over: a figure without them is not comparable.
        await using var command = data.CreateCommand(
            "SELECT split_part(version(), ' on ', 1) || ' (fsync ' || current_setting('fsync') || ', synchronous_commit ' || current_setting('synchronous_commit') || ')'");
        var postgres = (string?)await command.ExecuteScalarAsync() ?? "PostgreSQL";
        return new MachineInfo(
            Environment.ProcessorCount, GC.GetGCMemoryInfo().TotalAvailableMemoryBytes >> 20,
            System.Runtime.InteropServices.RuntimeInformation.OSDescription, System.Runtime.InteropServices.RuntimeInformation.FrameworkDescription,
            postgres, DateTimeOffset.UtcNow);
    }
}
