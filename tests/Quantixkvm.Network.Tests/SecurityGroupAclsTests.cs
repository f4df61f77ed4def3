using Quantixkvm.Domain.Networks;
using Quantixkvm.Network.Ovn;
using Quantixkvm.Network.SecurityGroups;

namespace Quantixkvm.Network.Tests;

public sealed class SecurityGroupAclsTests
{
    private static readonly Guid Group = Guid.Parse("0f5e3a5c-1111-4222-8333-944455556666");
    private static readonly Guid Other = Guid.Parse("aaaaaaaa-bbbb-4ccc-8ddd-eeeeeeeeeeee");
    private static readonly Guid Rule = Guid.Parse("12345678-1234-4234-8234-123456789abc");
    private const string Pg = "qkvm_sg_0f5e3a5c111142228333944455556666";

    private static Cidr C(string text) => Cidr.Parse(text).Cidr!;

    [Fact]
    public void the_port_group_name_is_a_valid_ovn_identifier()
    {
        SecurityGroupAcls.PortGroupName(Group).ShouldBe(Pg);
        Should.NotThrow(() => OvnNames.CheckGroupName("pg", SecurityGroupAcls.PortGroupName(Group)));
    }

    [Fact]
    public void every_port_is_closed_both_ways_but_for_dhcp_and_neighbour_discovery_and_without_a_group_open_outbound_with_replies()
    {
        SecurityGroupAcls.Defaults().Select(a => a.ToString()).ShouldBe(
        [
            "to-lport 1001 (outport == @qkvm_managed && ip) drop",
            "from-lport 1001 (inport == @qkvm_managed && ip) drop",
            "from-lport 1002 (inport == @qkvm_managed && ip4 && udp.src == 68 && udp.dst == 67) allow",
            "from-lport 1002 (inport == @qkvm_managed && ip6 && udp.src == 546 && udp.dst == 547) allow",
            "from-lport 1002 (inport == @qkvm_managed && ip6 && icmp6.type == {133, 135, 136}) allow",
            "to-lport 1002 (outport == @qkvm_managed && ip6 && icmp6.type == {134, 135, 136}) allow",
        ]);
        SecurityGroupAcls.OpenEgress().Select(a => a.ToString()).ShouldBe(["from-lport 1002 (inport == @qkvm_open_egress && ip) allow-related"]);
    }

    [Fact]
    public void an_ingress_tcp_port_from_a_cidr_becomes_a_to_lport_allow_related_above_the_default_drop()
    {
        var acl = SecurityGroupAcls.ForRule(Group, new SecurityRule(Rule, RuleDirection.Ingress, RuleProtocol.Tcp, 22, 22, C("10.1.0.0/16")));

        acl.Direction.ShouldBe(AclDirection.ToLport);
        acl.Action.ShouldBe(AclAction.AllowRelated);
        acl.Priority.ShouldBeGreaterThan(SecurityGroupAcls.DefaultPriority);
        acl.Match.ShouldBe($"outport == @{Pg} && ip4 && ip4.src == 10.1.0.0/16 && tcp && tcp.dst == 22");
        acl.ExternalIds!["qkvm-rule-id"].ShouldBe(Rule.ToString());
        acl.ExternalIds["qkvm-security-group-id"].ShouldBe(Group.ToString());
    }

    [Fact]
    public void an_egress_udp_port_range_to_ipv6_becomes_a_from_lport_rule_on_the_destination()
    {
        var acl = SecurityGroupAcls.ForRule(Group, new SecurityRule(Rule, RuleDirection.Egress, RuleProtocol.Udp, 5000, 5100, C("fd00::/64"), EtherType: EtherType.Ipv6));

        acl.Direction.ShouldBe(AclDirection.FromLport);
        acl.Match.ShouldBe($"inport == @{Pg} && ip6 && ip6.dst == fd00::/64 && udp && udp.dst >= 5000 && udp.dst <= 5100");
    }

