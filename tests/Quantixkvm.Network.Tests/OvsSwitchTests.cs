using Quantixkvm.Network.Ovs;
using Quantixkvm.Network.Ovsdb;
using Quantixkvm.Testing;

namespace Quantixkvm.Network.Tests;

/// <summary>OvsSwitch against a private Open_vSwitch database (no ovs-vswitchd needed to write it), checked with ovs-vsctl.</summary>
public sealed class OvsSwitchTests(VswitchDatabase database) : IClassFixture<VswitchDatabase>
{
    private OvsdbServer Server => database.Server;

    /// <summary>A bridge or port name unique to the test, within Linux's 15 characters.</summary>
    private static string Unique(string prefix) => prefix + Guid.NewGuid().ToString("N")[..(12 - prefix.Length)];

    private async Task<string> VsctlAsync(params string[] arguments) => (await Server.ToolAsync("ovs-vsctl", arguments)).Trim();

    [Fact]
    public async Task ensuring_a_bridge_creates_a_netdev_bridge_with_its_mtu_and_marker()
    {
        await using var client = await OvsdbClient.ConnectAsync(Server.UnixEndpoint);
        var ovs = new OvsSwitch(client);
        var name = Unique("br");

        (await ovs.EnsureBridgeAsync(new OvsBridgeSpec(name, Mtu: 1400, ExternalIds: new Dictionary<string, string> { ["qkvm-network-id"] = "n1" }))).ShouldBeTrue();

        (await VsctlAsync("list-br")).Split('\n').ShouldContain(name);
        (await VsctlAsync("get", "Bridge", name, "datapath_type")).ShouldBe("netdev");
        (await VsctlAsync("br-get-external-id", name, "qkvm-managed")).ShouldBe("true");
        (await VsctlAsync("br-get-external-id", name, "qkvm-network-id")).ShouldBe("n1");
        (await VsctlAsync("get", "Interface", name, "type", "mtu_request")).ShouldBe("internal\n1400");
    }

    [Fact]
    public async Task ensuring_the_same_bridge_and_port_twice_changes_nothing()
    {
        await using var client = await OvsdbClient.ConnectAsync(Server.UnixEndpoint);
        var ovs = new OvsSwitch(client);
        var bridge = Unique("br");
        var port = Unique("vp");
        var bridgeSpec = new OvsBridgeSpec(bridge, Mtu: 1500);
        var portSpec = new OvsPortSpec(bridge, port, OvsInterfaceType.Internal, VlanTag: 10, InterfaceExternalIds: new Dictionary<string, string> { ["iface-id"] = "p1" });
        (await ovs.EnsureBridgeAsync(bridgeSpec)).ShouldBeTrue();
        (await ovs.EnsurePortAsync(portSpec)).ShouldBeTrue();
        var versions = await RowVersionsAsync(client, bridge, port);

        (await ovs.EnsureBridgeAsync(bridgeSpec)).ShouldBeFalse();
        (await ovs.EnsurePortAsync(portSpec)).ShouldBeFalse();

        (await RowVersionsAsync(client, bridge, port)).ShouldBe(versions);
    }

    [Fact]
    public async Task ensuring_a_bridge_again_fixes_what_differs()
    {
        await using var client = await OvsdbClient.ConnectAsync(Server.UnixEndpoint);
        var ovs = new OvsSwitch(client);
        var name = Unique("br");
        await VsctlAsync("add-br", name, "--", "set", "Bridge", name, "datapath_type=system");

        (await ovs.EnsureBridgeAsync(new OvsBridgeSpec(name, Mtu: 9000))).ShouldBeTrue();

        (await VsctlAsync("get", "Bridge", name, "datapath_type")).ShouldBe("netdev");
        (await VsctlAsync("get", "Interface", name, "mtu_request")).ShouldBe("9000");
        (await VsctlAsync("br-get-external-id", name, "qkvm-managed")).ShouldBe("true");
    }

    [Fact]
    public async Task ports_get_their_type_vlan_tag_and_interface_ids_and_can_be_changed_and_removed()
    {
        await using var client = await OvsdbClient.ConnectAsync(Server.UnixEndpoint);
        var ovs = new OvsSwitch(client);
        var bridge = Unique("br");
        var port = Unique("vp");
        await ovs.EnsureBridgeAsync(new OvsBridgeSpec(bridge));

        await ovs.EnsurePortAsync(new OvsPortSpec(bridge, port, OvsInterfaceType.Internal, VlanTag: 100, Mtu: 1400,
            InterfaceExternalIds: new Dictionary<string, string> { ["iface-id"] = "lsp-1" }));

        (await VsctlAsync("list-ports", bridge)).Split('\n').ShouldBe([port]);
        (await VsctlAsync("port-to-br", port)).ShouldBe(bridge);
        (await VsctlAsync("get", "Port", port, "tag")).ShouldBe("100");
        (await VsctlAsync("get", "Interface", port, "type", "mtu_request")).ShouldBe("internal\n1400");
        (await VsctlAsync("get", "Interface", port, "external_ids:iface-id")).ShouldBe("lsp-1");

        (await ovs.EnsurePortAsync(new OvsPortSpec(bridge, port, OvsInterfaceType.System))).ShouldBeTrue();
        (await VsctlAsync("get", "Port", port, "tag")).ShouldBe("[]");
        (await VsctlAsync("get", "Interface", port, "type")).ShouldBe("\"\"");

        (await ovs.RemovePortAsync(bridge, port)).ShouldBeTrue();
        (await VsctlAsync("list-ports", bridge)).ShouldBeEmpty();
        (await VsctlAsync("--columns=name", "find", "Interface", $"name={port}")).ShouldBeEmpty();
        (await ovs.RemovePortAsync(bridge, port)).ShouldBeFalse();
    }

