using System.Diagnostics;

namespace Quantixkvm.Network.Linux;

/// <summary>
/// Runs a host tool (`ip`, `nft`, `ovs-ofctl`, the agent's `qemu-img`, ...) from an argument list, never a shell string,
/// optionally feeding it standard input (closed otherwise, so no tool waits on it). A cancelled run kills the tool.
/// </summary>
public static class HostTool
{
    public sealed record Result(int ExitCode, string Output, string Error);

    /// <exception cref="System.ComponentModel.Win32Exception">The tool could not be started (not installed).</exception>
    public static async Task<Result> RunAsync(
        IReadOnlyList<string> command, string? input, CancellationToken cancellationToken, string? workingDirectory = null)
    {
        var start = new ProcessStartInfo(command[0])
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            WorkingDirectory = workingDirectory ?? string.Empty,
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
            }

            process.StandardInput.Close();
            await process.WaitForExitAsync(cancellationToken);
        }
        catch (OperationCanceledException)
        {
            // A run that ran out of time must not leave the tool running behind it.
            try
            {
                process.Kill(entireProcessTree: true);
            }
            catch (InvalidOperationException)
            {
                // It ended meanwhile.
            }

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
