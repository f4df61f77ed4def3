using Quantixkvm.Contracts;
using Quantixkvm.Network.Ovs;
using Quantixkvm.Network.SecurityGroups;

namespace Quantixkvm.Agent.Networking;

/// <summary>
/// The security groups of an ovs network as its bridge's OpenFlow table (<see cref="SecurityGroupFlows"/>, conntrack in
/// the bridge's zone), replaced whole when it differs. Every port of the network is filtered, whichever host its VM runs
/// on, as on bridge networks (<see cref="BridgeFirewall"/>). Only bridges the agent made: another's bridge keeps its
/// owner's flows, so groups cannot be enforced there, which a network with ports reports as its failure.
/// </summary>
/// <paramref name="tables"/>: null when ovs-vswitchd's run folder is not known (the OVS database is reached over TCP and
/// Agent:Network:OvsRunDir is not set).
internal sealed class OvsFirewall(OvsFlowTables? tables)
{
    /// <summary>How long a bridge just created may take to appear in ovs-vswitchd (its management socket).</summary>
    private static readonly TimeSpan NewBridgeWait = TimeSpan.FromSeconds(10);

    /// <summary>Writes the bridge's flows; returns what to report, or null when there is nothing to say (no ports).</summary>
    public async Task<string?> RealizeAsync(
        NetworkSpecification network, OvsBridges.Realized bridge, IReadOnlyList<NetworkSpecification> allNetworks,
        IReadOnlyList<SecurityGroupSpecification> groups, CancellationToken cancellationToken)
    {
        var name = network.BridgeName ?? throw new NetworkRealizationException("an ovs network needs a bridge name");
        if (bridge.ConntrackZone is not { } zone)
        {
            return network.Ports.Count == 0
                ? null
                : throw new NetworkRealizationException(
                    $"security groups cannot be enforced on ovs bridge {name}: it was not made by Quantixkvm, and its flows are its owner's");
        }

        if (tables is null)
        {
            return network.Ports.Count == 0
                ? null
                : throw new NetworkRealizationException(
                    $"security groups cannot be enforced on ovs bridge {name}: ovs-vswitchd's run folder is unknown (set Agent:Network:OvsRunDir)");
        }

        if (!await ServedAsync(tables, name, patient: network.Ports.Count > 0, cancellationToken))
        {
            // No ovs-vswitchd holds the bridge, so it holds no flows at all: without ports there is nothing to enforce.
            return network.Ports.Count == 0
                ? null
                : throw new NetworkRealizationException(
                    $"security groups cannot be enforced on ovs bridge {name}: ovs-vswitchd does not serve it (no {tables.ManagementSocket(name)}); is ovs-vswitchd running?");
        }

        var ports = network.Ports.Select(p => new BridgePort(p.PortId, name, p.Mac, p.SecurityGroupIds));
        var flows = SecurityGroupFlows.FlowTable(name, zone, ports, groups.Select(SecurityRuleWire.ToGroup), SecurityRuleWire.GroupAddresses(allNetworks));
        await tables.EnsureAsync(name, flows, cancellationToken);
        return network.Ports.Count == 0 ? null : $"security groups on {network.Ports.Count} port(s) (OpenFlow, conntrack zone {zone})";
    }

    private static async Task<bool> ServedAsync(OvsFlowTables tables, string bridge, bool patient, CancellationToken cancellationToken)
    {
        var deadline = DateTime.UtcNow + NewBridgeWait;
        while (!tables.Serves(bridge))
        {
            if (!patient || DateTime.UtcNow > deadline)
            {
                return false;
            }

            await Task.Delay(TimeSpan.FromMilliseconds(100), cancellationToken);
        }

        return true;
    }
}
