using System.Net;
using System.Net.Sockets;
using Quantixkvm.Domain.Networks;

namespace Quantixkvm.Network.SecurityGroups;

/// <summary>
/// The input checks the host-side translations (<see cref="SecurityGroupNftables"/>, <see cref="SecurityGroupFlows"/>)
/// share: every port's bridge name and MAC, no two ports one MAC on one bridge, the groups the ports name with every
/// rule valid, and plain addresses. Whatever is refused is named; nothing unchecked is written.
/// </summary>
internal static class SecurityGroupInputs
{
    /// <summary>The ports with their normalized MACs, in port id order; two ports with one MAC on one bridge are refused.</summary>
    public static IReadOnlyList<(BridgePort Port, string Mac)> Ports(IEnumerable<BridgePort> ports)
    {
        var managed = ports.Select(Checked).OrderBy(p => p.Port.PortId).ToList();
        var duplicate = managed.GroupBy(p => (p.Port.Bridge, p.Mac)).FirstOrDefault(g => g.Count() > 1);
        if (duplicate is not null)
        {
            throw new ArgumentException(
                $"ports {string.Join(" and ", duplicate.Select(p => p.Port.PortId))} both have MAC {duplicate.Key.Mac} on bridge {duplicate.Key.Bridge}: they cannot be told apart",
                nameof(ports));
        }

        return managed;
    }

    /// <summary>
    /// The groups the ports name, once each, in group id order, every rule checked as the OVN translation checks it.
    /// A group a port names but that is not given is left out: it contributes no rules, so it never opens a port up.
    /// </summary>
    public static IReadOnlyList<SecurityGroup> UsedGroups(IEnumerable<BridgePort> ports, IEnumerable<SecurityGroup> groups)
    {
        var named = ports.SelectMany(p => p.SecurityGroupIds).ToHashSet();
        var used = groups.Where(g => named.Contains(g.GroupId)).GroupBy(g => g.GroupId).Select(g => g.First()).OrderBy(g => g.GroupId).ToList();
        foreach (var (groupId, rule) in used.SelectMany(g => g.Rules.Select(r => (g.GroupId, r))))
        {
            // The checks of the OVN translation, which refuses a broken rule by name.
            SecurityGroupAcls.ForRule(groupId, rule);
        }

        return used;
    }

    /// <summary>The addresses of one family, as text, once each, in order.</summary>
    public static IReadOnlyList<string> Addresses(IEnumerable<IPAddress> addresses, EtherType etherType)
    {
        var family = etherType == EtherType.Ipv4 ? AddressFamily.InterNetwork : AddressFamily.InterNetworkV6;
        return [.. addresses.Where(a => a.AddressFamily == family).Select(Canonical).Distinct().Order(StringComparer.Ordinal)];
    }

    private static string Canonical(IPAddress address) =>
        address.AddressFamily != AddressFamily.InterNetworkV6 || address.ScopeId == 0
            ? address.ToString()
            : throw new ArgumentException($"address {address} has a zone: a security group matches plain addresses", nameof(address));

    private static (BridgePort Port, string Mac) Checked(BridgePort port)
    {
        if (NetworkLimits.CheckInterfaceName("bridge name", port.Bridge) is { } bridgeError)
        {
            throw new ArgumentException($"port {port.PortId}: {bridgeError}", nameof(port));
        }

        var (mac, macError) = MacAddress.Normalize(port.Mac);
        return mac is not null ? (port, mac) : throw new ArgumentException($"port {port.PortId}: {macError}", nameof(port));
    }
}
