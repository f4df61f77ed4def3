using System.Globalization;
using System.Net.Sockets;
using System.Text;
using Quantixkvm.Domain.Networks;
using Quantixkvm.Network.Ovn;

namespace Quantixkvm.Network.SecurityGroups;

/// <summary>
/// One allow rule of a security group. Ports (destination ports) only for TCP/UDP; a remote CIDR or a remote group (its
/// ports' addresses), not both; neither means any address. The ether type must match the CIDR and ICMP flavour.
/// </summary>
public sealed record SecurityRule(
    Guid RuleId,
    RuleDirection Direction,
    RuleProtocol Protocol = RuleProtocol.Any,
    int? PortMin = null,
    int? PortMax = null,
    Cidr? RemoteCidr = null,
    Guid? RemoteGroupId = null,
    EtherType EtherType = EtherType.Ipv4);

public sealed record SecurityGroup(Guid GroupId, IReadOnlyList<SecurityRule> Rules);

/// <summary>
/// Security groups as OVN ACLs on port groups — a pure translation. Every managed port is in <see cref="ManagedPortGroup"/>,
/// whose ACLs (<see cref="Defaults"/>) drop IP traffic to and from the port at <see cref="DefaultPriority"/>, except what a
/// NIC needs to come up (DHCP, IPv6 neighbour discovery). Ports without a group are also in <see cref="OpenEgressPortGroup"/>,
/// which allows their outbound traffic statefully ("allow-related": replies come back through conntrack): with no group a
/// port gets inbound denied, outbound and its replies allowed. A port with groups gets exactly what their rules allow, in
/// both directions, as in Neutron (new groups start with allow-all egress rules, which can be removed). A group is a port
/// group "qkvm_sg_&lt;32 hex&gt;" whose rules become allow-related ACLs at <see cref="RulePriority"/>, above the default drops.
/// A remote group is matched through the address sets OVN keeps for every port group ($&lt;group&gt;_ip4 / _ip6: the IPs in
/// its ports' "addresses").
/// </summary>
public static class SecurityGroupAcls
{
    public const string ManagedPortGroup = "qkvm_managed";

    /// <summary>The managed ports that belong to no security group: their outbound traffic is allowed.</summary>
    public const string OpenEgressPortGroup = "qkvm_open_egress";
    public const int DefaultPriority = 1001;
    public const int RulePriority = 1002;
    public const string GroupIdKey = "qkvm-security-group-id";
    public const string RuleIdKey = "qkvm-rule-id";
    public const string DefaultAclKey = "qkvm-default-acl";

    public static string PortGroupName(Guid groupId) => "qkvm_sg_" + groupId.ToString("N");

    /// <summary>OVN's address set of a port group's addresses of one family.</summary>
    public static string RemoteAddressSet(Guid groupId, EtherType etherType) =>
        PortGroupName(groupId) + (etherType == EtherType.Ipv4 ? "_ip4" : "_ip6");

    /// <summary>The ACLs of <see cref="ManagedPortGroup"/>: drop both ways, but let a NIC get its addresses and find its neighbours.</summary>
    public static IReadOnlyList<OvnAcl> Defaults() =>
    [
        Default(AclDirection.ToLport, DefaultPriority, $"outport == @{ManagedPortGroup} && ip", AclAction.Drop, "drop-inbound"),
        Default(AclDirection.FromLport, DefaultPriority, $"inport == @{ManagedPortGroup} && ip", AclAction.Drop, "drop-outbound"),
        Default(AclDirection.FromLport, RulePriority, $"inport == @{ManagedPortGroup} && ip4 && udp.src == 68 && udp.dst == 67", AclAction.Allow,
            "allow-dhcpv4"),
        Default(AclDirection.FromLport, RulePriority, $"inport == @{ManagedPortGroup} && ip6 && udp.src == 546 && udp.dst == 547", AclAction.Allow,
            "allow-dhcpv6"),
        Default(AclDirection.FromLport, RulePriority, $"inport == @{ManagedPortGroup} && ip6 && icmp6.type == {{133, 135, 136}}", AclAction.Allow,
            "allow-nd-outbound"),
        Default(AclDirection.ToLport, RulePriority, $"outport == @{ManagedPortGroup} && ip6 && icmp6.type == {{134, 135, 136}}", AclAction.Allow,
            "allow-nd-inbound"),
    ];

