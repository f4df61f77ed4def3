using Quantixkvm.Domain.Networks;
using Quantixkvm.Domain.Tests.Support;

namespace Quantixkvm.Domain.Tests.Networks;

/// <summary>A network's IPv4 and IPv6 subnets: gateway, DNS servers, allocation pools and reserved ranges, checked and recorded canonically.</summary>
public class AddingSubnets
{
    [Fact]
    public void an_ipv4_subnet_gets_its_first_host_as_gateway_and_its_usable_range_as_pool()
    {
        var state = NetworkSpec.Given(Net.Active())
            .When(NetCmd.AddSubnet("10.0.0.0/24"))
            .ThenEvents(new NetworkSubnetAdded(Net.Id, Net.V4Subnet(), 2, Fixed.Now))
            .ThenState();

        state.Subnets.Select(s => s.Cidr).ShouldBe(["10.0.0.0/24"]);
        state.Generation.ShouldBe(2);
    }

    [Fact]
    public void an_ipv6_subnet_gets_the_same_defaults_without_a_broadcast_address()
    {
        NetworkSpec.Given(Net.WithV4())
            .When(NetCmd.AddSubnet("fd00:1::/64", commandId: Net.V6Command))
            .ThenEvents(new NetworkSubnetAdded(Net.Id, Net.V6Subnet(), 3, Fixed.Now));
    }

    [Fact]
    public void given_gateway_dns_pools_and_reserved_ranges_are_kept_in_canonical_form()
    {
        NetworkSpec.Given(Net.Active())
            .When(NetCmd.AddSubnet(
                "FD00:2::/64", gateway: "fd00:2:0::FFFE", dns: ["2001:4860:4860::8888", "9.9.9.9"],
                pools: [new("fd00:2::100", "fd00:2::1ff"), new("fd00:2::1000", "fd00:2::1fff")], reserved: [new("FD00:2::150", "fd00:2::15f")],
                dhcp: false, commandId: Net.V6Command))
            .ThenEvents(new NetworkSubnetAdded(Net.Id, new Subnet(
                Net.V6, "fd00:2::/64", "fd00:2::fffe", ["2001:4860:4860::8888", "9.9.9.9"],
                [new("fd00:2::100", "fd00:2::1ff"), new("fd00:2::1000", "fd00:2::1fff")], [new("fd00:2::150", "fd00:2::15f")], DhcpEnabled: false),
                2, Fixed.Now));
    }

    public static TheoryData<string, AddSubnet, string> InvalidSubnets => new()
    {
        { "host bits", NetCmd.AddSubnet("10.0.0.7/24"), "'10.0.0.7/24' has host bits set: the subnet is 10.0.0.0/24" },
        { "not a CIDR", NetCmd.AddSubnet("10.0.0.0"), "'10.0.0.0' is not in CIDR notation" },
        { "IPv4 /31", NetCmd.AddSubnet("10.0.0.0/31"), "subnet 10.0.0.0/31 is too small: it needs room for a gateway and at least one address (/30 or wider)" },
        { "IPv6 /127", NetCmd.AddSubnet("fd00::/127"), "subnet fd00::/127 is too small" },
        { "gateway outside", NetCmd.AddSubnet(gateway: "10.0.1.1"), "gateway 10.0.1.1 is not in subnet 10.0.0.0/24" },
        { "gateway on the network address", NetCmd.AddSubnet(gateway: "10.0.0.0"), "gateway 10.0.0.0 is the network address of 10.0.0.0/24" },
        { "gateway on the broadcast", NetCmd.AddSubnet(gateway: "10.0.0.255"), "gateway 10.0.0.255 is the broadcast address of 10.0.0.0/24" },
        { "gateway shorthand", NetCmd.AddSubnet(gateway: "10.1"), "gateway '10.1' is not an IP address" },
        { "gateway with leading zero", NetCmd.AddSubnet(gateway: "10.0.0.010"), "gateway '10.0.0.010' is not an IP address" },
        { "gateway of the other family", NetCmd.AddSubnet(gateway: "fd00::1"), "gateway fd00::1 is not in subnet 10.0.0.0/24" },
        { "bad DNS server", NetCmd.AddSubnet(dns: ["dns.example"]), "DNS server 'dns.example' is not an IP address" },
        { "DNS server twice", NetCmd.AddSubnet(dns: ["9.9.9.9", "9.9.9.9"]), "DNS server 9.9.9.9 is given twice" },
        { "pool outside", NetCmd.AddSubnet(pools: [new("10.0.0.10", "10.0.1.20")]), "allocation pool end 10.0.1.20 is not in subnet 10.0.0.0/24" },
        {
            "pool on the broadcast", NetCmd.AddSubnet(pools: [new("10.0.0.10", "10.0.0.255")]),
            "allocation pool 10.0.0.10-10.0.0.255 is not inside the usable addresses of 10.0.0.0/24 (10.0.0.1-10.0.0.254)"
        },
        { "pool backwards", NetCmd.AddSubnet(pools: [new("10.0.0.20", "10.0.0.10")]), "allocation pool 10.0.0.20-10.0.0.10 starts after it ends" },
        {
            "overlapping pools", NetCmd.AddSubnet(pools: [new("10.0.0.10", "10.0.0.20"), new("10.0.0.20", "10.0.0.30")]),
            "allocation pools 10.0.0.10-10.0.0.20 and 10.0.0.20-10.0.0.30 overlap"
        },
        { "reserved outside", NetCmd.AddSubnet(reserved: [new("192.168.0.1", "192.168.0.9")]), "reserved range start 192.168.0.1 is not in subnet 10.0.0.0/24" },
        { "reserved backwards", NetCmd.AddSubnet(reserved: [new("10.0.0.9", "10.0.0.1")]), "reserved range 10.0.0.9-10.0.0.1 starts after it ends" },
    };

