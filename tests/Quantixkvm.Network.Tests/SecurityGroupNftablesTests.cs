using System.Net;
using Quantixkvm.Domain.Networks;
using Quantixkvm.Network.SecurityGroups;

namespace Quantixkvm.Network.Tests;

/// <summary>The translation of security groups to the nftables table of bridge networks, as text.</summary>
public sealed class SecurityGroupNftablesTests
{
    private static readonly Guid PortA = Guid.Parse("aaaaaaaa-0000-4000-8000-000000000001");
    private static readonly Guid PortB = Guid.Parse("bbbbbbbb-0000-4000-8000-000000000002");
    private static readonly Guid Web = Guid.Parse("0f5e3a5c-1111-4222-8333-944455556666");
    private static readonly Guid Admins = Guid.Parse("aaaaaaaa-bbbb-4ccc-8ddd-eeeeeeeeeeee");
    private const string A = "aaaaaaaa000040008000000000000001";
    private const string WebChain = "sg_0f5e3a5c111142228333944455556666";
    private static readonly ILookup<Guid, IPAddress> NoMembers = Array.Empty<(Guid, IPAddress)>().ToLookup(m => m.Item1, m => m.Item2);

    private static Cidr C(string text) => Cidr.Parse(text).Cidr!;

    [Fact]
    public void a_port_without_a_group_may_send_anything_and_receives_only_dhcp_answers_and_neighbour_discovery()
    {
        var text = SecurityGroupNftables.Ruleset([new BridgePort(PortA, "br-q1", "02:AA:00:00:00:01", [])], [], NoMembers);

        text.ShouldBe(
            "# Security groups of this host's bridge networks, written whole by the Quantixkvm agent: edits by hand are replaced.\n"
            + "table inet qkvm\n"
            + "delete table inet qkvm\n"
            + "table inet qkvm {\n"
            + "\tchain egress {\n"
            + "\t\ttype filter hook forward priority filter - 1; policy accept;\n"
            + "\t\tct state established,related accept\n"
            + "\t\tiifname . ether saddr vmap {\n"
            + $"\t\t\t\"br-q1\" . 02:aa:00:00:00:01 : jump port_{A}_egress\n"
            + "\t\t}\n"
            + "\t}\n"
            + "\tchain ingress {\n"
            + "\t\ttype filter hook forward priority filter; policy accept;\n"
            + "\t\tct state established,related accept\n"
            + "\t\toifname . ether daddr vmap {\n"
            + $"\t\t\t\"br-q1\" . 02:aa:00:00:00:01 : jump port_{A}_ingress\n"
            + "\t\t}\n"
            + "\t}\n"
            + $"\tchain port_{A}_egress {{\n"
            + "\t\tmeta nfproto ipv4 udp sport 68 udp dport 67 accept\n"
            + "\t\tmeta nfproto ipv6 udp sport 546 udp dport 547 accept\n"
            + "\t\ticmpv6 type { nd-router-solicit, nd-neighbor-solicit, nd-neighbor-advert } accept\n"
            + "\t\taccept\n"
            + "\t}\n"
            + $"\tchain port_{A}_ingress {{\n"
            + "\t\tmeta nfproto ipv4 udp sport 67 udp dport 68 accept\n"
            + "\t\tmeta nfproto ipv6 udp sport 547 udp dport 546 accept\n"
            + "\t\ticmpv6 type { nd-router-advert, nd-neighbor-solicit, nd-neighbor-advert } accept\n"
            + "\t\tdrop\n"
            + "\t}\n"
            + "}\n");
    }

    [Fact]
    public void no_ports_leave_the_two_chains_with_only_the_replies_rule()
    {
        var text = SecurityGroupNftables.Ruleset([], [], NoMembers);

        text.ShouldEndWith(
            "table inet qkvm {\n"
            + "\tchain egress {\n"
            + "\t\ttype filter hook forward priority filter - 1; policy accept;\n"
            + "\t\tct state established,related accept\n"
            + "\t}\n"
            + "\tchain ingress {\n"
            + "\t\ttype filter hook forward priority filter; policy accept;\n"
            + "\t\tct state established,related accept\n"
            + "\t}\n"
            + "}\n");
    }

