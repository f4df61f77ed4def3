using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Quantixkvm.Agent.Networking;
using Quantixkvm.Contracts;
using Quantixkvm.Network.Linux;
using Quantixkvm.Testing;

namespace Quantixkvm.Agent.Tests.Networking;

/// <summary>
/// The realizer writing ovs networks' security groups as OpenFlow flows, against a real ovs-vswitchd (a private
/// <see cref="OvnStack"/>): flows need the switch itself, which <see cref="HostNetworks"/>' bare database does not have.
/// What the flows do to traffic is shown in Quantixkvm.Network.Tests (SecurityGroupOvsTrafficTests); here: that the
/// agent writes them on its bridges, in a zone per bridge, follows changes, and leaves others' bridges alone.
/// </summary>
public sealed class OvsFirewallRealizerTests : IAsyncLifetime
{
    private OvnStack? _stack;

    private OvnStack Stack => _stack ?? throw new InvalidOperationException("not started");

    public async Task InitializeAsync() => _stack = await OvnStack.StartAsync();

    public async Task DisposeAsync()
    {
        if (_stack is not null)
        {
            await _stack.DisposeAsync();
        }
    }

    [Fact]
    public async Task an_ovs_network_with_ports_gets_its_security_groups_as_flows_in_a_zone_of_its_own()
    {
        var pingable = Guid.NewGuid();
        var open = new PortSpecification(Guid.NewGuid(), Guid.NewGuid(), "02:00:00:00:61:05", ["10.61.0.5"], []);
        var guarded = new PortSpecification(Guid.NewGuid(), Guid.NewGuid(), "02:00:00:00:61:06", ["10.61.0.6"], [pingable]);
        var network = Ovs("qkf1", vlan: 100) with { Ports = [open, guarded] };
        var empty = Ovs("qkf2");
        SecurityGroupSpecification[] groups = [new(pingable, "pingable", [new SecurityRuleSpecification(Guid.NewGuid(), "ingress", "icmp", "ipv4", null, null, null, null)])];
        var realizer = Realizer();

        var report = (await realizer.RealizeAsync(Message(1, [network, empty], groups))).ShouldNotBeNull();

        var results = report.Networks.ToDictionary(r => r.NetworkId);
        results[network.NetworkId].ShouldBe(new NetworkRealization(
            network.NetworkId, 1, true, null,
            "ovs bridge qkf1 (netdev datapath), mtu 1500, VM ports tagged vlan 100; security groups on 2 port(s) (OpenFlow, conntrack zone 65535)"));
        results[empty.NetworkId].ShouldBe(new NetworkRealization(empty.NetworkId, 1, true, null, "ovs bridge qkf2 (netdev datapath), mtu 1500"));
        (await Stack.VsctlAsync("get", "Bridge", "qkf1", "external_ids:qkvm-ct-zone")).Trim().ShouldBe("\"65535\"");
        (await Stack.VsctlAsync("get", "Bridge", "qkf2", "external_ids:qkvm-ct-zone")).Trim().ShouldBe("\"65534\"", "the next zone down");
        var flows = await Flows("qkf1");
        flows.ShouldContain("priority=50,ip,dl_src=02:00:00:00:61:05 actions=ct(table=1,zone=65535)");
        flows.ShouldContain("table=2, priority=100,dl_src=02:00:00:00:61:05 actions=resubmit(,3)");
        flows.ShouldContain("table=3, priority=100,icmp,dl_dst=02:00:00:00:61:06 actions=ct(commit,zone=65535),NORMAL");
        (await Flows("qkf2")).ShouldNotContain("ct(", customMessage: "a bridge without ports is switched as usual");

        var again = (await realizer.RealizeAsync(Message(2, [network, empty], groups))).ShouldNotBeNull();
        again.Networks.ShouldBe(report.Networks);
        (await Flows("qkf1")).ShouldBe(flows);

        var closed = (await realizer.RealizeAsync(Message(3, [network, empty], [groups[0] with { Rules = [] }]))).ShouldNotBeNull();
        closed.Networks.ShouldAllBe(r => r.Succeeded);
        (await Flows("qkf1")).ShouldNotContain("icmp,dl_dst", customMessage: "the rule is gone");

        await Stack.VsctlAsync("del-br", "qkf1");
        await realizer.RealizeAsync(Message(4, [network, empty], groups));
        (await Stack.VsctlAsync("get", "Bridge", "qkf1", "external_ids:qkvm-ct-zone")).Trim().ShouldBe("\"65535\"", "a zone no bridge holds is free again");
        (await Flows("qkf1")).ShouldContain("icmp,dl_dst=02:00:00:00:61:06", customMessage: "a bridge made again gets its flows again");
    }

    [Fact]
    public async Task groups_cannot_be_enforced_on_a_bridge_someone_else_made_and_its_flows_are_left_alone()
    {
        await Stack.VsctlAsync("add-br", "theirs2", "--", "set", "Bridge", "theirs2", "datapath_type=netdev");
        var network = Ovs("theirs2") with { Ports = [new PortSpecification(Guid.NewGuid(), Guid.NewGuid(), "02:00:00:00:62:05", ["10.62.0.5"], [])] };
        var before = await Flows("theirs2");

        var result = (await Realizer().RealizeAsync(Message(1, [network], []))).ShouldNotBeNull().Networks.ShouldHaveSingleItem();

        result.ShouldBe(new NetworkRealization(
            network.NetworkId, 1, false,
            "security groups (OpenFlow): security groups cannot be enforced on ovs bridge theirs2: it was not made by Quantixkvm, and its flows are its owner's",
            "ovs bridge theirs2 (not made by Quantixkvm: used as it is)"));
        (await Flows("theirs2")).ShouldBe(before);
    }

    private NetworkRealizer Realizer() =>
        new(
            Options.Create(new AgentOptions { HostName = "ovsf-" + Guid.NewGuid().ToString("N")[..8], Network = new NetworkOptions { OvsDb = Stack.OvsDb } }),
            IpLink.InNamespace(Stack.SwitchNamespace, HostCommand.Privilege),
            Nftables.InNamespace(Stack.SwitchNamespace, HostCommand.Privilege),
            TimeProvider.System,
            NullLogger<NetworkRealizer>.Instance);

    private Task<string> Flows(string bridge) =>
        HostCommand.RunCheckedAsync("ovs-ofctl", ["dump-flows", "--no-stats", $"unix:{Stack.DataFolder}/ovs/run/{bridge}.mgmt"]);

    private static RealizeNetworks Message(long revision, IReadOnlyList<NetworkSpecification> networks, IReadOnlyList<SecurityGroupSpecification> groups) =>
        new(Guid.NewGuid(), revision, networks, null, DateTimeOffset.UtcNow, groups);

    private static NetworkSpecification Ovs(string bridge, int? vlan = null) =>
        new(Guid.NewGuid(), "n-" + bridge, 1, NetworkKinds.Ovs, bridge, null, vlan, 1500, [], []);
}
