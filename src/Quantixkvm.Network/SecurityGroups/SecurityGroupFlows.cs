using System.Globalization;
using System.Net;
using Quantixkvm.Domain.Networks;

namespace Quantixkvm.Network.SecurityGroups;

/// <summary>
/// Security groups of the ports on one Open vSwitch bridge as its whole OpenFlow table — a pure translation, for
/// <c>ovs-ofctl replace-flows</c> (one flow per line), with the semantics of <see cref="SecurityGroupAcls"/> and
/// <see cref="SecurityGroupNftables"/> (Neutron's): every managed port drops IP traffic both ways except DHCP and IPv6
/// neighbour discovery; a port without a group may send anything; a port with groups gets exactly what their rules allow
/// in each direction; replies of allowed connections always pass. The bridge's userspace (netdev) datapath never hands
/// frames to netfilter, so connection state comes from OVS's own conntrack (<c>ct()</c>), as in Neutron's
/// "openvswitch" firewall driver. A port is its MAC: <c>dl_src</c> for what it sends, <c>dl_dst</c> for what it receives
/// (the same key as the nftables translation: VM ports are libvirt's or the agent's, their OpenFlow numbers unknown here).
/// <para>Tables:</para>
/// <list type="bullet">
/// <item>0, classifier: IPv6 neighbour and router discovery pass (<c>NORMAL</c>) before conntrack, which holds ICMPv6
/// other than echo and errors invalid — except router advertisements from a managed port, which are dropped (a VM is
/// not the network's router, as in Neutron); IPv4/IPv6 from or to a managed MAC goes through conntrack in the bridge's
/// zone (<c>ct(table=1,zone=Z)</c>); everything else (ARP, traffic between unmanaged MACs) is switched as is.</item>
/// <item>1, connection state: established and related → <c>NORMAL</c>; invalid → drop; new → table 2.</item>
/// <item>2, egress of the sender (<c>dl_src</c>): a port without groups may open anything; a port with groups may send
/// DHCP requests and what its groups' egress rules allow, nothing else; an unmanaged sender passes. Passing → table 3.</item>
/// <item>3, ingress of the receiver (<c>dl_dst</c>): DHCP answers and what the port's groups' ingress rules allow, nothing
/// else; an unmanaged receiver (another host, the uplink, broadcast) accepts. Accepted → <c>ct(commit)</c>, <c>NORMAL</c>.</item>
/// </list>
/// <para>
/// So a new connection between two managed ports passes the sender's egress and the receiver's ingress, and is then
/// committed once; its replies are established. A rule becomes one flow per (port, far address or CIDR, port-range
/// block): a remote group is its members' addresses, a port range the fewest value/mask blocks covering it. A bridge
/// without managed ports gets tables 0 and 1's defaults only: switched as usual.
/// </para>
/// </summary>
public static class SecurityGroupFlows
{
    public const int ClassifierTable = 0;
    public const int StateTable = 1;
    public const int EgressTable = 2;
    public const int IngressTable = 3;

    /// <summary>The ICMPv6 types of neighbour discovery a NIC needs: router solicitation and advertisement, neighbour solicitation and advertisement.</summary>
    private static readonly int[] NeighbourDiscovery = [133, 134, 135, 136];
    private const int RouterAdvertisement = 134;

