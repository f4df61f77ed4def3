using Quantixkvm.Domain.Networks;
using Quantixkvm.Domain.Tests.Support;

namespace Quantixkvm.Domain.Tests.Networks;

/// <summary>
/// Ports: each gets a MAC unique in its network and an address from each subnet (the first free one, or a fixed one),
/// decided on the network's stream so no two ports share either; removing a port releases them.
/// </summary>
public class AllocatingPorts
{
    private static readonly Guid NewPort = Net.Port("attach-2");

    private static NetworkPort PortOf(Outcome<NetworkState, NetworkEvent> outcome) =>
        outcome.ThenAccepted().Events.ShouldHaveSingleItem().ShouldBeOfType<NetworkPortAdded>().Port;

    [Fact]
    public void a_port_gets_the_first_free_address_of_each_subnet_past_the_gateway_and_a_stable_generated_mac()
    {
        var outcome = NetworkSpec.Given(Net.DualStack()).When(NetCmd.AddPort("attach-2", groups: [Net.WebGroup]));

        outcome.ThenEvents(new NetworkPortAdded(
            Net.Id,
            new NetworkPort(NewPort, Fixed.VmId, MacAddress.ForPort(NewPort), [new(Net.V4, "10.0.0.2"), new(Net.V6, "fd00:1::2")], [Net.WebGroup]),
            "attach-2", 4, Fixed.Now));
        var state = outcome.ThenState();
        state.Generation.ShouldBe(4);
        state.PortAddedBy("attach-2").ShouldNotBeNull().PortId.ShouldBe(NewPort);
    }

    [Fact]
    public void the_next_port_gets_the_next_free_address()
    {
        PortOf(NetworkSpec.Given(Net.WithPort()).When(NetCmd.AddPort("attach-2")))
            .Addresses.ShouldBe([new PortAddress(Net.V4, "10.0.0.3")]);
    }

    [Fact]
    public void reserved_ranges_are_skipped_and_a_released_address_is_given_again()
    {
        NetworkEvent[] history =
        [
            .. Net.WithV4(reserved: [new("10.0.0.2", "10.0.0.9")]),
            Net.PortAdded("attach-1", 3, "10.0.0.10"),
            Net.PortAdded("attach-x", 4, "10.0.0.11"),
        ];

        PortOf(NetworkSpec.Given(history).When(NetCmd.AddPort("attach-2"))).Addresses.Single().Address.ShouldBe("10.0.0.12");
        PortOf(NetworkSpec.Given(
                [.. history, new NetworkPortRemoved(Net.Id, Net.Port("attach-1"), Fixed.VmId, [new(Net.V4, "10.0.0.10")], 5, Fixed.Earlier)])
                .When(NetCmd.AddPort("attach-2")))
            .Addresses.Single().Address.ShouldBe("10.0.0.10");
    }

    [Fact]
    public void allocation_follows_the_pools_in_their_order()
    {
        var added = NetworkSpec.Given(Net.Active())
            .When(NetCmd.AddSubnet(pools: [new("10.0.0.200", "10.0.0.200"), new("10.0.0.50", "10.0.0.60")]))
            .ThenAccepted().Events;
        NetworkEvent[] history = [.. Net.Active(), .. added, Net.PortAdded("attach-1", 3, "10.0.0.200")];

        PortOf(NetworkSpec.Given(history).When(NetCmd.AddPort("attach-2"))).Addresses.Single().Address.ShouldBe("10.0.0.50");
    }

    [Fact]
    public void a_subnet_with_no_free_address_left_is_full()
    {
        NetworkEvent[] tiny =
        [
            .. Net.Active(),
            Net.SubnetAdded(new Subnet(Net.V4, "10.0.0.0/30", "10.0.0.1", [], [new("10.0.0.1", "10.0.0.2")], [], true), 2),
            Net.PortAdded("attach-1", 3, "10.0.0.2"),
        ];

        var rejection = NetworkSpec.Given(tiny)
            .When(NetCmd.AddPort("attach-2"))
            .ThenRejected(RejectionCode.InvalidState, containing: "subnet 10.0.0.0/30 is full");

        rejection.Command.ShouldBe("add-port");
    }

    [Fact]
    public void a_huge_ipv4_subnet_is_walked_from_its_pool_not_enumerated()
    {
        var outcome = NetworkSpec.Given(Net.Active())
            .When(NetCmd.AddSubnet("10.0.0.0/8", reserved: [new("10.0.0.2", "10.255.255.200")]));
        NetworkEvent[] history = [.. Net.Active(), .. outcome.ThenAccepted().Events, Net.PortAdded("attach-1", 3, "10.255.255.201")];

        PortOf(NetworkSpec.Given(history).When(NetCmd.AddPort("attach-2"))).Addresses.Single().Address.ShouldBe("10.255.255.202");
    }

