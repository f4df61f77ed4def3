using System.Globalization;
using Quantixkvm.Contracts;
using Quantixkvm.Network.Ovn;
using Quantixkvm.Network.Ovs;

namespace Quantixkvm.Agent.Networking;

/// <summary>
/// The host's part of OVS and overlay networks, in its Open_vSwitch database. An ovs network's bridge is created marked
/// qkvm-managed with external_ids:qkvm-network-id, so the bridges of deleted networks are found and deleted; a bridge
/// someone else made under the network's name is used as it is and never deleted. Overlay networks have no device of
/// their own: their VMs are plugged into OVN's integration bridge, which ovn-controller creates. Each managed bridge
/// has a conntrack zone of its own for its security groups' flows (<see cref="ConntrackZoneKey"/>), chosen once and kept.
/// </summary>
internal sealed class OvsBridges(OvsSwitch ovs)
{
    public const string NetworkIdKey = OvnNames.NetworkIdKey;

    /// <summary>
    /// The bridge's conntrack zone, in its external_ids. All bridges of the userspace datapath share one connection
    /// table, so each needs a zone of its own (two networks may use the same addresses); kept for the bridge's life, so
    /// that its connections survive the agent's rounds. Chosen from the top down: ovn-controller numbers br-int's zones
    /// from 1 up.
    /// </summary>
    public const string ConntrackZoneKey = "qkvm-ct-zone";

    /// <summary>The network's bridge as realized: what to report, and its conntrack zone (null: not ours, so no flows of ours).</summary>
    public sealed record Realized(string Summary, int? ConntrackZone);

    public async Task<Realized> RealizeAsync(NetworkSpecification network, CancellationToken cancellationToken)
    {
        var name = network.BridgeName ?? throw new NetworkRealizationException("an ovs network needs a bridge name");
        var id = network.NetworkId.ToString("D");
        var tagged = network.Vlan is { } vlan ? $", VM ports tagged vlan {vlan}" : "";
        var existing = await ovs.GetBridgeAsync(name, cancellationToken);
        if (existing is { IsManaged: false })
        {
            return new($"ovs bridge {name} (not made by Quantixkvm: used as it is){tagged}", null);
        }

        if (existing?.ExternalIds.GetValueOrDefault(NetworkIdKey) is { } owner && owner != id)
        {
            throw new NetworkRealizationException($"ovs bridge {name} belongs to network {owner}, not to this one");
        }

        var zone = ZoneOf(existing) ?? await FreeZoneAsync(cancellationToken);
        var externalIds = new Dictionary<string, string> { [NetworkIdKey] = id, [ConntrackZoneKey] = zone.ToString(CultureInfo.InvariantCulture) };
        await ovs.EnsureBridgeAsync(new OvsBridgeSpec(name, network.Mtu, externalIds), cancellationToken);
        return new($"ovs bridge {name} ({OvsSwitch.DatapathType} datapath), mtu {network.Mtu}{tagged}", zone);
    }

    private static int? ZoneOf(OvsBridge? bridge) =>
        bridge?.ExternalIds.GetValueOrDefault(ConntrackZoneKey) is { } text
        && int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var zone) && zone is >= 1 and <= 65535
            ? zone
            : null;

    /// <summary>The highest zone no other managed bridge holds.</summary>
    private async Task<int> FreeZoneAsync(CancellationToken cancellationToken)
    {
        var taken = (await ovs.ListManagedBridgesAsync(cancellationToken)).Select(ZoneOf).OfType<int>().ToHashSet();
        for (var zone = 65535; zone >= 1; zone--)
        {
            if (!taken.Contains(zone))
            {
                return zone;
            }
        }

        throw new NetworkRealizationException("every conntrack zone is taken by another bridge");
    }

    /// <summary>Overlay networks need OVN's integration bridge, which only ovn-controller makes.</summary>
    public async Task<string> CheckIntegrationBridgeAsync(CancellationToken cancellationToken) =>
        await ovs.GetBridgeAsync(NetworkKinds.OvnIntegrationBridge, cancellationToken) is null
            ? throw new NetworkRealizationException(
                $"ovn-controller has not created {NetworkKinds.OvnIntegrationBridge}: is ovn-controller running and pointed at the southbound db?")
            : $"OVN integration bridge {NetworkKinds.OvnIntegrationBridge} present";

    /// <summary>Deletes the managed bridges of networks not among <paramref name="desired"/> (or that they no longer name); returns their names.</summary>
    public async Task<IReadOnlyList<string>> RemoveStaleAsync(IReadOnlyList<NetworkSpecification> desired, CancellationToken cancellationToken)
    {
        var wanted = desired.Where(n => n.BridgeName is not null).Select(n => (n.NetworkId.ToString("D"), n.BridgeName!)).ToHashSet();
        var stale = (await ovs.ListManagedBridgesAsync(cancellationToken))
            .Where(b => b.ExternalIds.GetValueOrDefault(NetworkIdKey) is { } networkId && !wanted.Contains((networkId, b.Name)))
            .Select(b => b.Name)
            .ToList();
        foreach (var name in stale)
        {
            await ovs.DeleteBridgeAsync(name, cancellationToken);
        }

        return stale;
    }
}
