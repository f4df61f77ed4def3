using System.Globalization;
using System.Net;
using System.Text;
using Quantixkvm.Domain.Networks;

namespace Quantixkvm.Network.SecurityGroups;

/// <summary>
/// A VM port on a Linux bridge of this host, as its security groups are enforced there: matched by the bridge it is
/// on and its MAC (the TAP device is libvirt's, unknown to the agent). No groups: it may send anything.
/// </summary>
public sealed record BridgePort(Guid PortId, string Bridge, string Mac, IReadOnlyList<Guid> SecurityGroupIds);

/// <summary>
/// Security groups of the ports on Linux bridges as one nftables table — a pure translation, with the semantics of
/// <see cref="SecurityGroupAcls"/> (Neutron's): every managed port drops IP traffic both ways except DHCP and IPv6
/// neighbour discovery; a port without a group may send anything; a port with groups gets exactly what their rules
/// allow in each direction; replies of allowed connections always pass (conntrack).
/// <para>
/// The table is <c>inet qkvm</c>, not a bridge-family table: connection tracking in the bridge family needs the kernel's
/// nf_conntrack_bridge, which many kernels (this project's test machine among them) do not have. Instead each bridge
/// passes its IPv4/IPv6 frames through the IP hooks (br_netfilter, turned on per bridge by
/// <see cref="Linux.IpLink.EnsureBridgeNetfilterAsync"/>), where conntrack works on every kernel, and the frame's
/// Ethernet header is still there to match. There, a bridged frame's in and out interfaces are the bridge itself, so a
/// port is keyed by (bridge, MAC): <c>iifname . ether saddr</c> for traffic from it, <c>oifname . ether daddr</c> for
/// traffic to it. ARP and other non-IP frames never reach these hooks, so they pass.
/// </para>
/// <para>
/// Two base chains on the forward hook, so that each direction has its own verdict: <c>egress</c> (priority filter - 1)
/// decides what a port may send, <c>ingress</c> (priority filter) what it may receive; a packet between two managed
/// ports must pass both. Each port has a chain per direction; each group a chain per direction holding its rules as
/// accepts, jumped to from its ports' chains, whose last rule is the drop (or, egress without groups, the accept). A
/// remote group is a named set of its members' addresses per family. The text replaces the whole table in one
/// transaction (add, delete, define), so a ruleset that fails to load leaves the previous one in force.
/// </para>
/// </summary>
public static class SecurityGroupNftables
{
    public const string Family = "inet";
    public const string Table = "qkvm";

    public static string PortChain(Guid portId, RuleDirection direction) => $"port_{portId:N}_{Name(direction)}";

    public static string GroupChain(Guid groupId, RuleDirection direction) => $"sg_{groupId:N}_{Name(direction)}";

    /// <summary>The set of the addresses of a group's ports, of one family: what a rule naming the group as remote matches.</summary>
    public static string RemoteSet(Guid groupId, EtherType etherType) => $"sg_{groupId:N}_{(etherType == EtherType.Ipv4 ? "ip4" : "ip6")}";

    /// <summary>The text that removes the table (and succeeds when there is none).</summary>
    public static string Removal() => $"table {Family} {Table}\ndelete table {Family} {Table}\n";

    /// <summary>
    /// The whole table for these ports. <paramref name="groups"/>: the groups the ports name (others are ignored; a group
    /// a port names but that is not given contributes no rules, so the port is never opened up by a group going missing).
    /// <paramref name="groupAddresses"/>: the addresses of each group's ports, wherever they are (remote groups).
    /// A MAC, bridge name, address or rule that is not valid is refused by name: nothing unchecked is written.
    /// </summary>
    public static string Ruleset(IEnumerable<BridgePort> ports, IEnumerable<SecurityGroup> groups, ILookup<Guid, IPAddress> groupAddresses)
    {
        var managed = SecurityGroupInputs.Ports(ports);
        var used = SecurityGroupInputs.UsedGroups(managed.Select(p => p.Port), groups);
        var known = used.Select(g => g.GroupId).ToHashSet();
        var text = new StringBuilder()
            .Append("# Security groups of this host's bridge networks, written whole by the Quantixkvm agent: edits by hand are replaced.\n")
            .Append(Removal())
            .Append(CultureInfo.InvariantCulture, $"table {Family} {Table} {{\n");

        var remotes = used.SelectMany(g => g.Rules).Where(r => r.RemoteGroupId is not null && r.RemoteCidr is null)
            .Select(r => (Group: r.RemoteGroupId!.Value, r.EtherType)).Distinct().OrderBy(r => r.Group).ThenBy(r => r.EtherType);
        foreach (var (group, etherType) in remotes)
        {
            AppendRemoteSet(text, group, etherType, groupAddresses[group]);
        }

        AppendBaseChain(text, RuleDirection.Egress, managed);
        AppendBaseChain(text, RuleDirection.Ingress, managed);
        foreach (var (port, _) in managed)
        {
            var groupsOfPort = port.SecurityGroupIds.Distinct().Where(known.Contains).Order().ToList();
            AppendPortChain(text, port, RuleDirection.Egress, groupsOfPort, openEgress: port.SecurityGroupIds.Count == 0);
            AppendPortChain(text, port, RuleDirection.Ingress, groupsOfPort, openEgress: false);
        }

        foreach (var group in used)
        {
            AppendGroupChain(text, group, RuleDirection.Egress);
            AppendGroupChain(text, group, RuleDirection.Ingress);
        }

        return text.Append("}\n").ToString();
    }

