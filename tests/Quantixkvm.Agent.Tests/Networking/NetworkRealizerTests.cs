using Quantixkvm.Agent.Networking;
using Quantixkvm.Contracts;
using Quantixkvm.Domain.Networks;
using Quantixkvm.Network.SecurityGroups;

namespace Quantixkvm.Agent.Tests.Networking;

/// <summary>
/// The realizer against a host of its own (<see cref="HostNetworks"/>): private Open_vSwitch and OVN northbound
/// databases, checked with OVS's and OVN's own tools, and a private network namespace for Linux bridges.
/// </summary>
public sealed class NetworkRealizerTests : IAsyncLifetime
{
    private readonly HostNetworks _host = new();

    public Task InitializeAsync() => _host.InitializeAsync();

    public Task DisposeAsync() => _host.DisposeAsync();

    [Fact]
    public async Task an_ovs_network_gets_a_marked_netdev_bridge_and_a_second_round_writes_nothing()
    {
        var network = Ovs("qkovs1", vlan: 100, generation: 3);
        var realizer = _host.Realizer();

        var report = (await realizer.RealizeAsync(Message(1, [network]))).ShouldNotBeNull();

        var result = report.Networks.ShouldHaveSingleItem();
        result.ShouldBe(new NetworkRealization(network.NetworkId, 3, true, null, "ovs bridge qkovs1 (netdev datapath), mtu 1500, VM ports tagged vlan 100"));
        (report.HostId, report.Revision, report.CanWriteNorthbound).ShouldBe((_host.HostId, 1L, true));
        var ids = await Vsctl("get", "Bridge", "qkovs1", "external_ids");
        ids.ShouldContain("qkvm-managed=\"true\"");
        ids.ShouldContain($"qkvm-network-id=\"{network.NetworkId}\"");
        (await Vsctl("get", "Bridge", "qkovs1", "datapath_type")).Trim().ShouldBe("netdev");
        (await Vsctl("get", "Interface", "qkovs1", "mtu_request")).Trim().ShouldBe("1500");

        var transactions = await _host.Vswitch.CommittedTransactionsAsync();
        var again = (await realizer.RealizeAsync(Message(2, [network]))).ShouldNotBeNull();

        again.Networks.ShouldHaveSingleItem().ShouldBe(result);
        (await _host.Vswitch.CommittedTransactionsAsync()).ShouldBe(transactions, "the second round found the bridge as wanted and wrote nothing");
    }

    [Fact]
    public async Task the_bridge_of_a_network_no_longer_desired_is_deleted_and_bridges_others_made_are_not()
    {
        var kept = Ovs("qkovs2");
        var dropped = Ovs("qkovs3");
        var adopted = Ovs("theirs1");
        await Vsctl("add-br", "foreign0");
        await Vsctl("add-br", "theirs1");
        var realizer = _host.Realizer();
        await realizer.RealizeAsync(Message(1, [kept, dropped, adopted]));
        (await Bridges()).ShouldBe(["foreign0", "qkovs2", "qkovs3", "theirs1"]);

        var report = (await realizer.RealizeAsync(Message(2, [kept]))).ShouldNotBeNull();

        report.Networks.ShouldHaveSingleItem().NetworkId.ShouldBe(kept.NetworkId);
        (await Bridges()).ShouldBe(["foreign0", "qkovs2", "theirs1"]);
        (await Vsctl("get", "Bridge", "theirs1", "external_ids")).Trim().ShouldBe("{}", "a bridge used as it is is not marked, so never deleted");
    }

