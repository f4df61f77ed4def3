using System.Net;
using Quantixkvm.Contracts;
using Quantixkvm.Domain.Networks;
using Quantixkvm.Network.SecurityGroups;

namespace Quantixkvm.Agent.Networking;

/// <summary>
/// Security groups as the wire carries them (<see cref="SecurityRuleSpecification"/>'s strings) turned into the domain's
/// rule types: the one place the agent reads those strings. A value it does not know is refused by name.
/// </summary>
public static class SecurityRuleWire
{
    public static RuleDirection Direction(string text) => text switch
    {
        "ingress" => RuleDirection.Ingress,
        "egress" => RuleDirection.Egress,
        _ => throw new NetworkRealizationException($"direction '{text}' is not ingress or egress"),
    };

    public static RuleProtocol Protocol(string text) => text switch
    {
        "any" => RuleProtocol.Any,
        "tcp" => RuleProtocol.Tcp,
        "udp" => RuleProtocol.Udp,
        "icmp" => RuleProtocol.Icmp,
        "icmp6" => RuleProtocol.Icmp6,
        _ => throw new NetworkRealizationException($"protocol '{text}' is not any, tcp, udp, icmp or icmp6"),
    };

    public static EtherType EtherType(string text) => text switch
    {
        "ipv4" => Domain.Networks.EtherType.Ipv4,
        "ipv6" => Domain.Networks.EtherType.Ipv6,
        _ => throw new NetworkRealizationException($"ether type '{text}' is not ipv4 or ipv6"),
    };

    /// <summary>The rule as <see cref="SecurityGroupAcls"/> translates it; a wire value it does not know is refused naming the rule.</summary>
    public static SecurityRule ToRule(SecurityRuleSpecification rule)
    {
        try
        {
            Cidr? remote = null;
            if (rule.RemoteCidr is not null)
            {
                var (cidr, error) = Cidr.Parse(rule.RemoteCidr);
                remote = cidr ?? throw new NetworkRealizationException($"remote CIDR: {error}");
            }

            return new SecurityRule(
                rule.RuleId, Direction(rule.Direction), Protocol(rule.Protocol), rule.PortMin, rule.PortMax, remote, rule.RemoteGroupId, EtherType(rule.EtherType));
        }
        catch (NetworkRealizationException e)
        {
            throw new NetworkRealizationException($"security group rule {rule.RuleId}: {e.Message}", e);
        }
    }

    public static SecurityGroup ToGroup(SecurityGroupSpecification group) => new(group.SecurityGroupId, [.. group.Rules.Select(ToRule)]);

    /// <summary>The addresses of each group's ports, on any network: what a rule naming the group as its remote side matches.</summary>
    public static ILookup<Guid, IPAddress> GroupAddresses(IEnumerable<NetworkSpecification> networks) =>
        networks.SelectMany(n => n.Ports)
            .SelectMany(p => p.SecurityGroupIds.SelectMany(g => p.Addresses.Select(a => (Group: g, Address: Address(p, a)))))
            .ToLookup(m => m.Group, m => m.Address);

    private static IPAddress Address(PortSpecification port, string text) =>
        IPAddress.TryParse(text, out var address) && !text.Contains('/', StringComparison.Ordinal) && !text.Contains('%', StringComparison.Ordinal)
            ? address
            : throw new NetworkRealizationException($"port {port.PortId}: '{text}' is not an IP address");
}
