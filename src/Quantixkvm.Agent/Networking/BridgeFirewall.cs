using Quantixkvm.Contracts;
using Quantixkvm.Network.Linux;
using Quantixkvm.Network.SecurityGroups;

namespace Quantixkvm.Agent.Networking;

/// <summary>
/// The security groups of this host's bridge networks as one nftables table (<see cref="SecurityGroupNftables"/>):
/// every port of every bridge network the host holds, filtered by its bridge and MAC, whichever host its VM runs on (a
/// VM elsewhere is reached through the uplink, and is filtered the same way here as on its own host). Replaced whole
/// when it differs, deleted when no bridge network is left.
/// </summary>
internal sealed class BridgeFirewall(Nftables nft)
{
    /// <summary>Where the kernel's br_netfilter, which lets bridged frames reach the IP hooks (and conntrack), shows itself.</summary>
    private const string BridgeNetfilterSysctls = "/proc/sys/net/bridge";

    /// <summary>Writes the table for <paramref name="bridges"/>; returns how many of each network's ports it filters.</summary>
    public async Task<IReadOnlyDictionary<Guid, int>> RealizeAsync(
        IReadOnlyList<NetworkSpecification> bridges, IReadOnlyList<NetworkSpecification> allNetworks,
        IReadOnlyList<SecurityGroupSpecification> groups, CancellationToken cancellationToken)
    {
        var ports = bridges.SelectMany(n => n.Ports.Select(p => new BridgePort(
            p.PortId, n.BridgeName ?? throw new NetworkRealizationException("a bridge network needs a bridge name"), p.Mac, p.SecurityGroupIds))).ToList();
        if (ports.Count > 0 && !Directory.Exists(BridgeNetfilterSysctls))
        {
            throw new NetworkRealizationException(
                "security groups on bridge networks need the kernel's br_netfilter (modprobe br_netfilter): without it bridged traffic bypasses nftables");
        }

        var ruleset = SecurityGroupNftables.Ruleset(ports, groups.Select(SecurityRuleWire.ToGroup), SecurityRuleWire.GroupAddresses(allNetworks));
        await nft.EnsureTableAsync(SecurityGroupNftables.Family, SecurityGroupNftables.Table, ruleset, cancellationToken);
        return bridges.ToDictionary(n => n.NetworkId, n => n.Ports.Count);
    }

    /// <summary>Deletes the table; false when there was none.</summary>
    public Task<bool> RemoveAsync(CancellationToken cancellationToken) =>
        nft.DeleteTableAsync(SecurityGroupNftables.Family, SecurityGroupNftables.Table, cancellationToken);
}