    [Fact]
    public async Task an_overlay_network_needs_the_integration_bridge_that_ovn_controller_makes()
    {
        var network = Overlay([], []);
        var realizer = _host.Realizer();

        var missing = (await realizer.RealizeAsync(Message(1, [network]))).ShouldNotBeNull().Networks.ShouldHaveSingleItem();

        missing.Succeeded.ShouldBeFalse();
        missing.Error.ShouldBe("ovn-controller has not created br-int: is ovn-controller running and pointed at the southbound db?");

        await _host.CreateIntegrationBridgeAsync();
        var present = (await realizer.RealizeAsync(Message(2, [network]))).ShouldNotBeNull().Networks.ShouldHaveSingleItem();

        (present.Succeeded, present.Summary).ShouldBe((true, "OVN integration bridge br-int present"));
        (await Bridges()).ShouldBe(["br-int"], "br-int is ovn-controller's: the agent neither marks nor deletes it");
    }

    [Fact]
    public async Task an_overlay_network_becomes_a_logical_switch_with_its_ports_dhcp_and_security_groups()
    {
        await _host.CreateIntegrationBridgeAsync();
        var web = Guid.NewGuid();
        var admins = Guid.NewGuid();
        var subnet = new SubnetSpecification(Guid.NewGuid(), "10.20.0.0/24", "10.20.0.1", ["1.1.1.1", "2606:4700:4700::1111"], true);
        var subnet6 = new SubnetSpecification(Guid.NewGuid(), "fd00:20::/64", "fd00:20::1", ["2606:4700:4700::1111"], true);
        var server = Port("02:00:00:00:20:05", ["10.20.0.5", "fd00:20::5"], web);
        var laptop = Port("02:00:00:00:20:06", ["10.20.0.6"], admins);
        var network = Overlay([subnet, subnet6], [server, laptop]);
        SecurityGroupSpecification[] groups =
        [
            new(web, "web", [
                new SecurityRuleSpecification(Guid.NewGuid(), "ingress", "tcp", "ipv4", 80, 80, "0.0.0.0/0", null),
                new SecurityRuleSpecification(Guid.NewGuid(), "ingress", "tcp", "ipv4", 22, 22, null, admins),
            ]),
            new(admins, "admins", []),
        ];

        var report = (await _host.Realizer().RealizeAsync(Message(1, [network], new OvnNorthboundSpecification([network], groups)))).ShouldNotBeNull();

        var result = report.Networks.ShouldHaveSingleItem();
        result.Succeeded.ShouldBeTrue(result.Error);
        result.Summary.ShouldBe($"OVN integration bridge br-int present; OVN logical switch qkvm-{network.NetworkId}: 2 port(s), DHCP on 2 subnet(s)");

        (await Nbctl("ls-list")).ShouldContain($"(qkvm-{network.NetworkId})");
        (await Nbctl("lsp-list", $"qkvm-{network.NetworkId}")).ShouldContain($"({NicAttachment.InterfaceIdFor(server.PortId)})");
        var serverPort = NicAttachment.InterfaceIdFor(server.PortId);
        (await Nbctl("lsp-get-addresses", serverPort)).Trim().ShouldBe("02:00:00:00:20:05 10.20.0.5 fd00:20::5");
        (await Nbctl("lsp-get-port-security", serverPort)).Trim().ShouldBe("02:00:00:00:20:05 10.20.0.5 fd00:20::5");

        var dhcp = (await Nbctl("--bare", "--columns=_uuid", "find", "DHCP_Options", "cidr=10.20.0.0/24")).Trim();
        var dhcp6 = (await Nbctl("--bare", "--columns=_uuid", "find", "DHCP_Options", "cidr=\"fd00:20::/64\"")).Trim();
        (await Nbctl("lsp-get-dhcpv4-options", serverPort)).ShouldContain(dhcp);
        (await Nbctl("lsp-get-dhcpv6-options", serverPort)).ShouldContain(dhcp6);
        (await Nbctl("lsp-get-dhcpv6-options", NicAttachment.InterfaceIdFor(laptop.PortId))).Trim().ShouldBeEmpty("the laptop has no IPv6 address");
        (await Nbctl("dhcp-options-get-options", dhcp6)).Split('\n', StringSplitOptions.RemoveEmptyEntries).ShouldBe(
            ["dns_server={2606:4700:4700::1111}", $"server_id={MacAddress.ForPort(subnet6.SubnetId)}"], ignoreOrder: true);
        var options = (await Nbctl("dhcp-options-get-options", dhcp)).Split('\n', StringSplitOptions.RemoveEmptyEntries);
        options.ShouldBe(
            [
                "dns_server={1.1.1.1}", "lease_time=3600", "mtu=1442", "router=10.20.0.1", "server_id=10.20.0.1",
                $"server_mac={MacAddress.ForPort(subnet.SubnetId)}",
            ],
            ignoreOrder: true);

        (await PortGroupMembers(SecurityGroupAcls.ManagedPortGroup)).ShouldBe([serverPort, NicAttachment.InterfaceIdFor(laptop.PortId)], ignoreOrder: true);
        (await PortGroupMembers(SecurityGroupAcls.PortGroupName(web))).ShouldBe([serverPort]);
        (await PortGroupMembers(SecurityGroupAcls.PortGroupName(admins))).ShouldBe([NicAttachment.InterfaceIdFor(laptop.PortId)]);
        var webAcls = await Nbctl("acl-list", SecurityGroupAcls.PortGroupName(web));
        var pg = SecurityGroupAcls.PortGroupName(web);
        webAcls.ShouldContain($"to-lport  1002 (outport == @{pg} && ip4 && tcp && tcp.dst == 80) allow-related");
        webAcls.ShouldContain($"to-lport  1002 (outport == @{pg} && ip4 && ip4.src == ${SecurityGroupAcls.PortGroupName(admins)}_ip4 && tcp && tcp.dst == 22) allow-related");
        var defaults = await Nbctl("acl-list", SecurityGroupAcls.ManagedPortGroup);
        defaults.ShouldContain("to-lport  1001 (outport == @qkvm_managed && ip) drop");
        defaults.ShouldContain("from-lport  1001 (inport == @qkvm_managed && ip) drop");
        defaults.ShouldContain("from-lport  1002 (inport == @qkvm_managed && ip4 && udp.src == 68 && udp.dst == 67) allow");
        (await PortGroupMembers(SecurityGroupAcls.OpenEgressPortGroup)).ShouldBeEmpty("both ports have a group: their rules decide what they send");
        (await Nbctl("acl-list", SecurityGroupAcls.OpenEgressPortGroup)).ShouldContain("from-lport  1002 (inport == @qkvm_open_egress && ip) allow-related");
    }

