using Quantixkvm.Network.Linux;

namespace Quantixkvm.Agent.Storage;

/// <summary>What a host tool (qemu-img, genisoimage, ...) said when it ended.</summary>
public sealed record ToolResult(int ExitCode, string StandardOutput, string StandardError)
{
    /// <summary>The tool's own words for a failure: its error output, else its output, else the exit code.</summary>
    public string Message =>
        StandardError.Trim() is { Length: > 0 } error ? error
        : StandardOutput.Trim() is { Length: > 0 } output ? output
        : $"exited with code {ExitCode}";
}

/// <summary>Runs host tools with an argument array (never through a shell), so no name or path is ever parsed as shell syntax.</summary>
public static class ExternalTool
{
    /// <summary>Runs <paramref name="file"/> to its end; a cancelled run kills the tool.</summary>
    /// <exception cref="OperationFailure">TOOL_MISSING: the tool could not be started (not installed).</exception>
    public static async Task<ToolResult> RunAsync(
        string file, IEnumerable<string> arguments, CancellationToken cancellationToken, string? workingDirectory = null)
    {
        try
        {
            var result = await HostTool.RunAsync([file, .. arguments], input: null, cancellationToken, workingDirectory);
            return new ToolResult(result.ExitCode, result.Output, result.Error);
        }
        catch (System.ComponentModel.Win32Exception ex)
        {
            throw new OperationFailure("TOOL_MISSING", $"{file} could not be started: {ex.Message}", ex);
        }
    }
}
