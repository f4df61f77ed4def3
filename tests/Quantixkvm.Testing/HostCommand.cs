using System.Diagnostics;

namespace Quantixkvm.Testing;

/// <summary>
/// Runs a host tool (ip, ovs-vsctl, socat, ...) with an argument array, never a shell string. Network namespaces, veth
/// pairs and OVS need root: run as another user, the command goes through <c>sudo -n</c>. Every call is bounded, so a
/// wedged tool fails the test with its name instead of hanging the run.
/// </summary>
public static class HostCommand
{
    /// <summary>What goes before a root-only tool run as another user: <c>sudo -n</c>; nothing when already root.</summary>
    public static readonly string[] Privilege = Environment.IsPrivilegedProcess ? [] : ["sudo", "-n"];

    /// <summary>Long enough for any of these tools on a busy machine; only a hung one reaches it.</summary>
    public static readonly TimeSpan DefaultTimeout = TimeSpan.FromMinutes(2);

    public sealed record Result(string Command, int ExitCode, string Output, string Error)
    {
        public bool Succeeded => ExitCode == 0;
    }

    /// <summary>Runs the command to its end; the exit code is the caller's to judge.</summary>
    public static async Task<Result> RunAsync(
        string file, IEnumerable<string> arguments, string? input = null, IReadOnlyDictionary<string, string>? environment = null,
        CancellationToken cancellationToken = default)
    {
        var start = StartInfo(file, arguments, environment);
        start.RedirectStandardInput = true;
        var command = Describe(start);
        using var process = Process.Start(start) ?? throw new InvalidOperationException($"{command} did not start");
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(DefaultTimeout);
        var output = process.StandardOutput.ReadToEndAsync(timeout.Token);
        var error = process.StandardError.ReadToEndAsync(timeout.Token);
        try
        {
            if (input is not null)
            {
                await process.StandardInput.WriteAsync(input.AsMemory(), timeout.Token);
            }

            process.StandardInput.Close();
            await process.WaitForExitAsync(timeout.Token);
            return new Result(command, process.ExitCode, await output, await error);
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            Kill(process);
            throw new TimeoutException($"{command} did not finish within {DefaultTimeout}");
        }
        catch
        {
            Kill(process);
            throw;
        }
    }

    /// <summary>Runs the command and returns its output; a non-zero exit fails with the command and its error output.</summary>
    public static async Task<string> RunCheckedAsync(
        string file, IEnumerable<string> arguments, string? input = null, IReadOnlyDictionary<string, string>? environment = null,
        CancellationToken cancellationToken = default)
    {
        var result = await RunAsync(file, arguments, input, environment, cancellationToken);
        return result.Succeeded
            ? result.Output
            : throw new InvalidOperationException($"{result.Command} exited with {result.ExitCode}: {result.Error.Trim()} {result.Output.Trim()}".TrimEnd());
    }

    /// <summary>Starts a long-running command (a listener); the caller ends it with <see cref="Kill"/>.</summary>
    public static Process StartBackground(string file, IEnumerable<string> arguments)
    {
        var start = StartInfo(file, arguments, environment: null);
        var process = Process.Start(start) ?? throw new InvalidOperationException($"{Describe(start)} did not start");
        // Drained, so a chatty process never blocks on a full pipe.
        process.OutputDataReceived += (_, _) => { };
        process.ErrorDataReceived += (_, _) => { };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return process;
    }

    /// <summary>Ends a process and its children (sudo's child too); one that is already gone is fine.</summary>
    public static void Kill(Process process)
    {
        try
        {
            if (!process.HasExited)
            {
                process.Kill(entireProcessTree: true);
                process.WaitForExit(TimeSpan.FromSeconds(10));
            }
        }
        catch (InvalidOperationException)
        {
            // It exited meanwhile.
        }
    }

    private static ProcessStartInfo StartInfo(string file, IEnumerable<string> arguments, IReadOnlyDictionary<string, string>? environment)
    {
        var start = new ProcessStartInfo
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        if (Environment.IsPrivilegedProcess)
        {
            start.FileName = file;
        }
        else
        {
            start.FileName = "sudo";
            start.ArgumentList.Add("-n");
            if (environment is not null)
            {
                // sudo does not pass the environment on: env sets it as root.
                start.ArgumentList.Add("env");
                foreach (var (key, value) in environment)
                {
                    start.ArgumentList.Add($"{key}={value}");
                }
            }

            start.ArgumentList.Add(file);
        }

        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        foreach (var (key, value) in environment ?? new Dictionary<string, string>())
        {
            start.Environment[key] = value;
        }

        return start;
    }

    private static string Describe(ProcessStartInfo start) => string.Join(' ', [start.FileName, .. start.ArgumentList]);
}