    [Fact]
    public async Task what_is_no_longer_desired_leaves_northbound_and_a_steady_state_writes_nothing()
    {
        await _host.CreateIntegrationBridgeAsync();
        var group = Guid.NewGuid();
        var subnet = new SubnetSpecification(Guid.NewGuid(), "10.30.0.0/24", "10.30.0.1", [], true);
        var stays = Port("02:00:00:00:30:05", ["10.30.0.5"], group);
        var goes = Port("02:00:00:00:30:06", ["10.30.0.6"], group);
        var network = Overlay([subnet], [stays, goes]);
        var other = Overlay([new SubnetSpecification(Guid.NewGuid(), "10.31.0.0/24", "10.31.0.1", [], true)], [Port("02:00:00:00:31:05", ["10.31.0.5"])]);
        var realizer = _host.Realizer();
        SecurityGroupSpecification[] groups = [new(group, "g", [])];
        await realizer.RealizeAsync(Message(1, [network, other], new OvnNorthboundSpecification([network, other], groups)));
        (await Nbctl("dhcp-options-list")).Split('\n', StringSplitOptions.RemoveEmptyEntries).Length.ShouldBe(2);

        var smaller = network with { Generation = 2, Ports = [stays] };
        var report = (await realizer.RealizeAsync(Message(2, [smaller], new OvnNorthboundSpecification([smaller], [])))).ShouldNotBeNull();

        report.Networks.ShouldHaveSingleItem().ShouldSatisfyAllConditions(r => r.Succeeded.ShouldBeTrue(r.Error), r => r.Generation.ShouldBe(2));
        (await Nbctl("lsp-list", $"qkvm-{network.NetworkId}")).Trim().ShouldEndWith($"({NicAttachment.InterfaceIdFor(stays.PortId)})");
        (await Nbctl("lsp-list", $"qkvm-{network.NetworkId}")).ShouldNotContain(NicAttachment.InterfaceIdFor(goes.PortId));
        (await Nbctl("ls-list")).ShouldNotContain(other.NetworkId.ToString(), customMessage: "the other network's switch is gone");
        (await Nbctl("dhcp-options-list")).Split('\n', StringSplitOptions.RemoveEmptyEntries).Length.ShouldBe(1);
        (await Nbctl("--bare", "--columns=name", "list", "Port_Group")).Split('\n', StringSplitOptions.RemoveEmptyEntries)
            .ShouldBe([SecurityGroupAcls.ManagedPortGroup, SecurityGroupAcls.OpenEgressPortGroup], ignoreOrder: true, "the group's port group is gone");
        (await PortGroupMembers(SecurityGroupAcls.ManagedPortGroup)).ShouldBe([NicAttachment.InterfaceIdFor(stays.PortId)]);
        (await PortGroupMembers(SecurityGroupAcls.OpenEgressPortGroup)).ShouldBeEmpty(
            "the port still names a group, even one not sent: it is never opened up by a group going missing");

        var transactions = await _host.Northbound.CommittedTransactionsAsync();
        await realizer.RealizeAsync(Message(3, [smaller], new OvnNorthboundSpecification([smaller], [])));
        (await _host.Northbound.CommittedTransactionsAsync()).ShouldBe(transactions, "nothing differed, so nothing was written");
    }

