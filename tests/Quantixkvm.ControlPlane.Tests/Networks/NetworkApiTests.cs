using Microsoft.Extensions.DependencyInjection;
using Quantixkvm.ControlPlane.Commands;
using Quantixkvm.ControlPlane.Dispatch;
using Quantixkvm.ControlPlane.Tests.Support;
using Quantixkvm.Testing;

namespace Quantixkvm.ControlPlane.Tests.Networks;

/// <summary>Networks through the API: defined, read back, refused with a typed error naming the problem, watched, deleted.</summary>
public sealed class NetworkApiTests(ControlPlaneFixture fixture) : IClassFixture<ControlPlaneFixture>
{
    private ControlPlaneApp App => fixture.App;

    [Fact]
    public async Task an_overlay_network_with_an_ipv4_and_an_ipv6_subnet_reads_back_as_defined()
    {
        var api = App.Api();
        var name = NetworkApi.Unique("overlay");

        var created = await api.CreateOverlayAsync(name);

        var id = created.Text("network.id");
        created.Text("network.kind").ShouldBe("OVERLAY");
        created.Int("network.mtu").ShouldBe(1442, "an overlay's default leaves room for Geneve's header");
        created.Int("network.generation").ShouldBe(1);
        created.Int("version").ShouldBe(1);
        created.At("network.bridgeName").ShouldBeNull();
        created.List("network.subnets").ShouldBeEmpty();

        await api.AddSubnetAsync(id, new
        {
            cidr = "10.20.0.0/24",
            dnsServers = new[] { "10.20.0.2" },
            allocationPools = new[] { new { start = "10.20.0.100", end = "10.20.0.199" } },
            reservedRanges = new[] { new { start = "10.20.0.150", end = "10.20.0.159" } },
        });
        var added = await api.AddSubnetAsync(id, new { cidr = "FD00:20::/64", gateway = "fd00:20::fe", dhcpEnabled = false });

        added.Int("version").ShouldBe(3);
        var network = (await api.NetworkAsync(id))!;
        network.Text("name").ShouldBe(name);
        network.Int("generation").ShouldBe(3, "each subnet is a change the hosts must apply");
        network.Int("version").ShouldBe(3);
        var v4 = network.At("subnets.0")!;
        v4.Text("cidr").ShouldBe("10.20.0.0/24");
        v4.Int("ipVersion").ShouldBe(4);
        v4.Text("gateway").ShouldBe("10.20.0.1", "the default gateway is the first host address");
        v4.List("dnsServers").Select(d => d!.GetValue<string>()).ShouldBe(["10.20.0.2"]);
        v4.Text("allocationPools.0.start").ShouldBe("10.20.0.100");
        v4.Text("allocationPools.0.end").ShouldBe("10.20.0.199");
        v4.Text("reservedRanges.0.start").ShouldBe("10.20.0.150");
        v4.At("dhcpEnabled")!.GetValue<bool>().ShouldBeTrue();
        var v6 = network.At("subnets.1")!;
        v6.Text("cidr").ShouldBe("fd00:20::/64", "addresses are kept in canonical form");
        v6.Int("ipVersion").ShouldBe(6);
        v6.Text("gateway").ShouldBe("fd00:20::fe");
        v6.At("dhcpEnabled")!.GetValue<bool>().ShouldBeFalse();
        network.List("ports").ShouldBeEmpty();
        (await api.NetworksAsync()).Select(n => n!.Text("id")).ShouldContain(id);
    }

    [Fact]
    public async Task repeating_a_command_id_changes_nothing_more()
    {
        var api = App.Api();
        var commandId = $"net-{Guid.NewGuid():N}";
        var name = NetworkApi.Unique("repeat");
        var first = await api.CreateOverlayAsync(name, commandId);
        var again = await api.CreateOverlayAsync(name, commandId);
        again.Text("network.id").ShouldBe(first.Text("network.id"));
        again.Int("version").ShouldBe(1);

        var subnetCommand = $"subnet-{Guid.NewGuid():N}";
        await api.AddSubnetAsync(first.Text("network.id"), new { cidr = "10.30.0.0/24" }, subnetCommand);
        var repeated = await api.AddSubnetAsync(first.Text("network.id"), new { cidr = "10.30.0.0/24" }, subnetCommand);

        repeated.Int("version").ShouldBe(2);
        repeated.List("network.subnets").Count.ShouldBe(1);
    }

