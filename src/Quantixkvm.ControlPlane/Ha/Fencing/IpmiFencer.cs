using System.ComponentModel;
using System.Diagnostics;
using Microsoft.Extensions.Options;
using Quantixkvm.Domain.Hosts;

namespace Quantixkvm.ControlPlane.Ha.Fencing;

/// <summary>
/// Powers the host off through its BMC over IPMI with <c>ipmitool ... chassis power off</c>, then runs
/// <c>chassis power status</c> until it says off. The password goes in the IPMI_PASSWORD environment variable
/// (<c>-E</c>), never in the arguments, which other users of the machine can read in the process list.
/// </summary>
public sealed class IpmiFencer(IOptions<FencingOptions> options, TimeProvider time) : IHostFencer
{
    public const string PasswordVariable = "IPMI_PASSWORD";

    public string Name => "ipmi";

    /// <summary>The argument array of one ipmitool command (e.g. "chassis", "power", "off") for a BMC; never a password.</summary>
    public static IReadOnlyList<string> Arguments(IpmiFencing bmc, params string[] command) =>
        ["-I", bmc.Interface, "-H", bmc.Address, "-U", bmc.Username, "-E", .. command];

    public async Task<FenceVerdict> FenceAsync(FenceTarget target, CancellationToken cancellationToken)
    {
        var settings = options.Value;
        if (target.Config.Ipmi is not { } bmc)
        {
            return FenceVerdict.NotProven($"host {target.HostName} has no IPMI settings");
        }

        var where = $"ipmi at {bmc.Address} of host {target.HostName}";
        var secret = await FencingSecrets.ReadAsync(settings.SecretsDirectory, bmc.PasswordSecret, cancellationToken);
        if (secret.Value is null)
        {
            return FenceVerdict.NotProven($"{where}: {secret.Problem}");
        }

        var off = await RunAsync(bmc, secret.Value, ["chassis", "power", "off"], cancellationToken);
        if (off.Problem is not null)
        {
            return FenceVerdict.NotProven($"{where}: {off.Problem}");
        }

        var powerOffFailed = off.ExitCode != 0 ? $"'chassis power off' failed: {off.Message}" : null;
        var confirm = TimeSpan.FromSeconds(settings.PowerOffConfirmSeconds);
        var started = time.GetTimestamp();
        while (true)
        {
            var status = await RunAsync(bmc, secret.Value, ["chassis", "power", "status"], cancellationToken);
            if (status.Problem is not null)
            {
                return FenceVerdict.NotProven($"{where}: {status.Problem}");
            }

            if (status.ExitCode == 0 && SaysOff(status.Output))
            {
                return FenceVerdict.Proven(powerOffFailed is null
                    ? $"{where} accepted 'chassis power off' and reports '{status.Output.Trim()}' after {Seconds.Of(time.GetElapsedTime(started))}"
                    : $"{where} reports '{status.Output.Trim()}' (the power off itself answered: {off.Message})");
            }

            // A refused power off only counts if the chassis turns out to be off anyway (some BMCs refuse when it is).
            if (powerOffFailed is not null)
            {
                return FenceVerdict.NotProven($"{where}: {powerOffFailed}; power status: {status.Message}");
            }

            if (time.GetElapsedTime(started) >= confirm)
            {
                return FenceVerdict.NotProven(
                    $"{where} accepted 'chassis power off' but did not report the power off within {Seconds.Of(confirm)} (last: {status.Message})");
            }

            await Task.Delay(TimeSpan.FromSeconds(settings.PollSeconds), time, cancellationToken);
        }
    }

    /// <summary>ipmitool's "Chassis Power is off".</summary>
    internal static bool SaysOff(string output) =>
        output.Contains("power is off", StringComparison.OrdinalIgnoreCase);

    private async Task<IpmiRun> RunAsync(IpmiFencing bmc, string password, string[] command, CancellationToken cancellationToken)
    {
        var settings = options.Value;
        var start = new ProcessStartInfo(settings.IpmiToolPath)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
        };
        foreach (var argument in Arguments(bmc, command))
        {
            start.ArgumentList.Add(argument);
        }

        start.Environment[PasswordVariable] = password;
        var what = $"'{string.Join(' ', command)}'";
        Process? process;
        try
        {
            process = Process.Start(start);
        }
        catch (Win32Exception ex)
        {
            return IpmiRun.Failed($"ipmitool is not installed on the control plane ({settings.IpmiToolPath}: {ex.Message})");
        }

        if (process is null)
        {
            return IpmiRun.Failed($"ipmitool ({settings.IpmiToolPath}) did not start");
        }

        using (process)
        {
            using var limit = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            limit.CancelAfter(TimeSpan.FromSeconds(settings.IpmiTimeoutSeconds));
            try
            {
                process.StandardInput.Close();
                var output = process.StandardOutput.ReadToEndAsync(limit.Token);
                var error = process.StandardError.ReadToEndAsync(limit.Token);
                await process.WaitForExitAsync(limit.Token);
                return new IpmiRun(process.ExitCode, await output, await error, null);
            }
            catch (OperationCanceledException)
            {
                try
                {
                    process.Kill(entireProcessTree: true);
                }
                catch (InvalidOperationException)
                {
                    // It ended meanwhile.
                }

                cancellationToken.ThrowIfCancellationRequested();
                return IpmiRun.Failed($"ipmitool {what} did not finish within {Seconds.Of(settings.IpmiTimeoutSeconds)}");
            }
        }
    }

    private sealed record IpmiRun(int ExitCode, string Output, string Error, string? Problem)
    {
        public static IpmiRun Failed(string problem) => new(-1, "", "", problem);

        /// <summary>ipmitool's own words: its error output, else its output, else the exit code.</summary>
        public string Message =>
            Error.Trim() is { Length: > 0 } error ? error
            : Output.Trim() is { Length: > 0 } output ? output
            : $"exited with code {ExitCode}";
    }
}
