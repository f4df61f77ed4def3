using Quantixkvm.Domain.Networks;
using Quantixkvm.Domain.Tests.Support;

namespace Quantixkvm.Domain.Tests.Networks;

/// <summary>Networks: defined (Linux bridge, OVS bridge or OVN overlay), updated, realized by hosts, and deleted once no port uses them.</summary>
public class ManagingNetworks
{
    [Fact]
    public void creating_a_bridge_network_on_a_vlan_of_an_uplink_records_it_at_generation_one()
    {
        var state = NetworkSpec.Given()
            .When(NetCmd.Create(description: "production LAN"))
            .ThenEvents(new NetworkCreated(Net.Id, Net.Name, NetworkKind.Bridge, Net.Bridge, "eth0", 100, 1500, "production LAN", Fixed.Now))
            .ThenState();

        state.Generation.ShouldBe(1);
        state.Describe().ShouldBe("ACTIVE");
    }

    [Fact]
    public void an_overlay_network_defaults_to_an_mtu_that_leaves_room_for_geneve()
    {
        NetworkSpec.Given()
            .When(NetCmd.Overlay())
            .ThenEvents(new NetworkCreated(Net.Id, Net.Name, NetworkKind.Overlay, null, null, null, 1442, "", Fixed.Now));
    }

    [Fact]
    public void an_ovs_network_tags_its_ports_with_its_vlan_and_needs_no_uplink()
    {
        NetworkSpec.Given()
            .When(NetCmd.Create(NetworkKind.Ovs, bridge: "br-ovs", uplink: null, vlan: 200, mtu: 9000))
            .ThenEvents(new NetworkCreated(Net.Id, Net.Name, NetworkKind.Ovs, "br-ovs", null, 200, 9000, "", Fixed.Now));
    }

    [Fact]
    public void a_bridge_network_without_a_vlan_may_enslave_its_uplink_directly_or_stand_alone()
    {
        NetworkSpec.Given().When(NetCmd.Create(vlan: null)).ThenAccepted().Events.Count.ShouldBe(1);
        NetworkSpec.Given().When(NetCmd.Create(uplink: null, vlan: null)).ThenAccepted().Events.Count.ShouldBe(1);
    }

    public static TheoryData<string, CreateNetwork, string> InvalidDefinitions => new()
    {
        { "overlay with a bridge", NetCmd.Create(NetworkKind.Overlay, uplink: null, vlan: null), "an Overlay network has no bridge of its own" },
        { "overlay with a VLAN", NetCmd.Create(NetworkKind.Overlay, bridge: null, uplink: null, vlan: 5), "a VLAN is only for Bridge and Ovs networks" },
        { "overlay with an uplink", NetCmd.Create(NetworkKind.Overlay, bridge: null, vlan: null), "an uplink is only for Bridge networks" },
        { "bridge without a bridge name", NetCmd.Create(bridge: null), "bridge name must not be empty" },
        { "OVN's bridge", NetCmd.Create(NetworkKind.Ovs, bridge: "br-int", uplink: null), "bridge name 'br-int' is OVN's integration bridge" },
        { "bridge name too long", NetCmd.Create(bridge: "br-production-01"), "bridge name 'br-production-01' is 16 characters" },
        { "VLAN without uplink", NetCmd.Create(uplink: null), "a Bridge network on VLAN 100 needs an uplink" },
        { "VLAN 4095", NetCmd.Create(vlan: 4095), "VLAN id 4095 is out of range: it must be 1 to 4094" },
        { "ovs with an uplink", NetCmd.Create(NetworkKind.Ovs), "an uplink is only for Bridge networks; an Ovs network tags its VM ports" },
        { "uplink with a shell character", NetCmd.Create(uplink: "eth0;reboot"), "uplink 'eth0;reboot' may contain only letters" },
        { "VLAN interface too long", NetCmd.Create(uplink: "enp129s0f1np1", vlan: 4000), "VLAN interface 'enp129s0f1np1.4000' is 18 characters" },
        { "MTU too small", NetCmd.Create(mtu: 1000), "MTU 1000 is out of range: it must be 1280 to 9216" },
        { "unsafe name", NetCmd.Create(name: "../lan"), "network name '../lan' may contain only" },
        { "description too long", NetCmd.Create(description: new string('x', 1025)), "description must be at most 1024 characters (got 1025)" },
    };

    [Theory]
    [MemberData(nameof(InvalidDefinitions))]
    public void an_invalid_definition_is_refused_naming_the_rule(string why, CreateNetwork command, string problem)
    {
        var rejection = NetworkSpec.Given().When(command).ThenRejected(RejectionCode.Validation, containing: problem);

        rejection.Command.ShouldBe("create-network", why);
    }

    [Fact]
    public void repeating_a_create_with_its_command_id_changes_nothing_even_after_an_update()
    {
        NetworkSpec.Given([.. Net.Active(), new NetworkUpdated(Net.Id, 9000, "jumbo", 2, Fixed.Earlier)])
            .When(NetCmd.Create())
            .ThenNothingChanges(null);
    }

    [Fact]
    public void another_definition_under_an_existing_network_id_is_a_conflict()
    {
        NetworkSpec.Given(Net.Active())
            .When(NetCmd.Create(vlan: 200))
            .ThenRejected(RejectionCode.Conflict, containing: $"network {Net.Id} already exists");
    }

    [Fact]
    public void updating_the_mtu_and_description_raises_the_generation()
    {
        var state = NetworkSpec.Given(Net.WithV4())
            .When(NetCmd.Update(mtu: 9000, description: "jumbo frames"))
            .ThenEvents(new NetworkUpdated(Net.Id, 9000, "jumbo frames", 3, Fixed.Now))
            .ThenState();

        (state.Mtu, state.Description, state.Generation).ShouldBe((9000, "jumbo frames", 3L));
    }