    [Fact]
    public async Task ensuring_a_port_that_is_on_another_bridge_moves_it()
    {
        await using var client = await OvsdbClient.ConnectAsync(Server.UnixEndpoint);
        var ovs = new OvsSwitch(client);
        var first = Unique("br");
        var second = Unique("br");
        var port = Unique("vp");
        await VsctlAsync("add-br", first, "--", "add-port", first, port);
        await ovs.EnsureBridgeAsync(new OvsBridgeSpec(second));

        (await ovs.EnsurePortAsync(new OvsPortSpec(second, port))).ShouldBeTrue();

        (await VsctlAsync("port-to-br", port)).ShouldBe(second);
        (await VsctlAsync("list-ports", first)).ShouldBeEmpty();
    }

    [Fact]
    public async Task interface_external_ids_are_merged_with_keys_others_set()
    {
        await using var client = await OvsdbClient.ConnectAsync(Server.UnixEndpoint);
        var ovs = new OvsSwitch(client);
        var bridge = Unique("br");
        var port = Unique("tap");
        await ovs.EnsureBridgeAsync(new OvsBridgeSpec(bridge));
        await ovs.EnsurePortAsync(new OvsPortSpec(bridge, port));
        await VsctlAsync("set", "Interface", port, "external_ids:attached-mac=\"52:54:00:00:00:01\"", "external_ids:iface-id=old");

        (await ovs.SetInterfaceExternalIdsAsync(port, new Dictionary<string, string?> { ["iface-id"] = "lsp-9", ["qkvm-port-id"] = "p9" })).ShouldBeTrue();
        (await ovs.SetInterfaceExternalIdsAsync(port, new Dictionary<string, string?> { ["iface-id"] = "lsp-9" })).ShouldBeFalse();

        (await ovs.GetInterfaceExternalIdsAsync(port)).ShouldBe(
            new Dictionary<string, string> { ["attached-mac"] = "52:54:00:00:00:01", ["iface-id"] = "lsp-9", ["qkvm-port-id"] = "p9" }, ignoreOrder: true);
        (await VsctlAsync("get", "Interface", port, "external_ids:iface-id")).ShouldBe("lsp-9");

        (await ovs.SetInterfaceExternalIdsAsync(port, new Dictionary<string, string?> { ["qkvm-port-id"] = null })).ShouldBeTrue();
        (await ovs.GetInterfaceExternalIdsAsync(port))!.Keys.ShouldBe(["attached-mac", "iface-id"], ignoreOrder: true);
        (await ovs.GetInterfaceExternalIdsAsync("nosuch0")).ShouldBeNull();
        await Should.ThrowAsync<NetworkObjectMissingException>(() => ovs.SetInterfaceExternalIdsAsync("nosuch0", new Dictionary<string, string?> { ["a"] = "b" }));
    }

    [Fact]
    public async Task only_marked_bridges_are_listed_and_ports_tell_whether_they_are_ours()
    {
        await using var client = await OvsdbClient.ConnectAsync(Server.UnixEndpoint);
        var ovs = new OvsSwitch(client);
        var ours = Unique("br");
        var theirs = Unique("br");
        var ourPort = Unique("vp");
        var foreignPort = Unique("fp");
        await ovs.EnsureBridgeAsync(new OvsBridgeSpec(ours, Mtu: 1450));
        await ovs.EnsurePortAsync(new OvsPortSpec(ours, ourPort, VlanTag: 7));
        await VsctlAsync("add-br", theirs);
        await VsctlAsync("add-port", ours, foreignPort);

        var listed = await ovs.ListManagedBridgesAsync();

        listed.Select(b => b.Name).ShouldContain(ours);
        listed.Select(b => b.Name).ShouldNotContain(theirs);
        var bridge = listed.Single(b => b.Name == ours);
        bridge.DatapathType.ShouldBe("netdev");
        bridge.Mtu.ShouldBe(1450);
        bridge.Ports.Select(p => (p.Name, p.IsManaged)).ShouldBe([(foreignPort, false), (ours, true), (ourPort, true)], ignoreOrder: true);
        bridge.Ports.Single(p => p.Name == ourPort).VlanTag.ShouldBe(7);
        (await ovs.GetBridgeAsync(theirs)).ShouldNotBeNull().IsManaged.ShouldBeFalse();
    }

