using System.Net;
using System.Text.Json.Nodes;
using Quantixkvm.Testing;

namespace Quantixkvm.EndToEnd.Tests;

/// <summary>
/// The platform with networking: a control plane and an agent whose host has its own Open vSwitch + OVN stack
/// (infra/dev/ovs.sh in a private folder and namespace). The agent is the OVN northbound writer. VMs run on libvirt's test
/// driver, so network namespaces plugged into br-int under their ports' ids stand in for the guests' NICs.
/// </summary>
public sealed class NetworkPlatform : Platform
{
    public OvnStack Stack { get; private set; } = null!;

    public override async Task InitializeAsync()
    {
        Stack = await OvnStack.StartAsync();
        await base.InitializeAsync();
    }

    public override async Task DisposeAsync()
    {
        await base.DisposeAsync();
        if (Stack is not null)
        {
            await Stack.DisposeAsync();
        }
    }

    protected override IEnumerable<KeyValuePair<string, string>> ControlPlaneSettings => NetworkSteps.FastReconciliation;

    protected override IEnumerable<KeyValuePair<string, string>> AgentSettings(LibvirtDaemon daemon) =>
    [
        new("Agent__Network__OvsDb", Stack.OvsDb),
        new("Agent__Network__OvnNorthboundDb", Stack.NorthboundDb),
    ];
}