    [Fact]
    public void an_ipv6_slash_64_with_a_vast_reserved_range_allocates_just_past_it()
    {
        var added = NetworkSpec.Given(Net.Active())
            .When(NetCmd.AddSubnet("fd00:9::/64", reserved: [new("fd00:9::2", "fd00:9::ffff:ffff:ffff:fff0")], commandId: Net.V6Command))
            .ThenAccepted().Events;

        PortOf(NetworkSpec.Given([.. Net.Active(), .. added]).When(NetCmd.AddPort("attach-2")))
            .Addresses.ShouldBe([new PortAddress(Net.V6, "fd00:9::ffff:ffff:ffff:fff1")]);
    }

    [Fact]
    public void a_fixed_address_is_given_as_asked_and_only_from_its_subnet()
    {
        PortOf(NetworkSpec.Given(Net.DualStack()).When(NetCmd.AddPort("attach-2", fixedAddresses: ["10.0.0.77"])))
            .Addresses.ShouldBe([new PortAddress(Net.V4, "10.0.0.77")]);
        PortOf(NetworkSpec.Given(Net.DualStack()).When(NetCmd.AddPort("attach-2", fixedAddresses: ["FD00:1::0:42", "10.0.0.77"])))
            .Addresses.ShouldBe([new PortAddress(Net.V6, "fd00:1::42"), new PortAddress(Net.V4, "10.0.0.77")]);
    }

    public static TheoryData<string, string[], string> InvalidFixedAddresses => new()
    {
        { "the gateway", ["10.0.0.1"], "address 10.0.0.1 is the gateway of subnet 10.0.0.0/24" },
        { "the network address", ["10.0.0.0"], "address 10.0.0.0 is the network address of 10.0.0.0/24" },
        { "the broadcast address", ["10.0.0.255"], "address 10.0.0.255 is the broadcast address of 10.0.0.0/24" },
        { "reserved", ["10.0.0.5"], "address 10.0.0.5 is reserved in subnet 10.0.0.0/24 (range 10.0.0.4-10.0.0.6)" },
        { "in no subnet", ["192.168.1.10"], "address 192.168.1.10 is in no subnet of network 'prod-lan'" },
        { "two in one subnet", ["10.0.0.20", "10.0.0.21"], "a port gets at most one address per subnet: 10.0.0.20 and 10.0.0.21 are both in 10.0.0.0/24" },
        { "not an address", ["10.0.0"], "fixed address '10.0.0' is not an IP address" },
    };

    [Theory]
    [MemberData(nameof(InvalidFixedAddresses))]
    public void a_fixed_address_a_port_cannot_have_is_refused(string why, string[] addresses, string problem)
    {
        var rejection = NetworkSpec.Given(Net.WithV4(reserved: [new("10.0.0.4", "10.0.0.6")]))
            .When(NetCmd.AddPort("attach-2", fixedAddresses: addresses))
            .ThenRejected(RejectionCode.Validation);

        rejection.Message.ShouldStartWith(problem, Case.Sensitive, why);
        rejection.Command.ShouldBe("add-port");
    }

    [Fact]
    public void a_fixed_address_another_port_holds_is_a_conflict()
    {
        NetworkSpec.Given(Net.WithPort())
            .When(NetCmd.AddPort("attach-2", fixedAddresses: ["10.0.0.2"]))
            .ThenRejected(RejectionCode.Conflict).Message.ShouldBe($"address 10.0.0.2 is already taken by port {Net.Port("attach-1")}");
    }

    [Fact]
    public void a_given_mac_is_kept_in_canonical_form()
    {
        PortOf(NetworkSpec.Given(Net.WithV4()).When(NetCmd.AddPort("attach-2", mac: "52-54-00-AB-CD-EF"))).Mac.ShouldBe("52:54:00:ab:cd:ef");
    }

    [Fact]
    public void a_mac_another_port_of_the_network_uses_is_a_conflict()
    {
        NetworkSpec.Given([.. Net.WithV4(), Net.PortAdded("attach-1", 3, "10.0.0.2", mac: "52:54:00:ab:cd:ef")])
            .When(NetCmd.AddPort("attach-2", mac: "52:54:00:AB:CD:EF"))
            .ThenRejected(RejectionCode.Conflict)
            .Message.ShouldBe($"MAC 52:54:00:ab:cd:ef is already used by port {Net.Port("attach-1")} on network 'prod-lan'");
    }

    [Theory]
    [InlineData("01:00:5e:00:00:01", "is a multicast address")]
    [InlineData("52:54:00:ab:cd", "is not a MAC address")]
    public void an_invalid_mac_is_refused(string mac, string problem)
    {
        NetworkSpec.Given(Net.WithV4()).When(NetCmd.AddPort("attach-2", mac: mac)).ThenRejected(RejectionCode.Validation, containing: problem);
    }