    /// <summary>
    /// The whole flow table of <paramref name="bridge"/> for its <paramref name="ports"/> (all on that bridge), tracked in
    /// conntrack zone <paramref name="zone"/> (1-65535, the bridge's own, so that two bridges with overlapping addresses
    /// never share connections). <paramref name="groups"/> and <paramref name="groupAddresses"/> as for
    /// <see cref="SecurityGroupNftables.Ruleset"/>. A bad MAC, bridge, zone, address or rule is refused by name.
    /// </summary>
    public static string FlowTable(
        string bridge, int zone, IEnumerable<BridgePort> ports, IEnumerable<SecurityGroup> groups, ILookup<Guid, IPAddress> groupAddresses)
    {
        if (NetworkLimits.CheckInterfaceName("bridge name", bridge) is { } bridgeError)
        {
            throw new ArgumentException(bridgeError, nameof(bridge));
        }

        if (zone is < 1 or > 65535)
        {
            throw new ArgumentOutOfRangeException(nameof(zone), zone, $"conntrack zone {zone} is not 1-65535");
        }

        var managed = SecurityGroupInputs.Ports(ports);
        if (managed.Select(p => p.Port).FirstOrDefault(p => p.Bridge != bridge) is { } stranger)
        {
            throw new ArgumentException($"port {stranger.PortId} is on bridge {stranger.Bridge}, not {bridge}", nameof(ports));
        }

        var used = SecurityGroupInputs.UsedGroups(managed.Select(p => p.Port), groups).ToDictionary(g => g.GroupId);
        var flows = new FlowWriter(zone);

        // 0: neighbour discovery before conntrack, IP of managed ports into conntrack, the rest switched as is.
        foreach (var (_, mac) in managed)
        {
            flows.Add(ClassifierTable, 110, $"icmp6,icmp_type={RouterAdvertisement},dl_src={mac}", "drop");
        }

        foreach (var type in NeighbourDiscovery)
        {
            flows.Add(ClassifierTable, 100, $"icmp6,icmp_type={type}", "NORMAL");
        }

        foreach (var (_, mac) in managed)
        {
            foreach (var ip in new[] { "ip", "ipv6" })
            {
                flows.Add(ClassifierTable, 50, $"{ip},dl_src={mac}", flows.Track);
                flows.Add(ClassifierTable, 50, $"{ip},dl_dst={mac}", flows.Track);
            }
        }

        flows.Add(ClassifierTable, 0, null, "NORMAL");

        // 1: replies and related traffic of admitted connections pass; broken ones are dropped; new ones are checked.
        flows.Add(StateTable, 100, "ct_state=+est+trk", "NORMAL");
        flows.Add(StateTable, 100, "ct_state=+rel+trk", "NORMAL");
        flows.Add(StateTable, 90, "ct_state=+inv+trk", "drop");
        flows.Add(StateTable, 0, null, $"resubmit(,{EgressTable})");

        // 2 and 3: what a managed sender may open, what a managed receiver may accept.
        var toIngress = $"resubmit(,{IngressTable})";
        foreach (var (port, mac) in managed)
        {
            var portGroups = port.SecurityGroupIds.Distinct().Where(used.ContainsKey).Order().Select(id => used[id]).ToList();
            if (port.SecurityGroupIds.Count == 0)
            {
                flows.Add(EgressTable, 100, $"dl_src={mac}", toIngress);
            }
            else
            {
                flows.Add(EgressTable, 100, $"udp,dl_src={mac},tp_src=68,tp_dst=67", toIngress);
                flows.Add(EgressTable, 100, $"udp6,dl_src={mac},tp_src=546,tp_dst=547", toIngress);
                AddRules(flows, EgressTable, $"dl_src={mac}", portGroups, RuleDirection.Egress, groupAddresses, toIngress);
                flows.Add(EgressTable, 10, $"dl_src={mac}", "drop");
            }

            flows.Add(IngressTable, 100, $"udp,dl_dst={mac},tp_src=67,tp_dst=68", flows.Commit);
            flows.Add(IngressTable, 100, $"udp6,dl_dst={mac},tp_src=547,tp_dst=546", flows.Commit);
            AddRules(flows, IngressTable, $"dl_dst={mac}", portGroups, RuleDirection.Ingress, groupAddresses, flows.Commit);
            flows.Add(IngressTable, 10, $"dl_dst={mac}", "drop");
        }

        if (managed.Count > 0)
        {
            flows.Add(EgressTable, 0, null, toIngress);
            // ct() needs to know the packet is IP: one flow per family.
            flows.Add(IngressTable, 0, "ip", flows.Commit);
            flows.Add(IngressTable, 0, "ipv6", flows.Commit);
        }

        return flows.ToString();
    }

