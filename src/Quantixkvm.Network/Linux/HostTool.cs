using System.Diagnostics;

namespace Quantixkvm.Network.Linux;

/// <summary>Runs a host tool (`ip`, `nft`) from an argument list, never a shell string, optionally feeding it standard input.</summary>
internal static class HostTool
{
    public sealed record Result(int ExitCode, string Output, string Error);

    public static async Task<Result> RunAsync(IReadOnlyList<string> command, string? input, CancellationToken cancellationToken)
    {
        var start = new ProcessStartInfo(command[0])
        {
            RedirectStandardInput = input is not null,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var argument in command.Skip(1))
        {
            start.ArgumentList.Add(argument);
        }

        using var process = Process.Start(start) ?? throw new InvalidOperationException($"{command[0]} did not start");
        var output = process.StandardOutput.ReadToEndAsync(cancellationToken);
        var error = process.StandardError.ReadToEndAsync(cancellationToken);
        try
        {
            if (input is not null)
            {
                await process.StandardInput.WriteAsync(input.AsMemory(), cancellationToken);
                process.StandardInput.Close();
            }

            await process.WaitForExitAsync(cancellationToken);
        }
        catch (OperationCanceledException)
        {
            // A round that ran out of time must not leave the tool running behind it.
            process.Kill(entireProcessTree: true);
            throw;
        }

        return new Result(process.ExitCode, await output, await error);
    }

    /// <summary>
    /// The prefix that runs a tool inside a network namespace: [..privilege, "ip", "netns", "exec", NS]. The name is
    /// checked: 1-64 letters, digits, '-', '_' or '.'.
    /// </summary>
    public static IReadOnlyList<string> NamespacePrefix(string networkNamespace, IReadOnlyList<string>? privilegePrefix)
    {
        if (string.IsNullOrEmpty(networkNamespace) || networkNamespace.Length > 64 || networkNamespace.StartsWith('-')
            || !networkNamespace.All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '.') || networkNamespace is "." or "..")
        {
            throw new ArgumentException($"network namespace '{networkNamespace}' must be 1-64 letters, digits, '-', '_' or '.'", nameof(networkNamespace));
        }

        return [.. privilegePrefix ?? [], "ip", "netns", "exec", networkNamespace];
    }
}