    [Fact]
    public async Task a_message_older_than_the_last_applied_is_ignored()
    {
        var network = Ovs("qkovs4");
        var realizer = _host.Realizer();
        await realizer.RealizeAsync(Message(5, [network]));

        var stale = await realizer.RealizeAsync(Message(4, []));

        stale.ShouldBeNull();
        realizer.LastRevision.ShouldBe(5);
        (await Bridges()).ShouldBe(["qkovs4"], "the stale message's desired state (no networks) was not applied");
        (await realizer.RealizeAsync(Message(5, [network]))).ShouldNotBeNull("the same revision again (a redelivery) is applied again");
    }

    [Fact]
    public async Task a_network_this_host_cannot_realize_is_reported_with_why_while_the_others_succeed()
    {
        var ovs = Ovs("qkovs5");
        var overlay = Overlay([], []);
        var bridge = Bridge("qkbr1");
        var unknown = Ovs("qkovs6") with { Kind = "vxlan" };
        var realizer = _host.Realizer(ovs: false, northbound: false);

        var report = (await realizer.RealizeAsync(Message(1, [ovs, bridge, overlay, unknown], new OvnNorthboundSpecification([overlay], [])))).ShouldNotBeNull();

        report.CanWriteNorthbound.ShouldBeFalse();
        var results = report.Networks.ToDictionary(r => r.NetworkId);
        results[bridge.NetworkId].ShouldBe(new NetworkRealization(bridge.NetworkId, 1, true, null, "linux bridge qkbr1 up, mtu 1500"));
        results[ovs.NetworkId].Error.ShouldBe(
            "this host has no Open vSwitch: Agent:Network:OvsDb is not set (e.g. unix:/var/run/openvswitch/db.sock), so ovs networks cannot be realized here");
        results[overlay.NetworkId].Error.ShouldBe(
            "this host has no Open vSwitch: Agent:Network:OvsDb is not set (e.g. unix:/var/run/openvswitch/db.sock), so overlay networks cannot be realized here; "
            + "this host was sent OVN's northbound state but Agent:Network:OvnNorthboundDb is not set");
        results[unknown.NetworkId].Error.ShouldBe("network kind 'vxlan' is not known to this agent");
        report.Networks.Count(r => !r.Succeeded).ShouldBe(3);
    }