    [Fact]
    public void an_ingress_tcp_port_from_a_cidr_is_an_accept_in_the_groups_ingress_chain_that_the_ports_chains_jump_to()
    {
        var group = new SecurityGroup(Web, [new SecurityRule(Guid.NewGuid(), RuleDirection.Ingress, RuleProtocol.Tcp, 22, 22, C("10.1.0.0/16"))]);

        var text = SecurityGroupNftables.Ruleset([new BridgePort(PortA, "br-q1", "02:aa:00:00:00:01", [Web])], [group], NoMembers);

        text.ShouldContain(
            $"\tchain port_{A}_egress {{\n"
            + "\t\tmeta nfproto ipv4 udp sport 68 udp dport 67 accept\n"
            + "\t\tmeta nfproto ipv6 udp sport 546 udp dport 547 accept\n"
            + "\t\ticmpv6 type { nd-router-solicit, nd-neighbor-solicit, nd-neighbor-advert } accept\n"
            + $"\t\tjump {WebChain}_egress\n"
            + "\t\tdrop\n"
            + "\t}\n");
        text.ShouldContain($"\t\tjump {WebChain}_ingress\n\t\tdrop\n");
        text.ShouldContain(
            $"\tchain {WebChain}_egress {{\n"
            + "\t}\n"
            + $"\tchain {WebChain}_ingress {{\n"
            + "\t\tmeta nfproto ipv4 ip saddr 10.1.0.0/16 meta l4proto tcp tcp dport 22 accept\n"
            + "\t}\n");
    }

    [Fact]
    public void icmp_from_a_remote_group_matches_a_set_of_that_groups_addresses_of_the_family()
    {
        var group = new SecurityGroup(Web, [new SecurityRule(Guid.NewGuid(), RuleDirection.Ingress, RuleProtocol.Icmp, RemoteGroupId: Admins)]);
        var members = new[] { (Admins, "10.0.0.7"), (Admins, "10.0.0.5"), (Admins, "fd00::5"), (Admins, "10.0.0.5"), (Web, "10.0.0.9") }
            .ToLookup(m => m.Item1, m => IPAddress.Parse(m.Item2));

        var text = SecurityGroupNftables.Ruleset([new BridgePort(PortA, "br-q1", "02:aa:00:00:00:01", [Web])], [group], members);

        text.ShouldContain(
            "table inet qkvm {\n"
            + "\tset sg_aaaaaaaabbbb4ccc8dddeeeeeeeeeeee_ip4 {\n"
            + "\t\ttype ipv4_addr\n"
            + "\t\telements = { 10.0.0.5, 10.0.0.7 }\n"
            + "\t}\n"
            + "\tchain egress {\n");
        text.ShouldContain("\t\tmeta nfproto ipv4 ip saddr @sg_aaaaaaaabbbb4ccc8dddeeeeeeeeeeee_ip4 meta l4proto icmp accept\n");
        text.ShouldNotContain("_ip6", customMessage: "no rule names the group's IPv6 addresses");
    }

    [Fact]
    public void a_remote_group_without_members_is_an_empty_set()
    {
        var group = new SecurityGroup(Web, [new SecurityRule(Guid.NewGuid(), RuleDirection.Egress, EtherType: EtherType.Ipv6, RemoteGroupId: Admins)]);

        var text = SecurityGroupNftables.Ruleset([new BridgePort(PortA, "br-q1", "02:aa:00:00:00:01", [Web])], [group], NoMembers);

        text.ShouldContain("\tset sg_aaaaaaaabbbb4ccc8dddeeeeeeeeeeee_ip6 {\n\t\ttype ipv6_addr\n\t}\n");
        text.ShouldContain("\t\tmeta nfproto ipv6 ip6 daddr @sg_aaaaaaaabbbb4ccc8dddeeeeeeeeeeee_ip6 accept\n");
    }

    [Fact]
    public void egress_rules_restrict_what_a_port_in_the_group_sends_by_destination()
    {
        var group = new SecurityGroup(Web,
        [
            new SecurityRule(Guid.NewGuid(), RuleDirection.Egress, RuleProtocol.Udp, 53, 53, C("10.0.0.0/24")),
            new SecurityRule(Guid.NewGuid(), RuleDirection.Egress, RuleProtocol.Tcp, 8000, 8100),
        ]);

        var text = SecurityGroupNftables.Ruleset(
            [new BridgePort(PortA, "br-q1", "02:aa:00:00:00:01", [Web]), new BridgePort(PortB, "br-q2", "02:aa:00:00:00:02", [])], [group], NoMembers);

        text.ShouldContain(
            $"\tchain {WebChain}_egress {{\n"
            + "\t\tmeta nfproto ipv4 ip daddr 10.0.0.0/24 meta l4proto udp udp dport 53 accept\n"
            + "\t\tmeta nfproto ipv4 meta l4proto tcp tcp dport 8000-8100 accept\n"
            + "\t}\n");
        text.ShouldContain(
            "\t\tiifname . ether saddr vmap {\n"
            + $"\t\t\t\"br-q1\" . 02:aa:00:00:00:01 : jump port_{A}_egress,\n"
            + "\t\t\t\"br-q2\" . 02:aa:00:00:00:02 : jump port_bbbbbbbb000040008000000000000002_egress\n"
            + "\t\t}\n");
        text.ShouldContain("\tchain port_bbbbbbbb000040008000000000000002_egress {\n", customMessage: "every port has its chains");
    }

