using Quantixkvm.Domain.Tests.Support;
using Quantixkvm.Domain.Vms;

namespace Quantixkvm.Domain.Tests;

/// <summary>docs/vm-lifecycle.md is what operators read; these keep it in step with the code.</summary>
public class LifecycleDocument
{
    private const string Path = "docs/vm-lifecycle.md";

    private static string[] Lines() => RepoFiles.Read(Path).Split('\n').Select(l => l.TrimEnd('\r')).ToArray();

    /// <summary>The rows of the first Markdown table under the heading, header and separator left out.</summary>
    private static List<string[]> TableUnder(string heading)
    {
        var lines = Lines();
        var start = Array.IndexOf(lines, heading);
        start.ShouldBeGreaterThanOrEqualTo(0, $"{Path} has no line '{heading}'");

        var section = lines.Skip(start + 1).TakeWhile(l => !l.StartsWith("## ", StringComparison.Ordinal));
        var table = section.SkipWhile(l => !l.StartsWith('|')).TakeWhile(l => l.StartsWith('|')).ToList();
        table.Count.ShouldBeGreaterThan(2, $"no table under '{heading}' in {Path}");
        table[1].Trim('|', ' ', '-', ':').ShouldBeEmpty("the second line of a Markdown table is its separator");

        return table.Skip(2)
            .Select(row => row.Trim().Trim('|').Split('|').Select(cell => cell.Trim()).ToArray())
            .ToList();
    }

    [Fact]
    public void the_documented_precondition_table_matches_the_code()
    {
        var documented = TableUnder("## Preconditions").Select(cells =>
        {
            cells.Length.ShouldBe(2, $"a precondition row has two cells: {string.Join(" | ", cells)}");
            return $"| {cells[0]} | {cells[1]} |";
        });

        var expected = VmPreconditions.Table.Select(row =>
            $"| {row.Command} | {string.Join(", ", row.AllowedFrom.Select(s => s.ToString().ToUpperInvariant()))} |");

        documented.ShouldBe(expected, $"update the table under '## Preconditions' in {Path}");
    }

    [Fact]
    public void the_precondition_rows_are_written_exactly_as_command_then_states()
    {
        var lines = Lines();
        foreach (var (command, allowed) in VmPreconditions.Table)
        {
            var row = $"| {command} | {string.Join(", ", allowed.Select(s => s.ToString().ToUpperInvariant()))} |";
            lines.Count(l => l == row).ShouldBe(1, $"{Path} should hold the line '{row}' once");
        }
    }

    [Fact]
    public void every_stored_event_name_is_explained()
    {
        var documented = TableUnder("## Events").Select(cells => cells[0].Trim('`')).ToList();

        documented.ShouldBe(EventCatalog.All.Select(e => e.Name), ignoreOrder: true);
        TableUnder("## Events").ShouldAllBe(cells => cells.Length == 2 && cells[1].Length > 0);
    }

    [Fact]
    public void the_default_deadlines_are_the_documented_ones()
    {
        // docs/vm-lifecycle.md "Default deadlines" states these; change both together.
        OperationTimeouts.Default.ShouldBe(new OperationTimeouts(
            Create: TimeSpan.FromMinutes(2),
            Start: TimeSpan.FromMinutes(1),
            Stop: TimeSpan.FromMinutes(3),
            ForceStop: TimeSpan.FromSeconds(30),
            Reboot: TimeSpan.FromMinutes(3),
            Pause: TimeSpan.FromSeconds(30),
            Resume: TimeSpan.FromSeconds(30),
            Delete: TimeSpan.FromMinutes(1),
            Disk: TimeSpan.FromMinutes(1),
            Snapshot: TimeSpan.FromMinutes(5)));
    }

    [Fact]
    public void the_documented_default_deadlines_match_the_code()
    {
        var documented = TableUnder("### Default deadlines")
            .ToDictionary(cells => cells[0].Split(' ', 2)[0] + (cells[0].Contains("--force", StringComparison.Ordinal) ? " --force" : ""),
                cells => cells[1]);

        static string Show(TimeSpan t) => t.TotalSeconds < 60 ? $"{t.TotalSeconds:0} s" : $"{t.TotalMinutes:0} min";
        var d = OperationTimeouts.Default;

        documented.ShouldBe(
            new Dictionary<string, string>
            {
                ["create"] = Show(d.Create),
                ["start"] = Show(d.Start),
                ["stop"] = Show(d.Stop),
                ["stop --force"] = Show(d.ForceStop),
                ["reboot"] = Show(d.Reboot),
                ["pause"] = Show(d.Pause),
                ["resume"] = Show(d.Resume),
                ["delete"] = Show(d.Delete),
                ["attach-disk"] = Show(d.Disk),
                ["detach-disk"] = Show(d.Disk),
                ["create-snapshot"] = Show(d.Snapshot),
                ["revert-snapshot"] = Show(d.Snapshot),
                ["delete-snapshot"] = Show(d.Snapshot),
                ["attach-nic"] = Show(d.Disk),
                ["detach-nic"] = Show(d.Disk),
            },
            ignoreOrder: true);
    }
}