    [Fact]
    public void a_remote_group_is_matched_through_ovns_address_set_of_its_port_group()
    {
        var acl = SecurityGroupAcls.ForRule(Group, new SecurityRule(Rule, RuleDirection.Ingress, RuleProtocol.Icmp, RemoteGroupId: Other));

        acl.Match.ShouldBe($"outport == @{Pg} && ip4 && ip4.src == $qkvm_sg_aaaaaaaabbbb4ccc8dddeeeeeeeeeeee_ip4 && icmp4");
    }

    [Theory]
    [InlineData(RuleProtocol.Any, EtherType.Ipv4, "outport == @PG && ip4")]
    [InlineData(RuleProtocol.Any, EtherType.Ipv6, "outport == @PG && ip6")]
    [InlineData(RuleProtocol.Icmp6, EtherType.Ipv6, "outport == @PG && ip6 && icmp6")]
    [InlineData(RuleProtocol.Tcp, EtherType.Ipv4, "outport == @PG && ip4 && tcp")]
    public void any_remote_and_no_ports_leave_those_parts_out(RuleProtocol protocol, EtherType etherType, string expected)
    {
        SecurityGroupAcls.ForRule(Group, new SecurityRule(Rule, RuleDirection.Ingress, protocol, EtherType: etherType))
            .Match.ShouldBe(expected.Replace("PG", Pg, StringComparison.Ordinal));
        SecurityGroupAcls.ForRule(Group, new SecurityRule(Rule, RuleDirection.Ingress, protocol, RemoteCidr: C(etherType == EtherType.Ipv4 ? "0.0.0.0/0" : "::/0"), EtherType: etherType))
            .Match.ShouldBe(expected.Replace("PG", Pg, StringComparison.Ordinal));
    }

    [Fact]
    public void a_group_gives_one_acl_per_rule_in_order()
    {
        var group = new SecurityGroup(Group,
        [
            new SecurityRule(Guid.NewGuid(), RuleDirection.Ingress, RuleProtocol.Tcp, 80, 80),
            new SecurityRule(Guid.NewGuid(), RuleDirection.Ingress, RuleProtocol.Tcp, 443, 443),
        ]);

        SecurityGroupAcls.ForGroup(group).Select(a => a.Match).ShouldBe(
        [
            $"outport == @{Pg} && ip4 && tcp && tcp.dst == 80",
            $"outport == @{Pg} && ip4 && tcp && tcp.dst == 443",
        ]);
    }

    [Theory]
    [InlineData(RuleProtocol.Icmp, 1, 1, null, EtherType.Ipv4, "ports apply only to TCP and UDP")]
    [InlineData(RuleProtocol.Tcp, 0, 10, null, EtherType.Ipv4, "port range 0-10 is invalid")]
    [InlineData(RuleProtocol.Tcp, 100, 10, null, EtherType.Ipv4, "port range 100-10 is invalid")]
    [InlineData(RuleProtocol.Udp, 1, 70000, null, EtherType.Ipv4, "port range 1-70000 is invalid")]
    [InlineData(RuleProtocol.Any, null, null, "fd00::/64", EtherType.Ipv4, "does not match ether type Ipv4")]
    [InlineData(RuleProtocol.Icmp, null, null, null, EtherType.Ipv6, "protocol Icmp does not match ether type Ipv6")]
    [InlineData(RuleProtocol.Icmp6, null, null, null, EtherType.Ipv4, "protocol Icmp6 does not match ether type Ipv4")]
    public void broken_rules_are_refused_naming_the_rule_and_the_problem(RuleProtocol protocol, int? min, int? max, string? cidr, EtherType etherType, string problem)
    {
        var rule = new SecurityRule(Rule, RuleDirection.Ingress, protocol, min, max, cidr is null ? null : C(cidr), EtherType: etherType);

        var error = Should.Throw<ArgumentException>(() => SecurityGroupAcls.ForRule(Group, rule));

        error.Message.ShouldContain(Rule.ToString());
        error.Message.ShouldContain(problem);
    }

    [Fact]
    public void a_remote_cidr_and_a_remote_group_together_are_refused()
    {
        var rule = new SecurityRule(Rule, RuleDirection.Ingress, RemoteCidr: C("10.0.0.0/8"), RemoteGroupId: Other);

        Should.Throw<ArgumentException>(() => SecurityGroupAcls.ForRule(Group, rule)).Message.ShouldContain("not both");
    }
}
