using Quantixkvm.Domain.Networks;
using Quantixkvm.Network.Linux;

namespace Quantixkvm.Network.Ovs;

/// <summary>`ovs-ofctl` exited with an error; <see cref="Exception.Message"/> holds the command and ovs-ofctl's own message.</summary>
public sealed class OvsOfctlException(IReadOnlyList<string> command, int exitCode, string error)
    : Exception($"'{string.Join(' ', command)}' failed (exit {exitCode}): {error.Trim()}")
{
    public IReadOnlyList<string> Command { get; } = command;

    public int ExitCode { get; } = exitCode;

    public string Error { get; } = error.Trim();
}

/// <summary>
/// The OpenFlow tables of bridges owned by their caller, each replaced whole. OVSDB does not carry flows (ovs-vswitchd
/// holds them), and OpenFlow is a binary protocol whose client would be a project of its own, so the flows go to
/// `ovs-ofctl --bundle replace-flows BRIDGE -` on standard input, run from an argument list (never a shell string): one
/// OpenFlow bundle, so a table the switch refuses leaves the previous one in force. ovs-ofctl reaches the bridge through
/// its management socket, <c>RUNDIR/BRIDGE.mgmt</c>, in ovs-vswitchd's run folder (where db.sock is too).
/// <paramref name="commandPrefix"/> runs ovs-ofctl through another command, as <see cref="Nftables"/> does: ["sudo", "-n"]
/// for privileges. Writing the same flows again is skipped as long as the bridge still holds what `ovs-ofctl
/// dump-flows` listed right after they were written, so a steady state runs one dump per bridge and round, and flows
/// changed by hand, or lost when ovs-vswitchd restarted, are written again.
/// </summary>
public sealed class OvsFlowTables
{
    private readonly string _runDirectory;
    private readonly IReadOnlyList<string> _prefix;
    private readonly SemaphoreSlim _serial = new(1, 1);
    private readonly Dictionary<string, (string Flows, string Listing)> _applied = [];

    public OvsFlowTables(string runDirectory, IReadOnlyList<string>? commandPrefix = null)
    {
        if (string.IsNullOrWhiteSpace(runDirectory) || !Path.IsPathFullyQualified(runDirectory))
        {
            throw new ArgumentException($"the Open vSwitch run folder '{runDirectory}' must be an absolute path", nameof(runDirectory));
        }

        _runDirectory = runDirectory;
        _prefix = commandPrefix ?? [];
    }

    /// <summary>The management socket ovs-vswitchd serves for the bridge: where its OpenFlow table is reached.</summary>
    public string ManagementSocket(string bridge) => Path.Combine(_runDirectory, CheckBridge(bridge) + ".mgmt");

    /// <summary>Whether ovs-vswitchd serves the bridge here (its management socket exists): without it, the bridge holds no flows at all.</summary>
    public bool Serves(string bridge) => File.Exists(ManagementSocket(bridge));

    /// <summary>The bridge's flows as `ovs-ofctl dump-flows --no-stats` lists them, one per line, sorted (the dump's order is the switch's).</summary>
    public async Task<string> DumpAsync(string bridge, CancellationToken cancellationToken = default)
    {
        List<string> command = [.. _prefix, "ovs-ofctl", "dump-flows", "--no-stats", Target(bridge)];
        var result = await HostTool.RunAsync(command, input: null, cancellationToken);
        if (result.ExitCode != 0)
        {
            throw new OvsOfctlException(command, result.ExitCode, result.Error);
        }

        return string.Join('\n', result.Output.Split('\n', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries).Order(StringComparer.Ordinal));
    }

    /// <summary>
    /// Makes <paramref name="flows"/> (one flow per line, as ovs-ofctl's add-flow reads them) the bridge's whole table,
    /// unless they are the flows written last and the bridge still holds them. True when they were written.
    /// </summary>
    public async Task<bool> EnsureAsync(string bridge, string flows, CancellationToken cancellationToken = default)
    {
        CheckBridge(bridge);
        ArgumentException.ThrowIfNullOrWhiteSpace(flows);
        await _serial.WaitAsync(cancellationToken);
        try
        {
            var listing = await DumpAsync(bridge, cancellationToken);
            if (_applied.TryGetValue(bridge, out var last) && last.Flows == flows && last.Listing == listing)
            {
                return false;
            }

            _applied.Remove(bridge);
            List<string> command = [.. _prefix, "ovs-ofctl", "--bundle", "replace-flows", Target(bridge), "-"];
            var result = await HostTool.RunAsync(command, flows, cancellationToken);
            if (result.ExitCode != 0)
            {
                throw new OvsOfctlException(command, result.ExitCode, result.Error);
            }

            _applied[bridge] = (flows, await DumpAsync(bridge, cancellationToken));
            return true;
        }
        finally
        {
            _serial.Release();
        }
    }

    private string Target(string bridge) => "unix:" + ManagementSocket(bridge);

    private static string CheckBridge(string bridge) =>
        NetworkLimits.CheckInterfaceName("bridge name", bridge) is { } error ? throw new ArgumentException(error, nameof(bridge)) : bridge;
}