    [Theory]
    [MemberData(nameof(InvalidSubnets))]
    public void an_invalid_subnet_is_refused_naming_the_problem(string why, AddSubnet command, string problem)
    {
        var rejection = NetworkSpec.Given(Net.Active()).When(command).ThenRejected(RejectionCode.Validation);

        rejection.Message.ShouldStartWith(problem, Case.Sensitive, why);
        rejection.Command.ShouldBe("add-subnet");
    }

    [Theory]
    [InlineData("10.0.0.128/25")]
    [InlineData("10.0.0.0/16")]
    [InlineData("10.0.0.0/24")]
    public void a_subnet_overlapping_one_of_the_network_is_a_conflict(string cidr)
    {
        NetworkSpec.Given(Net.WithV4())
            .When(NetCmd.AddSubnet(cidr, commandId: "add-subnet-2"))
            .ThenRejected(RejectionCode.Conflict, containing: $"subnet {cidr} overlaps subnet 10.0.0.0/24 of network 'prod-lan'");
    }

    [Fact]
    public void ipv4_and_ipv6_subnets_never_overlap_and_nor_do_disjoint_ones()
    {
        var state = NetworkSpec.Given(Net.DualStack()).When(NetCmd.AddSubnet("10.0.1.0/24", commandId: "add-subnet-3")).ThenState();

        state.Subnets.Select(s => s.Cidr).ShouldBe(["10.0.0.0/24", "fd00:1::/64", "10.0.1.0/24"]);
        state.Generation.ShouldBe(4);
    }

    [Fact]
    public void repeating_an_add_with_its_command_id_changes_nothing_even_after_the_subnet_was_removed()
    {
        NetworkSpec.Given(Net.WithV4()).When(NetCmd.AddSubnet()).ThenNothingChanges(null);
        NetworkSpec.Given([.. Net.WithV4(), new NetworkSubnetRemoved(Net.Id, Net.V4, 3, Fixed.Earlier)])
            .When(NetCmd.AddSubnet())
            .ThenNothingChanges(null);
    }

    [Fact]
    public void a_subnet_with_allocated_addresses_cannot_be_removed()
    {
        var rejection = NetworkSpec.Given(Net.WithPort())
            .When(NetCmd.RemoveSubnet())
            .ThenRejected(RejectionCode.InvalidState, containing: "subnet 10.0.0.0/24 still has 1 allocated address(es)");

        rejection.Command.ShouldBe("remove-subnet");
    }

    [Fact]
    public void a_subnet_whose_ports_are_gone_is_removed_and_its_range_can_be_added_again()
    {
        NetworkEvent[] portGone =
        [
            .. Net.WithPort(),
            new NetworkPortRemoved(Net.Id, Net.Port("attach-1"), Fixed.VmId, [new PortAddress(Net.V4, "10.0.0.2")], 4, Fixed.Earlier),
        ];

        var removed = NetworkSpec.Given(portGone).When(NetCmd.RemoveSubnet()).ThenEvents(new NetworkSubnetRemoved(Net.Id, Net.V4, 5, Fixed.Now));

        removed.ThenState().Subnets.ShouldBeEmpty();
        NetworkSpec.Given([.. portGone, new NetworkSubnetRemoved(Net.Id, Net.V4, 5, Fixed.Earlier)])
            .When(NetCmd.AddSubnet("10.0.0.0/16", commandId: "add-subnet-wider"))
            .ThenAccepted().Events.ShouldHaveSingleItem().ShouldBeOfType<NetworkSubnetAdded>().Generation.ShouldBe(6);
    }

    [Fact]
    public void removing_a_subnet_the_network_never_had_is_not_found()
    {
        NetworkSpec.Given(Net.WithV4())
            .When(NetCmd.RemoveSubnet(Net.V6))
            .ThenRejected(RejectionCode.NotFound, containing: $"network 'prod-lan' has no subnet {Net.V6}");
    }
}
