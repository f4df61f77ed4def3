namespace Quantixkvm.Cli;

/// <summary>qkvm: operator and audit/replay tooling. Picks the command named by the first words and runs it.</summary>
public static class Qkvm
{
    /// <summary>The command ran and found nothing wrong.</summary>
    public const int Success = 0;

    /// <summary>The command ran and found something wrong (e.g. read models that differ from the log).</summary>
    public const int Findings = 1;

    /// <summary>The command could not run: bad usage, or the database could not be reached or used.</summary>
    public const int CannotRun = 2;

    public static IReadOnlyList<CliCommand> Commands { get; } = [ReadModelsVerify.Command];

    public static async Task<int> RunAsync(
        string[] args, TextWriter output, TextWriter error, Func<string, string?> environment, CancellationToken cancellationToken = default)
    {
        if (args is [])
        {
            WriteHelp(error);
            return CannotRun;
        }

        if (args is ["--help"] or ["-h"] or ["help"])
        {
            WriteHelp(output);
            return Success;
        }

        var command = Commands.FirstOrDefault(c => args.Length >= c.Words.Count && args.Take(c.Words.Count).SequenceEqual(c.Words));
        if (command is null)
        {
            await error.WriteLineAsync($"qkvm: unknown command '{string.Join(' ', args.TakeWhile(a => !a.StartsWith('-')))}'");
            WriteHelp(error);
            return CannotRun;
        }

        var rest = args[command.Words.Count..];
        if (rest.Contains("--help") || rest.Contains("-h"))
        {
            await output.WriteAsync(command.Usage);
            return Success;
        }

        try
        {
            var options = CommandLine.Parse(rest, command.Options);
            return await command.RunAsync(new CommandInvocation(options, output, error, environment), cancellationToken);
        }
        catch (UsageException e)
        {
            await error.WriteLineAsync($"qkvm {command.Name}: {e.Message}");
            await error.WriteAsync(command.Usage);
            return CannotRun;
        }
    }

    private static void WriteHelp(TextWriter writer)
    {
        writer.WriteLine("qkvm: Quantixkvm operator and audit/replay tooling");
        writer.WriteLine();
        writer.WriteLine("commands:");
        foreach (var command in Commands)
        {
            writer.WriteLine($"  {command.Name,-22}{command.Summary}");
        }

        writer.WriteLine();
        writer.WriteLine("qkvm COMMAND --help shows a command's options. Exit codes: 0 fine, 1 findings (e.g. differences), 2 could not run.");
    }
}