    [Fact]
    public async Task an_unreachable_northbound_database_fails_the_overlay_networks_only_naming_the_setting()
    {
        await _host.CreateIntegrationBridgeAsync();
        var overlay = Overlay([], []);
        var ovs = Ovs("qkovs7");
        await _host.Northbound.KillAsync();

        var report = (await _host.Realizer().RealizeAsync(Message(1, [overlay, ovs], new OvnNorthboundSpecification([overlay], [])))).ShouldNotBeNull();

        var results = report.Networks.ToDictionary(r => r.NetworkId);
        results[ovs.NetworkId].Succeeded.ShouldBeTrue();
        var failed = results[overlay.NetworkId];
        failed.Succeeded.ShouldBeFalse();
        failed.Error.ShouldBe(
            $"OVN northbound database (Agent:Network:OvnNorthboundDb): cannot connect to OVSDB server at {_host.Northbound.UnixEndpoint}: Connection refused");
        failed.Summary.ShouldBe("OVN integration bridge br-int present", "the host's own part of the overlay is there");
    }

    [Fact]
    public async Task a_linux_bridge_is_made_marked_with_its_network_and_its_uplink_enslaved_and_deleted_when_the_network_goes()
    {
        await _host.InNamespaceAsync("ip", "link", "add", "up0", "type", "veth", "peer", "name", "up0p");
        await _host.InNamespaceAsync("ip", "link", "add", "theirbr", "type", "bridge");
        var network = Bridge("qkbr2", uplink: "up0", mtu: 1400);
        var realizer = _host.Realizer(ovs: false, northbound: false);

        var result = (await realizer.RealizeAsync(Message(1, [network]))).ShouldNotBeNull().Networks.ShouldHaveSingleItem();

        result.ShouldBe(new NetworkRealization(network.NetworkId, 1, true, null, "linux bridge qkbr2 up, mtu 1400, uplink up0"));
        var bridge = (await _host.Ip.GetAsync("qkbr2")).ShouldNotBeNull();
        (bridge.Kind, bridge.Mtu, bridge.IsUp).ShouldBe(("bridge", 1400, true), "enslaving the uplink (mtu 1500) must not leave the bridge at the uplink's MTU");
        (await _host.InNamespaceAsync("ip", "-d", "link", "show", "qkbr2")).ShouldContain($"alias qkvm:{network.NetworkId}");
        (await _host.Ip.GetAsync("up0")).ShouldNotBeNull().Master.ShouldBe("qkbr2");

        await realizer.RealizeAsync(Message(2, []));

        (await _host.Ip.GetAsync("qkbr2")).ShouldBeNull();
        (await _host.Ip.GetAsync("up0")).ShouldNotBeNull("the uplink is the host's, never deleted").Master.ShouldBeNull();
        (await _host.Ip.GetAsync("theirbr")).ShouldNotBeNull("a bridge without the agent's mark is never deleted");
    }

    [Fact]
    public async Task a_linux_bridge_on_a_vlan_of_the_uplink_is_realized_or_reported_with_the_kernels_reason()
    {
        await _host.InNamespaceAsync("ip", "link", "add", "up1", "type", "veth", "peer", "name", "up1p");
        var network = Bridge("qkbr3", uplink: "up1", vlan: 200);
        var realizer = _host.Realizer(ovs: false, northbound: false);

        var result = (await realizer.RealizeAsync(Message(1, [network]))).ShouldNotBeNull().Networks.ShouldHaveSingleItem();

        (await _host.Ip.GetAsync("qkbr3")).ShouldNotBeNull().Alias.ShouldBe($"qkvm:{network.NetworkId}");
        if (result.Succeeded)
        {
            result.Summary.ShouldBe("linux bridge qkbr3 up, mtu 1500, vlan 200 of up1 (up1.200)");
            var vlan = (await _host.Ip.GetAsync("up1.200")).ShouldNotBeNull();
            (vlan.Master, vlan.Alias).ShouldBe(("qkbr3", $"qkvm:{network.NetworkId}"));
            await realizer.RealizeAsync(Message(2, []));
            (await _host.Ip.GetAsync("up1.200")).ShouldBeNull("the VLAN interface the agent made goes with its network");
        }
        else
        {
            // This kernel has no 802.1Q module: the report carries ip's own reason.
            result.Error.ShouldNotBeNull().ShouldSatisfyAllConditions(
                e => e.ShouldContain("link add link up1 name up1.200 mtu 1500 type vlan id 200"), e => e.ShouldContain("Unknown device type"));
        }
    }

