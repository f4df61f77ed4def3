using Quantixkvm.Contracts;
using Quantixkvm.Network.Ovn;
using Quantixkvm.Network.Ovs;

namespace Quantixkvm.Agent.Networking;

/// <summary>
/// The host's part of OVS and overlay networks, in its Open_vSwitch database. An ovs network's bridge is created marked
/// qkvm-managed with external_ids:qkvm-network-id, so the bridges of deleted networks are found and deleted; a bridge
/// someone else made under the network's name is used as it is and never deleted. Overlay networks have no device of
/// their own: their VMs are plugged into OVN's integration bridge, which ovn-controller creates.
/// </summary>
internal sealed class OvsBridges(OvsSwitch ovs)
{
    public const string NetworkIdKey = OvnNames.NetworkIdKey;

    public async Task<string> RealizeAsync(NetworkSpecification network, CancellationToken cancellationToken)
    {
        var name = network.BridgeName ?? throw new NetworkRealizationException("an ovs network needs a bridge name");
        var id = network.NetworkId.ToString("D");
        var tagged = network.Vlan is { } vlan ? $", VM ports tagged vlan {vlan}" : "";
        var existing = await ovs.GetBridgeAsync(name, cancellationToken);
        if (existing is { IsManaged: false })
        {
            return $"ovs bridge {name} (not made by Quantixkvm: used as it is){tagged}";
        }

        if (existing?.ExternalIds.GetValueOrDefault(NetworkIdKey) is { } owner && owner != id)
        {
            throw new NetworkRealizationException($"ovs bridge {name} belongs to network {owner}, not to this one");
        }

        await ovs.EnsureBridgeAsync(new OvsBridgeSpec(name, network.Mtu, new Dictionary<string, string> { [NetworkIdKey] = id }), cancellationToken);
        return $"ovs bridge {name} ({OvsSwitch.DatapathType} datapath), mtu {network.Mtu}{tagged}";
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