    [Theory]
    [InlineData("BRIDGE", "qb-vlan", 5000, null, "VLAN id 5000 is out of range")]
    [InlineData("BRIDGE", "qkvm-bridge-name-too-long", null, null, "Linux interface names have at most 15")]
    [InlineData("OVS", "qb with space", null, null, "'qb with space' may contain only letters")]
    [InlineData("OVERLAY", null, null, 100, "MTU 100 is out of range")]
    [InlineData("OVERLAY", "br-x", null, null, "an Overlay network has no bridge of its own")]
    [InlineData("BRIDGE", null, null, null, "bridge name must not be empty")]
    public async Task a_bad_network_definition_is_refused_as_validation_naming_the_problem(string kind, string? bridgeName, int? vlan, int? mtu, string problem)
    {
        var name = NetworkApi.Unique("bad");

        var (code, message) = await App.Api().RefusalAsync(NetworkApi.CreateNetwork, new { input = new { name, kind, bridgeName, vlan, mtu } });

        code.ShouldBe("VALIDATION");
        message.ShouldContain(problem);
        (await App.Api().NetworksAsync()).Select(n => n!.Text("name")).ShouldNotContain(name);
    }

    [Fact]
    public async Task a_second_network_with_a_taken_name_or_bridge_is_refused_as_already_exists()
    {
        var api = App.Api();
        var name = NetworkApi.Unique("taken");
        var bridge = NetworkApi.UniqueBridge();
        await api.CreateNetworkAsync(new { name, kind = "BRIDGE", bridgeName = bridge });

        var (nameCode, nameMessage) = await api.RefusalAsync(NetworkApi.CreateNetwork, new { input = new { name, kind = "OVERLAY" } });
        var (bridgeCode, bridgeMessage) = await api.RefusalAsync(NetworkApi.CreateNetwork,
            new { input = new { name = NetworkApi.Unique("other"), kind = "OVS", bridgeName = bridge } });

        nameCode.ShouldBe("ALREADY_EXISTS");
        nameMessage.ShouldContain($"a network named '{name}' already exists");
        bridgeCode.ShouldBe("ALREADY_EXISTS");
        bridgeMessage.ShouldContain($"bridge '{bridge}' already serves network '{name}'");
    }

    [Fact]
    public async Task a_bridge_network_on_a_vlan_of_an_uplink_keeps_its_definition()
    {
        var bridge = NetworkApi.UniqueBridge();

        var created = await App.Api().CreateNetworkAsync(new
        {
            name = NetworkApi.Unique("vlan"), kind = "BRIDGE", bridgeName = bridge, uplink = "eth0", vlan = 100, mtu = 9000, description = "storage VLAN",
        });

        created.Text("network.kind").ShouldBe("BRIDGE");
        created.Text("network.bridgeName").ShouldBe(bridge);
        created.Text("network.uplink").ShouldBe("eth0");
        created.Int("network.vlan").ShouldBe(100);
        created.Int("network.mtu").ShouldBe(9000);
        created.Text("network.description").ShouldBe("storage VLAN");
    }

    [Fact]
    public async Task an_overlapping_subnet_or_a_gateway_outside_is_refused_and_nothing_is_recorded()
    {
        var api = App.Api();
        var id = (await api.CreateOverlayAsync(NetworkApi.Unique("subnets"))).Text("network.id");
        await api.AddSubnetAsync(id, new { cidr = "10.40.0.0/16" });

        var (overlapCode, overlap) = await api.RefusalAsync(NetworkApi.AddSubnet, new { networkId = id, input = new { cidr = "10.40.8.0/24" } });
        var (gatewayCode, gateway) = await api.RefusalAsync(NetworkApi.AddSubnet,
            new { networkId = id, input = new { cidr = "10.41.0.0/24", gateway = "10.42.0.1" } });
        var (hostBitsCode, hostBits) = await api.RefusalAsync(NetworkApi.AddSubnet, new { networkId = id, input = new { cidr = "10.43.0.5/24" } });

        overlapCode.ShouldBe("ALREADY_EXISTS");
        overlap.ShouldContain("subnet 10.40.8.0/24 overlaps subnet 10.40.0.0/16");
        gatewayCode.ShouldBe("VALIDATION");
        gateway.ShouldContain("gateway 10.42.0.1 is not in subnet 10.41.0.0/24");
        hostBitsCode.ShouldBe("VALIDATION");
        hostBits.ShouldContain("has host bits set");
        var network = (await api.NetworkAsync(id))!;
        network.Int("version").ShouldBe(2);
        network.List("subnets").Count.ShouldBe(1);
    }

