namespace Quantixkvm.Cli;

/// <summary>One qkvm command: the words that name it (e.g. <c>read-models verify</c>), its options, and what it runs.</summary>
public sealed record CliCommand(
    IReadOnlyList<string> Words, string Summary, IReadOnlyList<CliOption> Options, Func<CommandInvocation, CancellationToken, Task<int>> RunAsync)
{
    public string Name => string.Join(' ', Words);

    public string Usage =>
        $"usage: qkvm {Name}{string.Concat(Options.Select(o => $" [{o.Name}{(o.Value is null ? "" : " " + o.Value)}]"))}{Environment.NewLine}"
        + $"{Summary}{Environment.NewLine}"
        + string.Concat(Options.Select(o => $"  {(o.Name + (o.Value is null ? "" : " " + o.Value)),-22}{o.Description}{Environment.NewLine}"));
}

/// <summary>An option: a flag when <see cref="Value"/> is null, otherwise it takes the value it names (<c>--schema S</c> or <c>--schema=S</c>).</summary>
public sealed record CliOption(string Name, string? Value, string Description);

/// <summary>What a command runs with: its parsed options, where to write, and the environment it reads its defaults from.</summary>
public sealed class CommandInvocation(
    IReadOnlyDictionary<string, string?> options, TextWriter output, TextWriter error, Func<string, string?> environment)
{
    public TextWriter Output { get; } = output;

    public TextWriter Error { get; } = error;

    public Func<string, string?> Environment { get; } = environment;

    public bool Flag(string name) => options.ContainsKey(name);

    public string? Value(string name) => options.GetValueOrDefault(name);
}

/// <summary>The command line is wrong (unknown option, missing value, ...): qkvm prints the message and the usage, and exits with 2.</summary>
public sealed class UsageException(string message) : Exception(message);

public static class CommandLine
{
    /// <summary>The options given, by name (flags map to null); throws <see cref="UsageException"/> for anything the command does not take.</summary>
    public static IReadOnlyDictionary<string, string?> Parse(IReadOnlyList<string> args, IReadOnlyList<CliOption> options)
    {
        var parsed = new Dictionary<string, string?>();
        for (var i = 0; i < args.Count; i++)
        {
            var (name, inline) = args[i].Split('=', 2) is [var n, var v] && n.StartsWith("--", StringComparison.Ordinal) ? (n, v) : (args[i], null);
            var option = options.FirstOrDefault(o => o.Name == name) ?? throw new UsageException($"unknown option or argument '{args[i]}'");
            if (option.Value is null)
            {
                parsed[name] = inline is null ? null : throw new UsageException($"{name} takes no value");
                continue;
            }

            var value = inline ?? (i + 1 < args.Count && !args[i + 1].StartsWith("--", StringComparison.Ordinal) ? args[++i] : null);
            parsed[name] = string.IsNullOrWhiteSpace(value) ? throw new UsageException($"{name} needs a value ({option.Value})") : value;
        }

        return parsed;
    }
}
