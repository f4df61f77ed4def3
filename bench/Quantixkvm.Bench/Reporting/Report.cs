using System.Text.Json;

namespace Quantixkvm.Bench.Reporting;

/// <summary>Every scenario's report: <c>NAME.md</c> for people and <c>NAME.json</c> for tools, side by side in the results folder.</summary>
public static class Report
{
    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web)
    {
        WriteIndented = true,
        // A series without samples has NaN percentiles: written as "NaN" rather than failing the whole report.
        NumberHandling = System.Text.Json.Serialization.JsonNumberHandling.AllowNamedFloatingPointLiterals,
    };

    public static async Task WriteAsync(string folder, string name, MachineInfo machine, object results, string markdown)
    {
        await File.WriteAllTextAsync(Path.Combine(folder, $"{name}.json"),
            JsonSerializer.Serialize(new { scenario = name, machine, results }, Json));
        await File.WriteAllTextAsync(Path.Combine(folder, $"{name}.md"), markdown);
        Console.WriteLine($"report: {Path.Combine(folder, $"{name}.md")}");
    }
}