    [Fact]
    public void an_update_that_changes_nothing_records_nothing()
    {
        NetworkSpec.Given(Net.Active()).When(NetCmd.Update(mtu: 1500)).ThenNothingChanges(null);
        NetworkSpec.Given(Net.Active()).When(NetCmd.Update()).ThenNothingChanges(null);
    }

    [Fact]
    public void an_update_to_an_invalid_mtu_is_refused()
    {
        NetworkSpec.Given(Net.Active())
            .When(NetCmd.Update(mtu: 10000))
            .ThenRejected(RejectionCode.Validation, containing: "MTU 10000 is out of range")
            .Command.ShouldBe("update-network");
    }

    [Fact]
    public void commands_to_a_network_that_does_not_exist_are_not_found()
    {
        NetworkSpec.Given().When(NetCmd.AddSubnet()).ThenRejected(RejectionCode.NotFound, containing: "the network does not exist");
        NetworkSpec.Given().When(NetCmd.Delete()).ThenRejected(RejectionCode.NotFound).State.ShouldBe("NONEXISTENT");
    }

    [Fact]
    public void a_network_with_ports_cannot_be_deleted()
    {
        var rejection = NetworkSpec.Given(Net.WithPort())
            .When(NetCmd.Delete())
            .ThenRejected(RejectionCode.InvalidState, containing: "network 'prod-lan' still has 1 port(s)");

        rejection.Command.ShouldBe("delete-network");
    }

    [Fact]
    public void a_network_without_ports_is_deleted_with_its_subnets()
    {
        NetworkSpec.Given(Net.DualStack())
            .When(NetCmd.Delete())
            .ThenEvents(new NetworkDeleted(Net.Id, Fixed.Now))
            .ThenState().Describe().ShouldBe("DELETED");
    }

    [Fact]
    public void once_deleted_a_network_takes_no_changes_and_a_repeated_delete_changes_nothing()
    {
        NetworkSpec.Given(Net.Deleted()).When(NetCmd.Delete("delete-net-2")).ThenNothingChanges(null);
        NetworkSpec.Given(Net.Deleted())
            .When(NetCmd.AddSubnet())
            .ThenRejected(RejectionCode.NotFound, containing: "network 'prod-lan' was deleted");
        NetworkSpec.Given(Net.Deleted()).When(NetCmd.Update(mtu: 9000)).ThenRejected(RejectionCode.NotFound);
    }

    [Fact]
    public void a_host_holding_the_current_generation_is_recorded_once()
    {
        var realized = new NetworkRealizedOnHost(Net.Id, Fixed.HostId, 2, "bridge br-prod on eth0.100", Fixed.Now);

        NetworkSpec.Given(Net.WithV4()).When(NetCmd.Realized(2)).ThenEvents(realized)
            .ThenState().Hosts[Fixed.HostId].ShouldBe(new HostRealization(2, null));
        NetworkSpec.Given([.. Net.WithV4(), realized]).When(NetCmd.Realized(2)).ThenNothingChanges(null);
    }

    [Fact]
    public void a_failure_is_recorded_when_its_generation_or_error_is_new_and_a_later_success_clears_it()
    {
        var failed = new NetworkRealizationFailed(Net.Id, Fixed.HostId, 2, "eth0: no such device", Fixed.Now);

        NetworkSpec.Given(Net.WithV4()).When(NetCmd.Failed(2, "eth0: no such device")).ThenEvents(failed);
        NetworkSpec.Given([.. Net.WithV4(), failed]).When(NetCmd.Failed(2, "eth0: no such device")).ThenNothingChanges(null);
        NetworkSpec.Given([.. Net.WithV4(), failed])
            .When(NetCmd.Failed(2, "RTNETLINK answers: Operation not permitted"))
            .ThenEvents(failed with { Error = "RTNETLINK answers: Operation not permitted" });
        NetworkSpec.Given([.. Net.WithV4(), failed])
            .When(NetCmd.Realized(2))
            .ThenEvents(new NetworkRealizedOnHost(Net.Id, Fixed.HostId, 2, "bridge br-prod on eth0.100", Fixed.Now))
            .ThenState().Hosts[Fixed.HostId].ShouldBe(new HostRealization(2, null));
    }

    [Fact]
    public void a_report_older_than_the_one_recorded_for_the_host_is_stale()
    {
        NetworkSpec.Given([.. Net.WithV4(), new NetworkRealizedOnHost(Net.Id, Fixed.HostId, 2, "", Fixed.Earlier)])
            .When(NetCmd.Failed(1, "late report"))
            .ThenNothingChanges(null);
    }

    [Fact]
    public void each_host_is_recorded_apart()
    {
        NetworkSpec.Given([.. Net.WithV4(), new NetworkRealizedOnHost(Net.Id, Fixed.HostId, 2, "", Fixed.Earlier)])
            .When(NetCmd.Realized(1, Host.Target, "bridge br-prod"))
            .ThenEvents(new NetworkRealizedOnHost(Net.Id, Host.Target, 1, "bridge br-prod", Fixed.Now));
    }

    [Fact]
    public void a_generation_the_network_has_not_reached_is_refused()
    {
        NetworkSpec.Given(Net.WithV4())
            .When(NetCmd.Realized(3))
            .ThenRejected(RejectionCode.Validation, containing: "a host reports generation 3 of network 'prod-lan', which is at generation 2");
    }

    [Fact]
    public void a_late_report_about_a_deleted_network_changes_nothing()
    {
        NetworkSpec.Given(Net.Deleted()).When(NetCmd.Realized(1)).ThenNothingChanges(null);
    }
}