    [Fact]
    public async Task a_bridge_name_marked_by_another_network_is_refused_by_name()
    {
        var first = Bridge("qkbr4");
        var realizer = _host.Realizer(ovs: false, northbound: false);
        await realizer.RealizeAsync(Message(1, [first]));

        var second = Bridge("qkbr4");
        var results = (await realizer.RealizeAsync(Message(2, [first, second]))).ShouldNotBeNull().Networks.ToDictionary(r => r.NetworkId);

        results[first.NetworkId].Succeeded.ShouldBeTrue();
        results[second.NetworkId].Error.ShouldBe($"linux bridge qkbr4 belongs to network {first.NetworkId} (alias qkvm:{first.NetworkId}), not to this one");
    }

    [Fact]
    public async Task the_ports_of_bridge_networks_get_their_security_groups_in_one_nftables_table_which_goes_with_the_last_bridge_network()
    {
        var web = Guid.NewGuid();
        var admins = Guid.NewGuid();
        var server = Port("02:00:00:00:40:05", ["10.40.0.5"], web);
        var laptop = Port("02:00:00:00:41:06", ["10.41.0.6", "fd00:41::6"], admins);
        var first = Bridge("qkbr5") with { Ports = [server] };
        var second = Bridge("qkbr6") with { Ports = [laptop] };
        SecurityGroupSpecification[] groups =
        [
            new(web, "web", [new SecurityRuleSpecification(Guid.NewGuid(), "ingress", "tcp", "ipv4", 22, 22, null, admins)]),
            new(admins, "admins", [new SecurityRuleSpecification(Guid.NewGuid(), "egress", "any", "ipv4", null, null, null, null)]),
        ];
        var realizer = _host.Realizer(ovs: false, northbound: false);

        var report = (await realizer.RealizeAsync(Message(1, [first, second]) with { SecurityGroups = groups })).ShouldNotBeNull();

        var results = report.Networks.ToDictionary(r => r.NetworkId);
        results[first.NetworkId].ShouldBe(new NetworkRealization(
            first.NetworkId, 1, true, null, "linux bridge qkbr5 up, mtu 1500; security groups on 1 port(s) (nftables inet qkvm)"));
        results[second.NetworkId].Succeeded.ShouldBeTrue(results[second.NetworkId].Error);
        (await _host.Ip.GetAsync("qkbr5")).ShouldNotBeNull().BridgeCallsNetfilter.ShouldBe(true, "bridged IP frames must reach the table");
        var table = await _host.InNamespaceAsync("nft", "list", "table", "inet", "qkvm");
        table.ShouldContain($"\"qkbr5\" . 02:00:00:00:40:05 : jump {SecurityGroupNftables.PortChain(server.PortId, RuleDirection.Egress)}");
        table.ShouldContain($"\"qkbr6\" . 02:00:00:00:41:06 : jump {SecurityGroupNftables.PortChain(laptop.PortId, RuleDirection.Ingress)}");
        table.ShouldContain($"ip saddr @{SecurityGroupNftables.RemoteSet(admins, EtherType.Ipv4)} tcp dport 22 accept");
        table.ShouldContain("elements = { 10.41.0.6 }", customMessage: "the admins group's IPv4 addresses");

        await realizer.RealizeAsync(Message(2, [second]) with { SecurityGroups = groups });
        (await _host.InNamespaceAsync("nft", "list", "table", "inet", "qkvm")).ShouldNotContain("qkbr5", customMessage: "the deleted network's port is no longer filtered");

        await realizer.RealizeAsync(Message(3, []) with { SecurityGroups = groups });
        (await _host.InNamespaceAsync("nft", "list", "tables")).ShouldNotContain("qkvm", customMessage: "no bridge network is left");
    }