    /// <summary>The ACL of <see cref="OpenEgressPortGroup"/>: outbound allowed, with its replies.</summary>
    public static IReadOnlyList<OvnAcl> OpenEgress() =>
    [
        Default(AclDirection.FromLport, RulePriority, $"inport == @{OpenEgressPortGroup} && ip", AclAction.AllowRelated, "allow-outbound"),
    ];

    private static OvnAcl Default(AclDirection direction, int priority, string match, AclAction action, string name) =>
        new(direction, priority, match, action, new Dictionary<string, string> { [DefaultAclKey] = name });

    /// <summary>The ACLs of the group's port group, one per rule, in rule order.</summary>
    public static IReadOnlyList<OvnAcl> ForGroup(SecurityGroup group) => [.. group.Rules.Select(rule => ForRule(group.GroupId, rule))];

    public static OvnAcl ForRule(Guid groupId, SecurityRule rule)
    {
        Check(rule);
        var ingress = rule.Direction == RuleDirection.Ingress;
        var ip = rule.EtherType == EtherType.Ipv4 ? "ip4" : "ip6";
        var match = new StringBuilder()
            .Append(ingress ? "outport" : "inport").Append(" == @").Append(PortGroupName(groupId))
            .Append(" && ").Append(ip);

        // Ingress rules name where traffic comes from, egress rules where it goes.
        var remoteField = $"{ip}.{(ingress ? "src" : "dst")}";
        if (rule.RemoteCidr is { PrefixLength: > 0 } cidr)
        {
            match.Append(" && ").Append(remoteField).Append(" == ").Append(cidr);
        }
        else if (rule.RemoteGroupId is { } remote)
        {
            match.Append(" && ").Append(remoteField).Append(" == $").Append(RemoteAddressSet(remote, rule.EtherType));
        }

        switch (rule.Protocol)
        {
            case RuleProtocol.Tcp or RuleProtocol.Udp:
                var l4 = rule.Protocol == RuleProtocol.Tcp ? "tcp" : "udp";
                match.Append(" && ").Append(l4);
                if (rule.PortMin is { } min)
                {
                    var max = rule.PortMax ?? min;
                    match.Append(min == max
                        ? string.Create(CultureInfo.InvariantCulture, $" && {l4}.dst == {min}")
                        : string.Create(CultureInfo.InvariantCulture, $" && {l4}.dst >= {min} && {l4}.dst <= {max}"));
                }

                break;
            case RuleProtocol.Icmp:
                match.Append(" && icmp4");
                break;
            case RuleProtocol.Icmp6:
                match.Append(" && icmp6");
                break;
        }

        return new OvnAcl(
            ingress ? AclDirection.ToLport : AclDirection.FromLport,
            RulePriority,
            match.ToString(),
            AclAction.AllowRelated,
            new Dictionary<string, string> { [GroupIdKey] = groupId.ToString(), [RuleIdKey] = rule.RuleId.ToString() });
    }

    /// <summary>The rule checks the deciders make too: a rule that reaches here broken is a bug, refused by name.</summary>
    private static void Check(SecurityRule rule)
    {
        string? problem = null;
        var hasPorts = rule.PortMin is not null || rule.PortMax is not null;
        if (hasPorts && rule.Protocol is not (RuleProtocol.Tcp or RuleProtocol.Udp))
        {
            problem = $"ports apply only to TCP and UDP, not {rule.Protocol}";
        }
        else if (hasPorts && (rule.PortMin is not { } min || min is < 1 or > 65535 || (rule.PortMax ?? min) is < 1 or > 65535 || (rule.PortMax ?? min) < min))
        {
            problem = $"port range {rule.PortMin}-{rule.PortMax} is invalid: ports are 1 to 65535, min first";
        }
        else if (rule.RemoteCidr is not null && rule.RemoteGroupId is not null)
        {
            problem = "a rule has a remote CIDR or a remote group, not both";
        }
        else if (rule.RemoteCidr is { } cidr && (cidr.Family == AddressFamily.InterNetwork) != (rule.EtherType == EtherType.Ipv4))
        {
            problem = $"remote CIDR {cidr} does not match ether type {rule.EtherType}";
        }
        else if ((rule.Protocol == RuleProtocol.Icmp && rule.EtherType != EtherType.Ipv4) || (rule.Protocol == RuleProtocol.Icmp6 && rule.EtherType != EtherType.Ipv6))
        {
            problem = $"protocol {rule.Protocol} does not match ether type {rule.EtherType}";
        }

        if (problem is not null)
        {
            throw new ArgumentException($"security group rule {rule.RuleId}: {problem}", nameof(rule));
        }
    }
}