    /// <summary>
    /// The fewest value/mask blocks that cover the ports <paramref name="min"/>..<paramref name="max"/> exactly, as
    /// OpenFlow matches a range (<c>tp_dst=value/mask</c>): 1000-1999 is eight blocks, 0-65535 one.
    /// </summary>
    public static IReadOnlyList<(int Value, int Mask)> PortBlocks(int min, int max)
    {
        if (min is < 0 or > 65535 || max is < 0 or > 65535 || min > max)
        {
            throw new ArgumentOutOfRangeException(nameof(min), $"port range {min}-{max} is not within 0-65535, min first");
        }

        var blocks = new List<(int, int)>();
        var start = min;
        while (start <= max)
        {
            // The largest power-of-two block that starts here (aligned) and stays within the range.
            var size = 1;
            while (size < 65536 && start % (size * 2) == 0 && start + (size * 2) - 1 <= max)
            {
                size *= 2;
            }

            blocks.Add((start, 0xffff & ~(size - 1)));
            start += size;
        }

        return blocks;
    }

    private static void AddRules(
        FlowWriter flows, int table, string portMatch, IReadOnlyList<SecurityGroup> groups, RuleDirection direction,
        ILookup<Guid, IPAddress> groupAddresses, string actions)
    {
        foreach (var rule in groups.SelectMany(g => g.Rules).Where(r => r.Direction == direction))
        {
            foreach (var match in Matches(rule, groupAddresses))
            {
                flows.Add(table, 100, $"{match},{portMatch}", actions);
            }
        }
    }

    /// <summary>A rule's matches (without the port): the protocol, the far side (where ingress comes from, where egress goes), the destination ports.</summary>
    private static IEnumerable<string> Matches(SecurityRule rule, ILookup<Guid, IPAddress> groupAddresses)
    {
        var ipv4 = rule.EtherType == EtherType.Ipv4;
        var protocol = (rule.Protocol, ipv4) switch
        {
            (RuleProtocol.Tcp, true) => "tcp",
            (RuleProtocol.Tcp, false) => "tcp6",
            (RuleProtocol.Udp, true) => "udp",
            (RuleProtocol.Udp, false) => "udp6",
            (RuleProtocol.Icmp, _) => "icmp",
            (RuleProtocol.Icmp6, _) => "icmp6",
            (_, true) => "ip",
            (_, false) => "ipv6",
        };
        var remoteField = (ipv4 ? "nw_" : "ipv6_") + (rule.Direction == RuleDirection.Ingress ? "src" : "dst");
        IReadOnlyList<string> remotes = rule switch
        {
            { RemoteCidr: { PrefixLength: > 0 } cidr } => [$",{remoteField}={cidr}"],
            { RemoteCidr: null, RemoteGroupId: { } group } =>
                [.. SecurityGroupInputs.Addresses(groupAddresses[group], rule.EtherType).Select(address => $",{remoteField}={address}")],
            _ => [""],
        };
        IReadOnlyList<string> ports = rule.PortMin is { } min
            ? [.. PortBlocks(min, rule.PortMax ?? min).Select(b => b.Mask == 0xffff
                ? string.Create(CultureInfo.InvariantCulture, $",tp_dst={b.Value}")
                : string.Create(CultureInfo.InvariantCulture, $",tp_dst=0x{b.Value:x4}/0x{b.Mask:x4}"))]
            : [""];
        return remotes.SelectMany(remote => ports.Select(port => protocol + remote + port));
    }

    /// <summary>Flow lines as `ovs-ofctl add-flow` reads them, each once, table by table, in the order written.</summary>
    private sealed class FlowWriter(int zone)
    {
        private readonly SortedDictionary<int, List<string>> _tables = [];
        private readonly HashSet<string> _written = [];

        /// <summary>Into conntrack in the bridge's zone, then on in the state table.</summary>
        public string Track { get; } = string.Create(CultureInfo.InvariantCulture, $"ct(table={StateTable},zone={zone})");

        /// <summary>Admitted: remember the connection (its replies are then established), switch the packet.</summary>
        public string Commit { get; } = string.Create(CultureInfo.InvariantCulture, $"ct(commit,zone={zone}),NORMAL");

        public void Add(int table, int priority, string? match, string actions)
        {
            var line = string.Create(CultureInfo.InvariantCulture, $"table={table},priority={priority}{(match is null ? "" : "," + match)} actions={actions}");
            if (_written.Add(line))
            {
                (_tables.TryGetValue(table, out var lines) ? lines : _tables[table] = []).Add(line);
            }
        }

        public override string ToString() => string.Concat(_tables.Values.SelectMany(lines => lines).Select(line => line + "\n"));
    }
}