    [Fact]
    public async Task a_security_group_table_the_host_cannot_load_fails_every_bridge_network_naming_why_and_no_other()
    {
        var bad = Port("02:00:00:00:50:05", ["10.50.0.5"]) with { Mac = "not-a-mac" };
        var bridge = Bridge("qkbr7") with { Ports = [bad] };
        var empty = Bridge("qkbr8");
        var ovs = Ovs("qkovs8");
        var realizer = _host.Realizer(northbound: false);

        var report = (await realizer.RealizeAsync(Message(1, [bridge, empty, ovs]) with { SecurityGroups = [] })).ShouldNotBeNull();

        var results = report.Networks.ToDictionary(r => r.NetworkId);
        var error = $"security groups (nftables): port {bad.PortId}: 'not-a-mac' is not a MAC address (six hexadecimal octets, e.g. 02:00:00:aa:bb:cc)";
        results[bridge.NetworkId].ShouldBe(new NetworkRealization(bridge.NetworkId, 1, false, error, "linux bridge qkbr7 up, mtu 1500"));
        results[empty.NetworkId].Error.ShouldBe(error, "one table holds every bridge network's ports");
        results[ovs.NetworkId].Succeeded.ShouldBeTrue();
    }

    private RealizeNetworks Message(long revision, IReadOnlyList<NetworkSpecification> networks, OvnNorthboundSpecification? northbound = null) =>
        new(_host.HostId, revision, networks, northbound, DateTimeOffset.UtcNow);

    private static NetworkSpecification Ovs(string bridge, int? vlan = null, long generation = 1) =>
        new(Guid.NewGuid(), "n-" + bridge, generation, NetworkKinds.Ovs, bridge, null, vlan, 1500, [], []);

    private static NetworkSpecification Bridge(string bridge, string? uplink = null, int? vlan = null, int mtu = 1500) =>
        new(Guid.NewGuid(), "n-" + bridge, 1, NetworkKinds.Bridge, bridge, uplink, vlan, mtu, [], []);

    private static NetworkSpecification Overlay(IReadOnlyList<SubnetSpecification> subnets, IReadOnlyList<PortSpecification> ports) =>
        new(Guid.NewGuid(), "overlay", 1, NetworkKinds.Overlay, null, null, null, 1442, subnets, ports);

    private static PortSpecification Port(string mac, IReadOnlyList<string> addresses, params Guid[] groups) =>
        new(Guid.NewGuid(), Guid.NewGuid(), mac, addresses, groups);

    private Task<string> Vsctl(params string[] arguments) => _host.Vswitch.ToolAsync("ovs-vsctl", arguments);

    private Task<string> Nbctl(params string[] arguments) => _host.Northbound.ToolAsync("ovn-nbctl", arguments);

    private async Task<IReadOnlyList<string>> Bridges() =>
        [.. (await Vsctl("list-br")).Split('\n', StringSplitOptions.RemoveEmptyEntries).Order(StringComparer.Ordinal)];

    /// <summary>The names of a port group's ports, as ovn-nbctl shows the rows.</summary>
    private async Task<IReadOnlyList<string>> PortGroupMembers(string portGroup)
    {
        var uuids = (await Nbctl("--bare", "--columns=ports", "list", "Port_Group", portGroup)).Split([' ', '\n'], StringSplitOptions.RemoveEmptyEntries);
        var names = (await Nbctl("--format=csv", "--no-headings", "--columns=_uuid,name", "list", "Logical_Switch_Port"))
            .Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(line => line.Split(',')).ToDictionary(f => f[0], f => f[1].Trim('"'));
        return [.. uuids.Select(u => names[u])];
    }
}
