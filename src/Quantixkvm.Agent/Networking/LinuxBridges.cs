using Quantixkvm.Contracts;
using Quantixkvm.Network.Linux;

namespace Quantixkvm.Agent.Networking;

/// <summary>
/// Linux bridge networks on this host, through `ip`. Linux devices have no external_ids, so the devices the agent
/// creates (the bridge, the VLAN sub-interface of the uplink) carry the alias <c>qkvm:&lt;network id&gt;</c>: that is how
/// the ones of a deleted network are found again, and how a device someone else made is never deleted. A device that
/// already existed unmarked under the network's name is used as it is and left in place when the network goes.
/// </summary>
internal sealed class LinuxBridges(IpLink ip)
{
    public const string AliasPrefix = "qkvm:";

    public static string AliasFor(Guid networkId) => AliasPrefix + networkId.ToString("D");

    /// <summary>
    /// The bridge (up, with the network's MTU, passing IP frames to netfilter), and the uplink or its VLAN sub-interface
    /// enslaved to it.
    /// </summary>
    public async Task<string> RealizeAsync(NetworkSpecification network, CancellationToken cancellationToken)
    {
        var name = network.BridgeName ?? throw new NetworkRealizationException("a bridge network needs a bridge name");
        var mark = AliasFor(network.NetworkId);
        var bridgeBefore = await ip.GetAsync(name, cancellationToken);
        CheckNotAnothers("linux bridge", bridgeBefore, network.NetworkId);
        await ip.EnsureBridgeAsync(name, network.Mtu, cancellationToken);
        if (bridgeBefore is null || bridgeBefore.Alias == mark)
        {
            await ip.SetAliasAsync(name, mark, cancellationToken);
        }

        // Its IP frames through netfilter's IP hooks, where the security groups' table (BridgeFirewall) sees them with conntrack.
        await ip.EnsureBridgeNetfilterAsync(name, cancellationToken);

        var summary = $"linux bridge {name} up, mtu {network.Mtu}";
        if (network.Vlan is { } vlan)
        {
            var uplink = network.Uplink ?? throw new NetworkRealizationException($"VLAN {vlan} needs an uplink interface to carry it");
            var vlanName = IpLink.VlanInterfaceName(uplink, vlan);
            var vlanBefore = await ip.GetAsync(vlanName, cancellationToken);
            CheckNotAnothers("VLAN interface", vlanBefore, network.NetworkId);
            await ip.EnsureVlanAsync(uplink, vlan, name, network.Mtu, cancellationToken);
            if (vlanBefore is null || vlanBefore.Alias == mark)
            {
                await ip.SetAliasAsync(vlanName, mark, cancellationToken);
            }

            summary += $", vlan {vlan} of {uplink} ({vlanName})";
        }
        else if (network.Uplink is { } uplink)
        {
            // The uplink is the host's own NIC: enslaved, never marked, so never deleted.
            await ip.EnsureMasterAsync(uplink, name, cancellationToken);
            summary += $", uplink {uplink}";
        }

        // The kernel gives a bridge the smallest MTU of its ports when one is added, unless it was set after creation.
        await ip.EnsureBridgeAsync(name, network.Mtu, cancellationToken);
        return summary;
    }

    /// <summary>
    /// Deletes the devices marked by the agent whose network is no longer among <paramref name="desired"/> (or that the
    /// network no longer names); returns their names. VLAN sub-interfaces go before bridges.
    /// </summary>
    public async Task<IReadOnlyList<string>> RemoveStaleAsync(IReadOnlyList<NetworkSpecification> desired, CancellationToken cancellationToken)
    {
        var wanted = desired.ToDictionary(n => n.NetworkId, DeviceNames);
        var stale = (await ip.ListAsync(cancellationToken))
            .Where(link => MarkedNetwork(link) is { } networkId && !(wanted.TryGetValue(networkId, out var names) && names.Contains(link.Name)))
            .OrderBy(link => link.Kind == "bridge")
            .ToList();
        foreach (var link in stale)
        {
            await ip.DeleteAsync(link.Name, cancellationToken);
        }

        return [.. stale.Select(l => l.Name)];
    }

    /// <summary>The network whose mark the device carries, or null when it is not the agent's.</summary>
    public static Guid? MarkedNetwork(LinkInfo link) =>
        link.Alias is { } alias && alias.StartsWith(AliasPrefix, StringComparison.Ordinal) && Guid.TryParse(alias[AliasPrefix.Length..], out var id) ? id : null;

    private static HashSet<string> DeviceNames(NetworkSpecification network)
    {
        var names = new HashSet<string>(StringComparer.Ordinal);
        if (network.BridgeName is { } bridge)
        {
            names.Add(bridge);
        }

        if (network.Uplink is { } uplink && network.Vlan is { } vlan)
        {
            try
            {
                names.Add(IpLink.VlanInterfaceName(uplink, vlan));
            }
            catch (ArgumentException)
            {
                // Such a name is refused when the network is realized; there is no device of it to keep.
            }
        }

        return names;
    }

    private static void CheckNotAnothers(string what, LinkInfo? device, Guid networkId)
    {
        if (device is not null && MarkedNetwork(device) is { } owner && owner != networkId)
        {
            throw new NetworkRealizationException($"{what} {device.Name} belongs to network {owner} (alias {device.Alias}), not to this one");
        }
    }
}