    [Fact]
    public void ipv6_rules_match_ip6_addresses_and_icmpv6_and_a_zero_prefix_matches_any_address()
    {
        var group = new SecurityGroup(Web,
        [
            new SecurityRule(Guid.NewGuid(), RuleDirection.Ingress, RuleProtocol.Icmp6, EtherType: EtherType.Ipv6),
            new SecurityRule(Guid.NewGuid(), RuleDirection.Ingress, RuleProtocol.Tcp, 443, 443, C("fd00:1::/64"), EtherType: EtherType.Ipv6),
            new SecurityRule(Guid.NewGuid(), RuleDirection.Egress, RemoteCidr: C("::/0"), EtherType: EtherType.Ipv6),
        ]);

        var text = SecurityGroupNftables.Ruleset([new BridgePort(PortA, "br-q1", "02:aa:00:00:00:01", [Web])], [group], NoMembers);

        text.ShouldContain(
            $"\tchain {WebChain}_egress {{\n"
            + "\t\tmeta nfproto ipv6 accept\n"
            + "\t}\n"
            + $"\tchain {WebChain}_ingress {{\n"
            + "\t\tmeta nfproto ipv6 meta l4proto ipv6-icmp accept\n"
            + "\t\tmeta nfproto ipv6 ip6 saddr fd00:1::/64 meta l4proto tcp tcp dport 443 accept\n"
            + "\t}\n");
    }

    [Fact]
    public void a_group_a_port_names_but_that_was_not_sent_opens_nothing_and_unused_groups_are_left_out()
    {
        var unused = new SecurityGroup(Admins, [new SecurityRule(Guid.NewGuid(), RuleDirection.Ingress)]);

        var text = SecurityGroupNftables.Ruleset([new BridgePort(PortA, "br-q1", "02:aa:00:00:00:01", [Web])], [unused], NoMembers);

        text.ShouldContain($"\tchain port_{A}_egress {{\n"
            + "\t\tmeta nfproto ipv4 udp sport 68 udp dport 67 accept\n"
            + "\t\tmeta nfproto ipv6 udp sport 546 udp dport 547 accept\n"
            + "\t\ticmpv6 type { nd-router-solicit, nd-neighbor-solicit, nd-neighbor-advert } accept\n"
            + "\t\tdrop\n");
        text.ShouldNotContain("sg_");
    }

    [Fact]
    public void the_same_ports_and_groups_in_another_order_give_the_same_text()
    {
        var web = new SecurityGroup(Web, [new SecurityRule(Guid.NewGuid(), RuleDirection.Ingress, RuleProtocol.Tcp, 80)]);
        var admins = new SecurityGroup(Admins, [new SecurityRule(Guid.NewGuid(), RuleDirection.Egress)]);
        var a = new BridgePort(PortA, "br-q1", "02:aa:00:00:00:01", [Web, Admins]);
        var b = new BridgePort(PortB, "br-q1", "02:aa:00:00:00:02", [Admins]);

        SecurityGroupNftables.Ruleset([a, b], [web, admins], NoMembers)
            .ShouldBe(SecurityGroupNftables.Ruleset([b, a with { SecurityGroupIds = [Admins, Web] }], [admins, web], NoMembers));
    }

    [Fact]
    public void bad_macs_bridge_names_rules_and_duplicate_ports_are_refused_by_name()
    {
        Should.Throw<ArgumentException>(() => SecurityGroupNftables.Ruleset([new BridgePort(PortA, "br-q1", "02:aa:00:00:00:zz\"", [])], [], NoMembers))
            .Message.ShouldStartWith($"port {PortA}: ");
        Should.Throw<ArgumentException>(() => SecurityGroupNftables.Ruleset([new BridgePort(PortA, "br\" accept", "02:aa:00:00:00:01", [])], [], NoMembers))
            .Message.ShouldStartWith($"port {PortA}: ");
        var broken = new SecurityGroup(Web, [new SecurityRule(Guid.NewGuid(), RuleDirection.Ingress, RuleProtocol.Icmp, 22)]);
        Should.Throw<ArgumentException>(() => SecurityGroupNftables.Ruleset([new BridgePort(PortA, "br-q1", "02:aa:00:00:00:01", [Web])], [broken], NoMembers))
            .Message.ShouldContain("ports apply only to TCP and UDP");
        Should.Throw<ArgumentException>(() => SecurityGroupNftables.Ruleset(
                [new BridgePort(PortA, "br-q1", "02:aa:00:00:00:01", []), new BridgePort(PortB, "br-q1", "02:AA:00:00:00:01", [])], [], NoMembers))
            .Message.ShouldBe($"ports {PortA} and {PortB} both have MAC 02:aa:00:00:00:01 on bridge br-q1: they cannot be told apart (Parameter 'ports')");
    }
}