    [Fact]
    public async Task deleting_a_bridge_removes_it_with_its_ports()
    {
        await using var client = await OvsdbClient.ConnectAsync(Server.UnixEndpoint);
        var ovs = new OvsSwitch(client);
        var bridge = Unique("br");
        var port = Unique("vp");
        await ovs.EnsureBridgeAsync(new OvsBridgeSpec(bridge));
        await ovs.EnsurePortAsync(new OvsPortSpec(bridge, port, OvsInterfaceType.Internal));

        (await ovs.DeleteBridgeAsync(bridge)).ShouldBeTrue();

        (await VsctlAsync("list-br")).Split('\n').ShouldNotContain(bridge);
        (await VsctlAsync("--columns=name", "find", "Port", $"name={port}")).ShouldBeEmpty();
        (await VsctlAsync("--columns=name", "find", "Interface", $"name={bridge}")).ShouldBeEmpty();
        (await ovs.DeleteBridgeAsync(bridge)).ShouldBeFalse();
        (await ovs.GetBridgeAsync(bridge)).ShouldBeNull();
    }

    [Fact]
    public async Task concurrent_writers_ensuring_one_bridge_make_exactly_one()
    {
        var name = Unique("br");
        var clients = await Task.WhenAll(Enumerable.Range(0, 4).Select(_ => OvsdbClient.ConnectAsync(Server.UnixEndpoint)));
        try
        {
            var changed = await Task.WhenAll(clients.Select(c => new OvsSwitch(c).EnsureBridgeAsync(new OvsBridgeSpec(name, Mtu: 1500))));

            changed.ShouldContain(true);
            (await VsctlAsync("list-br")).Split('\n').Count(b => b == name).ShouldBe(1);
            (await VsctlAsync("--columns=name", "find", "Port", $"name={name}")).Split('\n', StringSplitOptions.RemoveEmptyEntries).Length.ShouldBe(1);
        }
        finally
        {
            foreach (var client in clients)
            {
                await client.DisposeAsync();
            }
        }
    }

    [Fact]
    public async Task a_fresh_database_without_a_root_row_gets_one()
    {
        await using var server = await OvsdbServer.StartAsync(OvsdbServer.VswitchSchema);
        await using var client = await OvsdbClient.ConnectAsync(server.UnixEndpoint);

        await new OvsSwitch(client).EnsureBridgeAsync(new OvsBridgeSpec("br-fresh"));

        (await server.ToolAsync("ovs-vsctl", "list-br")).Trim().ShouldBe("br-fresh");
    }

    [Fact]
    public async Task bad_names_tags_mtus_and_missing_bridges_are_refused_with_the_rule()
    {
        await using var client = await OvsdbClient.ConnectAsync(Server.UnixEndpoint);
        var ovs = new OvsSwitch(client);

        (await Should.ThrowAsync<ArgumentException>(() => ovs.EnsureBridgeAsync(new OvsBridgeSpec("br;rm -rf")))).Message.ShouldContain("may contain only");
        (await Should.ThrowAsync<ArgumentException>(() => ovs.EnsureBridgeAsync(new OvsBridgeSpec("a-very-long-bridge-name")))).Message.ShouldContain("15");
        (await Should.ThrowAsync<ArgumentException>(() => ovs.EnsureBridgeAsync(new OvsBridgeSpec("br0", Mtu: 100)))).Message.ShouldContain("MTU 100");
        (await Should.ThrowAsync<ArgumentException>(() => ovs.EnsurePortAsync(new OvsPortSpec("br0", "p0", VlanTag: 4095)))).Message.ShouldContain("VLAN id 4095");
        var missing = await Should.ThrowAsync<NetworkObjectMissingException>(() => ovs.EnsurePortAsync(new OvsPortSpec("nosuchbr", "p0")));
        missing.Message.ShouldBe("bridge 'nosuchbr' does not exist");
    }

    private static async Task<string> RowVersionsAsync(OvsdbClient client, string bridge, string port)
    {
        var read = await client.TransactAsync(
            OvsSwitch.Database,
            OvsdbOperation.Select("Bridge", [OvsdbCondition.Equal("name", bridge)], ["_version"]),
            OvsdbOperation.Select("Port", [OvsdbCondition.Equal("name", port)], ["_version"]),
            OvsdbOperation.Select("Interface", [OvsdbCondition.Equal("name", port)], ["_version"]),
            OvsdbOperation.Select("Open_vSwitch", [], ["_version"]));
        return string.Join(",", read.Select(r => r.Rows.ShouldHaveSingleItem().Get("_version")!.ToJsonString()));
    }
}