    private static void AppendRemoteSet(StringBuilder text, Guid group, EtherType etherType, IEnumerable<IPAddress> addresses)
    {
        var members = SecurityGroupInputs.Addresses(addresses, etherType);
        text.Append(CultureInfo.InvariantCulture, $"\tset {RemoteSet(group, etherType)} {{\n")
            .Append(etherType == EtherType.Ipv4 ? "\t\ttype ipv4_addr\n" : "\t\ttype ipv6_addr\n");
        if (members.Count > 0)
        {
            text.Append("\t\telements = { ").AppendJoin(", ", members).Append(" }\n");
        }

        text.Append("\t}\n");
    }

    private static void AppendBaseChain(StringBuilder text, RuleDirection direction, IReadOnlyList<(BridgePort Port, string Mac)> ports)
    {
        var egress = direction == RuleDirection.Egress;
        text.Append(CultureInfo.InvariantCulture, $"\tchain {Name(direction)} {{\n")
            .Append(egress
                ? "\t\ttype filter hook forward priority filter - 1; policy accept;\n"
                : "\t\ttype filter hook forward priority filter; policy accept;\n")
            .Append("\t\tct state established,related accept\n");
        if (ports.Count > 0)
        {
            text.Append(egress ? "\t\tiifname . ether saddr vmap {\n" : "\t\toifname . ether daddr vmap {\n");
            for (var i = 0; i < ports.Count; i++)
            {
                var (port, mac) = ports[i];
                text.Append(CultureInfo.InvariantCulture, $"\t\t\t\"{port.Bridge}\" . {mac} : jump {PortChain(port.PortId, direction)}")
                    .Append(i < ports.Count - 1 ? ",\n" : "\n");
            }

            text.Append("\t\t}\n");
        }

        text.Append("\t}\n");
    }

    private static void AppendPortChain(StringBuilder text, BridgePort port, RuleDirection direction, IReadOnlyList<Guid> groups, bool openEgress)
    {
        text.Append(CultureInfo.InvariantCulture, $"\tchain {PortChain(port.PortId, direction)} {{\n");
        // What a NIC needs to come up: DHCP to the servers and their answers, IPv6 neighbour and router discovery.
        text.Append(direction == RuleDirection.Egress
            ? "\t\tmeta nfproto ipv4 udp sport 68 udp dport 67 accept\n"
              + "\t\tmeta nfproto ipv6 udp sport 546 udp dport 547 accept\n"
              + "\t\ticmpv6 type { nd-router-solicit, nd-neighbor-solicit, nd-neighbor-advert } accept\n"
            : "\t\tmeta nfproto ipv4 udp sport 67 udp dport 68 accept\n"
              + "\t\tmeta nfproto ipv6 udp sport 547 udp dport 546 accept\n"
              + "\t\ticmpv6 type { nd-router-advert, nd-neighbor-solicit, nd-neighbor-advert } accept\n");
        foreach (var group in groups)
        {
            text.Append(CultureInfo.InvariantCulture, $"\t\tjump {GroupChain(group, direction)}\n");
        }

        text.Append(openEgress ? "\t\taccept\n" : "\t\tdrop\n").Append("\t}\n");
    }

    private static void AppendGroupChain(StringBuilder text, SecurityGroup group, RuleDirection direction)
    {
        text.Append(CultureInfo.InvariantCulture, $"\tchain {GroupChain(group.GroupId, direction)} {{\n");
        foreach (var rule in group.Rules.Where(r => r.Direction == direction))
        {
            text.Append("\t\t").Append(Match(rule)).Append(" accept\n");
        }

        text.Append("\t}\n");
    }

    /// <summary>A rule's match: the family, the far side (where ingress traffic comes from, where egress traffic goes), the protocol and ports.</summary>
    private static string Match(SecurityRule rule)
    {
        var ipv4 = rule.EtherType == EtherType.Ipv4;
        var parts = new List<string> { ipv4 ? "meta nfproto ipv4" : "meta nfproto ipv6" };
        var remote = $"{(ipv4 ? "ip" : "ip6")} {(rule.Direction == RuleDirection.Ingress ? "saddr" : "daddr")}";
        if (rule.RemoteCidr is { PrefixLength: > 0 } cidr)
        {
            parts.Add($"{remote} {cidr}");
        }
        else if (rule.RemoteCidr is null && rule.RemoteGroupId is { } group)
        {
            parts.Add($"{remote} @{RemoteSet(group, rule.EtherType)}");
        }

        switch (rule.Protocol)
        {
            case RuleProtocol.Tcp or RuleProtocol.Udp:
                var l4 = rule.Protocol == RuleProtocol.Tcp ? "tcp" : "udp";
                parts.Add($"meta l4proto {l4}");
                if (rule.PortMin is { } min)
                {
                    var max = rule.PortMax ?? min;
                    parts.Add(min == max
                        ? string.Create(CultureInfo.InvariantCulture, $"{l4} dport {min}")
                        : string.Create(CultureInfo.InvariantCulture, $"{l4} dport {min}-{max}"));
                }

                break;
            case RuleProtocol.Icmp:
                parts.Add("meta l4proto icmp");
                break;
            case RuleProtocol.Icmp6:
                parts.Add("meta l4proto ipv6-icmp");
                break;
        }

        return string.Join(' ', parts);
    }

    private static string Name(RuleDirection direction) => direction == RuleDirection.Ingress ? "ingress" : "egress";
}