    [Fact]
    public async Task ids_that_are_not_uuids_are_refused_as_validation_and_unknown_networks_as_not_found()
    {
        var api = App.Api();

        var (queryCode, query) = await api.RefusalAsync($"query($id: ID!) {{ network(id: $id) {{ id }} }}", new { id = "nope" });
        var (subnetCode, subnet) = await api.RefusalAsync(NetworkApi.AddSubnet, new { networkId = "nope", input = new { cidr = "10.0.0.0/24" } });
        var (portCode, port) = await api.RefusalAsync(NetworkApi.SetPortSecurityGroups,
            new { networkId = Guid.NewGuid().ToString(), portId = Guid.NewGuid().ToString(), securityGroupIds = new[] { "not-a-group" } });
        var unknown = Guid.NewGuid().ToString();
        var (unknownCode, unknownMessage) = await api.RefusalAsync(NetworkApi.AddSubnet, new { networkId = unknown, input = new { cidr = "10.0.0.0/24" } });

        queryCode.ShouldBe("VALIDATION");
        query.ShouldContain("id 'nope' is not a valid id");
        subnetCode.ShouldBe("VALIDATION");
        subnet.ShouldContain("networkId 'nope' is not a valid id");
        portCode.ShouldBe("VALIDATION");
        port.ShouldContain("securityGroupIds 'not-a-group' is not a valid id");
        unknownCode.ShouldBe("NOT_FOUND");
        unknownMessage.ShouldContain("the network does not exist");
        (await api.NetworkAsync(unknown)).ShouldBeNull();
    }

    [Fact]
    public async Task update_changes_mtu_and_description_and_a_stale_expected_version_is_a_concurrency_conflict()
    {
        var api = App.Api();
        var id = (await api.CreateOverlayAsync(NetworkApi.Unique("update"))).Text("network.id");

        var updated = (await api.DataAsync(NetworkApi.UpdateNetwork, new { id, mtu = 1400, description = "tenant A", expectedVersion = 1 }))["updateNetwork"]!;

        updated.Int("network.mtu").ShouldBe(1400);
        updated.Text("network.description").ShouldBe("tenant A");
        updated.Int("network.generation").ShouldBe(2);
        updated.Int("version").ShouldBe(2);
        var (staleCode, _) = await api.RefusalAsync(NetworkApi.UpdateNetwork, new { id, mtu = 1300, expectedVersion = 1 });
        staleCode.ShouldBe("CONCURRENCY_CONFLICT");
        var (mtuCode, mtu) = await api.RefusalAsync(NetworkApi.UpdateNetwork, new { id, mtu = 100 });
        mtuCode.ShouldBe("VALIDATION");
        mtu.ShouldContain("MTU 100 is out of range: it must be 1280 to 9216");
        var (negativeCode, _) = await api.RefusalAsync(NetworkApi.UpdateNetwork, new { id, mtu = 1300, expectedVersion = -1 });
        negativeCode.ShouldBe("VALIDATION");
        (await api.NetworkAsync(id))!.Int("mtu").ShouldBe(1400);
    }

    [Fact]
    public async Task setting_the_groups_of_a_port_the_network_does_not_have_is_not_found()
    {
        var api = App.Api();
        var id = (await api.CreateOverlayAsync(NetworkApi.Unique("ports"))).Text("network.id");
        var group = (await api.CreateGroupAsync(NetworkApi.Unique("web"))).Text("securityGroup.id");
        var portId = Guid.NewGuid().ToString();

        var (code, message) = await api.RefusalAsync(NetworkApi.SetPortSecurityGroups, new { networkId = id, portId, securityGroupIds = new[] { group } });
        var unknownGroup = Guid.NewGuid().ToString();
        var (groupCode, groupMessage) = await api.RefusalAsync(NetworkApi.SetPortSecurityGroups,
            new { networkId = id, portId, securityGroupIds = new[] { unknownGroup } });

        code.ShouldBe("NOT_FOUND");
        message.ShouldContain($"port {portId} is not on network");
        groupCode.ShouldBe("NOT_FOUND");
        groupMessage.ShouldContain($"security group {unknownGroup} does not exist");
    }

    [Fact]
    public async Task status_follows_what_the_online_host_reports()
    {
        var api = App.Api();
        var id = (await api.CreateOverlayAsync(NetworkApi.Unique("status"))).Text("network.id");
        (await api.NetworkAsync(id))!.Text("status").ShouldBe("PENDING", "no host holds it yet");

        await ReportAsync(id, generation: 1, error: null);
        var ready = (await api.NetworkAsync(id))!;
        ready.Text("status").ShouldBe("READY");
        ready.Text("hosts.0.hostId").ShouldBe(fixture.Agent.HostId.ToString());
        ready.Text("hosts.0.hostName").ShouldBe(fixture.Agent.Name);
        ready.Int("hosts.0.realizedGeneration").ShouldBe(1);
        ready.Text("hosts.0.summary").ShouldBe("logical switch made");
        ready.At("hosts.0.upToDate")!.GetValue<bool>().ShouldBeTrue();

        await api.AddSubnetAsync(id, new { cidr = "10.50.0.0/24" });
        var pending = (await api.NetworkAsync(id))!;
        pending.Text("status").ShouldBe("PENDING", "the host holds generation 1 of 2");
        pending.At("hosts.0.upToDate")!.GetValue<bool>().ShouldBeFalse();

        await ReportAsync(id, generation: 2, error: "ovn-nb: connection refused");
        var degraded = (await api.NetworkAsync(id))!;
        degraded.Text("status").ShouldBe("DEGRADED");
        degraded.Text("hosts.0.error").ShouldBe("ovn-nb: connection refused");
        degraded.At("hosts.0.upToDate")!.GetValue<bool>().ShouldBeFalse();
    }