    [Fact]
    public void a_generated_mac_already_in_use_is_stepped_past()
    {
        NetworkSpec.Given([.. Net.WithV4(), Net.PortAdded("attach-1", 3, "10.0.0.2", mac: MacAddress.ForPort(NewPort))])
            .When(NetCmd.AddPort("attach-2"))
            .ThenAccepted().Events.OfType<NetworkPortAdded>().Single().Port.Mac.ShouldBe(MacAddress.ForPort(NewPort, attempt: 1));
    }

    [Fact]
    public void a_port_on_a_network_without_subnets_has_no_addresses()
    {
        PortOf(NetworkSpec.Given(Net.Active()).When(NetCmd.AddPort("attach-2"))).Addresses.ShouldBeEmpty();
    }

    [Fact]
    public void repeating_an_add_with_its_command_id_returns_the_same_port()
    {
        var outcome = NetworkSpec.Given(Net.WithPort()).When(NetCmd.AddPort("attach-1"));

        outcome.ThenNothingChanges(null);
        outcome.ThenState().PortAddedBy("attach-1").ShouldNotBeNull().Addresses.ShouldBe([new PortAddress(Net.V4, "10.0.0.2")]);
    }

    [Fact]
    public void reusing_an_add_command_id_for_another_port_is_refused()
    {
        NetworkSpec.Given(Net.WithPort())
            .When(NetCmd.AddPort("attach-1", vmId: Net.OtherVm))
            .ThenRejected(RejectionCode.Validation, containing: $"command id 'attach-1' already added port {Net.Port("attach-1")}");
    }

    [Fact]
    public void a_port_id_already_on_the_network_is_a_conflict()
    {
        var command = NetCmd.AddPort("attach-1") with { Context = Fixed.Context("attach-1-again") };

        NetworkSpec.Given(Net.WithPort()).When(command).ThenRejected(RejectionCode.Conflict, containing: "already exists on network 'prod-lan'");
    }

    [Fact]
    public void a_port_without_its_vm_or_with_a_group_twice_is_refused()
    {
        NetworkSpec.Given(Net.WithV4()).When(NetCmd.AddPort("attach-2", vmId: Guid.Empty))
            .ThenRejected(RejectionCode.Validation, containing: "a port must name the VM it belongs to");
        NetworkSpec.Given(Net.WithV4()).When(NetCmd.AddPort("attach-2", groups: [Net.WebGroup, Net.WebGroup]))
            .ThenRejected(RejectionCode.Validation, containing: $"security group {Net.WebGroup} is given twice");
    }

    [Fact]
    public void removing_a_port_releases_its_addresses_and_mac()
    {
        var outcome = NetworkSpec.Given(Net.WithPort()).When(NetCmd.RemovePort());

        outcome.ThenEvents(new NetworkPortRemoved(Net.Id, Net.Port("attach-1"), Fixed.VmId, [new PortAddress(Net.V4, "10.0.0.2")], 4, Fixed.Now));
        var state = outcome.ThenState();
        state.Ports.ShouldBeEmpty();
        state.AddressOwners.ShouldBeEmpty();
        state.MacOwners.ShouldBeEmpty();
        state.Generation.ShouldBe(4);
    }

    [Fact]
    public void removing_a_port_again_changes_nothing_and_an_unknown_port_is_not_found()
    {
        NetworkEvent[] removed =
            [.. Net.WithPort(), new NetworkPortRemoved(Net.Id, Net.Port("attach-1"), Fixed.VmId, [new(Net.V4, "10.0.0.2")], 4, Fixed.Earlier)];

        NetworkSpec.Given(removed).When(NetCmd.RemovePort(commandId: "remove-port-2")).ThenNothingChanges(null);
        NetworkSpec.Given(Net.WithPort())
            .When(NetCmd.RemovePort(NewPort))
            .ThenRejected(RejectionCode.NotFound, containing: $"port {NewPort} is not on network 'prod-lan'");
    }

    [Fact]
    public void setting_a_ports_security_groups_raises_the_generation_and_setting_the_same_ones_changes_nothing()
    {
        var outcome = NetworkSpec.Given(Net.WithPort()).When(NetCmd.SetGroups([Net.WebGroup, Net.DbGroup]));

        outcome.ThenEvents(new NetworkPortSecurityGroupsSet(Net.Id, Net.Port("attach-1"), [Net.WebGroup, Net.DbGroup], 4, Fixed.Now));
        outcome.ThenState().Ports[Net.Port("attach-1")].SecurityGroupIds.ShouldBe([Net.WebGroup, Net.DbGroup]);

        NetworkSpec.Given([.. Net.WithPort(), .. outcome.ThenAccepted().Events])
            .When(NetCmd.SetGroups([Net.DbGroup, Net.WebGroup], commandId: "set-groups-2"))
            .ThenNothingChanges(null);
    }

    [Fact]
    public void security_groups_of_a_port_the_network_lacks_are_not_found()
    {
        NetworkSpec.Given(Net.WithPort())
            .When(NetCmd.SetGroups([Net.WebGroup], NewPort))
            .ThenRejected(RejectionCode.NotFound)
            .Command.ShouldBe("set-port-security-groups");
    }
}