/// <summary>As a new user would: an overlay network with a subnet and a security group, two guests that talk as the rules allow.</summary>
public sealed class NetworkingTests(NetworkPlatform platform) : IClassFixture<NetworkPlatform>
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(60);

    private const string NetworkFields = "id status generation ports { id mac addresses { address } } hosts { upToDate error }";

    private OvnStack Stack => platform.Stack;

    [Fact]
    public async Task guests_on_an_overlay_talk_as_their_security_groups_allow_and_the_read_model_matches_what_ovn_holds()
    {
        var networkId = await App.OverlayAsync("app-net", "10.60.0.0/24");
        var web = await App.GroupAsync("web");
        await App.RuleAsync(web, new { direction = "INGRESS", protocol = "TCP", portMin = 7007 });
        var icmp = await App.RuleAsync(web, new { direction = "INGRESS", protocol = "ICMP" });
        var server = await VmWithNicAsync("web-1", networkId, web);
        var client = await VmWithNicAsync("client-1", networkId, null);

        var network = await ReadyAsync(networkId);
        var ports = network["ports"]!.AsArray().ToDictionary(p => p!["id"]!.GetValue<string>());
        ports.Keys.ShouldBe([server.PortId, client.PortId], ignoreOrder: true);

        // What OVN holds, by its own tool: a logical switch with both ports, their MACs and addresses, and the group's ACLs.
        (await Stack.NbctlAsync("lsp-list", $"qkvm-{networkId}")).ShouldContain(server.PortId);
        (await Stack.NbctlAsync("lsp-get-addresses", server.PortId)).Trim().ShouldBe($"{server.Mac} {server.Address}");
        (await Stack.NbctlAsync("lsp-get-port-security", client.PortId)).Trim().ShouldBe($"{client.Mac} {client.Address}");
        var acls = await Stack.NbctlAsync("acl-list", $"qkvm_sg_{Guid.Parse(web):N}");
        acls.ShouldContain("tcp.dst == 7007");
        acls.ShouldContain("icmp4");

        await using var serverGuest = await GuestAsync(server);
        await using var clientGuest = await GuestAsync(client);
        await using var echo = await serverGuest.StartTcpEchoServerAsync(7007);

        await PingsAsync(clientGuest, server.Address, expected: true);
        (await clientGuest.TcpExchangeAsync(server.Address, 7007, "hello")).ShouldBe("hello");
        (await serverGuest.PingAsync(client.Address)).ShouldBeFalse("the client has no group: nothing may come in");

        // Block ICMP by removing its rule; TCP 7007 still passes. Adding it again restores the ping.
        await App.DataAsync(
            "mutation($g: ID!, $r: ID!) { removeSecurityGroupRule(securityGroupId: $g, ruleId: $r) { version } }", new { g = web, r = icmp });
        await PingsAsync(clientGuest, server.Address, expected: false);
        (await clientGuest.TcpExchangeAsync(server.Address, 7007, "still")).ShouldBe("still");
        await App.RuleAsync(web, new { direction = "INGRESS", protocol = "ICMP" });
        await PingsAsync(clientGuest, server.Address, expected: true);

        // Detach the server's NIC: its port is released, OVN forgets it, and the guest is cut off.
        await platform.VmOperationSucceededAsync(
            "mutation($id: ID!, $portId: ID!) { detachNic(id: $id, portId: $portId) { operation { id } } }",
            new { id = server.VmId, portId = server.PortId }, "detachNic", Patience);
        await Platform.WaitAsync(async () => !(await Stack.NbctlAsync("lsp-list", $"qkvm-{networkId}")).Contains(server.PortId),
            Patience, "OVN to drop the detached NIC's port", platform.Agent);
        (await NetworkAsync(networkId))["ports"]!.AsArray().Select(p => p!["id"]!.GetValue<string>()).ShouldBe([client.PortId]);
        await PingsAsync(clientGuest, server.Address, expected: false);
    }

    [Fact]
    public async Task guests_on_two_networks_cannot_reach_each_other_even_with_addresses_of_one_subnet()
    {
        var first = await App.OverlayAsync("blue-net", "10.70.0.0/24");
        var second = await App.OverlayAsync("green-net", "10.70.0.0/24");
        var open = await App.GroupAsync("open");
        await App.RuleAsync(open, new { direction = "INGRESS", protocol = "ICMP" });
        var a = await VmWithNicAsync("blue-1", first, open, fixedAddress: "10.70.0.10");
        var b = await VmWithNicAsync("blue-2", first, open, fixedAddress: "10.70.0.11");
        var c = await VmWithNicAsync("green-1", second, open, fixedAddress: "10.70.0.12");
        await ReadyAsync(first);
        await ReadyAsync(second);

        await using var blue1 = await GuestAsync(a);
        await using var blue2 = await GuestAsync(b);
        await using var green1 = await GuestAsync(c);

        await PingsAsync(blue1, b.Address, expected: true);
        (await green1.PingAsync(a.Address)).ShouldBeFalse("another network is another logical switch");
        (await blue2.PingAsync(c.Address)).ShouldBeFalse();
    }

    [Fact]
    public async Task an_ovs_network_is_a_bridge_open_vswitch_holds_with_its_ports_security_flows_until_the_network_is_deleted()
    {
        var bridge = $"qko{Guid.NewGuid():N}"[..12];
        var created = await App.DataAsync(
            "mutation($input: CreateNetworkInput!) { createNetwork(input: $input) { network { id } } }",
            new { input = new { name = $"ovs-{Guid.NewGuid():N}"[..12], kind = "OVS", bridgeName = bridge, vlan = 42, mtu = 1400 } });
        var networkId = created["createNetwork"]!["network"]!["id"]!.GetValue<string>();
        await App.DataAsync(
            "mutation($id: ID!, $input: SubnetInput!) { addSubnet(networkId: $id, input: $input) { version } }",
            new { id = networkId, input = new { cidr = "192.168.42.0/24", dhcpEnabled = false } });
        var ssh = await App.GroupAsync("ssh");
        await App.RuleAsync(ssh, new { direction = "INGRESS", protocol = "TCP", portMin = 22, remoteCidr = "192.168.42.0/24" });
        var vm = await VmWithNicAsync("ovs-1", networkId, ssh);

        await ReadyAsync(networkId);

        // Open vSwitch's own view: the bridge, on the userspace datapath, marked as this network's, and its flow table
        // holding the port's security group (a new TCP connection to port 22 from the subnet, to the NIC's MAC).
        (await Stack.VsctlAsync("get", "Bridge", bridge, "datapath_type")).Trim().ShouldBe("netdev");
        (await Stack.VsctlAsync("get", "Bridge", bridge, "external_ids:qkvm-network-id")).Trim().Trim('"').ShouldBe(networkId);
        var flows = await HostCommand.RunCheckedAsync("ovs-ofctl", ["dump-flows", "--no-stats", $"unix:{Stack.DataFolder}/ovs/run/{bridge}.mgmt"]);
        flows.Split('\n').ShouldContain(f => f.Contains($"dl_dst={vm.Mac}") && f.Contains("nw_src=192.168.42.0/24") && f.Contains("tp_dst=22"),
            $"the SSH rule as a flow; the bridge's flows:\n{flows}");

        // The network goes once its last port is released: the VM deleted first.
        await platform.VmOperationSucceededAsync("mutation($id: ID!) { deleteVm(id: $id) { operation { id } } }", new { id = vm.VmId }, "deleteVm", Patience);
        await Platform.WaitAsync(async () => (await NetworkAsync(networkId))["ports"]!.AsArray().Count == 0, Patience, "the deleted VM's port to be released");
        await App.DataAsync("mutation($id: ID!) { deleteNetwork(id: $id) { version } }", new { id = networkId });
        await Platform.WaitAsync(async () => !(await Stack.VsctlAsync("list-br")).Split('\n').Contains(bridge),
            Patience, $"bridge {bridge} to be removed with its network", platform.Agent);
    }

    private GraphQLClient App => platform.Api;

    private sealed record Nic(string VmId, string PortId, string Mac, IPAddress Address);

    /// <summary>A stopped VM with one NIC on the network (libvirt's test driver cannot hot-plug: NICs come with the create).</summary>
    private async Task<Nic> VmWithNicAsync(string name, string networkId, string? groupId, string? fixedAddress = null)
    {
        var nic = new Dictionary<string, object> { ["networkId"] = networkId };
        if (groupId is not null)
        {
            nic["securityGroupIds"] = new[] { groupId };
        }

        if (fixedAddress is not null)
        {
            nic["fixedAddresses"] = new[] { fixedAddress };
        }

        var created = (await App.DataAsync(
            "mutation($input: CreateVmInput!) { createVm(input: $input) { operation { id } vm { id nics { portId mac addresses } } } }",
            new { input = new { name, vcpus = 1, memoryMiB = 64, nics = new[] { nic } } }))["createVm"]!;
        var operation = await platform.OperationEndedAsync(created["operation"]!["id"]!.GetValue<string>(), Patience);
        operation["status"]!.GetValue<string>().ShouldBe("SUCCEEDED", operation.ToJsonString());
        var vmNic = created["vm"]!["nics"]!.AsArray().Single()!;
        return new Nic(
            created["vm"]!["id"]!.GetValue<string>(), vmNic["portId"]!.GetValue<string>(), vmNic["mac"]!.GetValue<string>(),
            IPAddress.Parse(vmNic["addresses"]!.AsArray().Single()!.GetValue<string>()));
    }

    private async Task<JsonNode> NetworkAsync(string networkId) =>
        (await App.DataAsync($"query($id: ID!) {{ network(id: $id) {{ {NetworkFields} }} }}", new { id = networkId }))["network"]!;

    /// <summary>Waits until every ONLINE host holds the network's current generation (its status READY).</summary>
    private async Task<JsonNode> ReadyAsync(string networkId)
    {
        await platform.NetworkReadyAsync(networkId, Patience);
        return await NetworkAsync(networkId);
    }

    /// <summary>A guest standing in for the VM's NIC: its MAC and address, plugged into br-int under the port's id.</summary>
    private async Task<NetworkNamespace> GuestAsync(Nic nic)
    {
        var guest = await Stack.CreateGuestAsync();
        try
        {
            await guest.ConfigureAsync(nic.Mac, nic.Address, 24, mtu: 1442);
            await Stack.PlugAsync(guest, nic.PortId);
            return guest;
        }
        catch
        {
            await guest.DisposeAsync();
            throw;
        }
    }

    /// <summary>Security group changes reach the chassis a reconcile round later: poll until the ping answers as expected.</summary>
    private Task PingsAsync(NetworkNamespace from, IPAddress to, bool expected) =>
        Platform.WaitAsync(async () => await from.PingAsync(to) == expected, Patience,
            $"a ping from {from.Name} to {to} to be {(expected ? "answered" : "unanswered")}", platform.Agent);
}