    [Fact]
    public async Task removing_a_subnet_then_deleting_the_network_hides_it()
    {
        var api = App.Api();
        var name = NetworkApi.Unique("deleted");
        var id = (await api.CreateOverlayAsync(name)).Text("network.id");
        var subnetId = (await api.AddSubnetAsync(id, new { cidr = "10.60.0.0/24" })).Text("network.subnets.0.id");

        var removed = (await api.DataAsync(NetworkApi.RemoveSubnet, new { networkId = id, subnetId }))["removeSubnet"]!;
        removed.List("network.subnets").ShouldBeEmpty();
        var unknownSubnet = Guid.NewGuid().ToString();
        var (unknownSubnetCode, unknownSubnetMessage) = await api.RefusalAsync(NetworkApi.RemoveSubnet, new { networkId = id, subnetId = unknownSubnet });
        unknownSubnetCode.ShouldBe("NOT_FOUND");
        unknownSubnetMessage.ShouldContain($"has no subnet {unknownSubnet}");

        var deleted = (await api.DataAsync(NetworkApi.DeleteNetwork, new { id }))["deleteNetwork"]!;

        deleted.At("network.deletedAt").ShouldNotBeNull();
        (await api.NetworkAsync(id)).ShouldBeNull();
        (await api.NetworksAsync()).Select(n => n!.Text("id")).ShouldNotContain(id);
        var (updateCode, update) = await api.RefusalAsync(NetworkApi.UpdateNetwork, new { id, mtu = 1400 });
        updateCode.ShouldBe("NOT_FOUND");
        update.ShouldContain($"network '{name}' was deleted");
        (await api.CreateOverlayAsync(name)).Text("network.id").ShouldNotBe(id, "a deleted network's name is free again");
    }

    [Fact]
    public async Task network_changed_sends_the_network_after_each_change()
    {
        var api = App.Api();
        var id = (await api.CreateOverlayAsync(NetworkApi.Unique("watched"))).Text("network.id");
        var other = (await api.CreateOverlayAsync(NetworkApi.Unique("unwatched"))).Text("network.id");
        var hub = App.Services.GetRequiredService<ChangeHub>();
        var listening = hub.Networks.SubscriberCount;
        await using var ws = await TestServerSubscriptions.ConnectAsync(App);
        await ws.SubscribeAsync("net", "subscription($id: ID) { networkChanged(id: $id) { id generation status subnets { cidr } deletedAt } }", new { id });
        await Eventually.WaitAsync(() => Task.FromResult(hub.Networks.SubscriberCount > listening), "the network subscription to be listening");

        await api.AddSubnetAsync(other, new { cidr = "10.70.0.0/24" });
        await api.AddSubnetAsync(id, new { cidr = "10.71.0.0/24" });
        await api.DataAsync(NetworkApi.DeleteNetwork, new { id });

        var seen = await ws.ReadUntilAsync("net", d => d["networkChanged"]?["deletedAt"] is not null, TimeSpan.FromSeconds(15));
        seen.ShouldAllBe(d => d["networkChanged"]!["id"]!.GetValue<string>() == id, "only the network asked for");
        seen.ShouldContain(d => d["networkChanged"]!["generation"]!.GetValue<long>() == 2
            && d["networkChanged"]!["subnets"]![0]!["cidr"]!.GetValue<string>() == "10.71.0.0/24");
    }

    /// <summary>A report of the fixture's host, recorded as the realization consumer records one.</summary>
    private Task<CommandResult> ReportAsync(string networkId, long generation, string? error) =>
        App.InScopeAsync(services => services.GetRequiredService<NetworkCommands>().RecordRealizationAsync(
            Guid.Parse(networkId), fixture.Agent.HostId, generation, error, error is null ? "logical switch made" : "",
            new CommandMetadata(CommandMetadata.NewCommandId(), $"host:{fixture.Agent.HostId}", Guid.NewGuid().ToString()), CancellationToken.None));
}
