using System.Net;
using Quantixkvm.Domain.Networks;
using Quantixkvm.Network.Ovs;
using Quantixkvm.Network.SecurityGroups;
using Quantixkvm.Testing;

namespace Quantixkvm.Network.Tests;

/// <summary>
/// The translated flow table against real traffic: a private OVS stack (<see cref="OvnStack"/>: a real ovs-vswitchd,
/// userspace datapath, in its own namespace) holds a netdev bridge like an ovs network's, with three guests plugged as
/// access ports of VLAN 100; the flows are written by <see cref="OvsFlowTables"/> (ovs-ofctl). Guests A and B are
/// managed ports; C stands for what is beyond the bridge (another host's unmanaged device): only A's and B's groups decide.
/// </summary>
public sealed class SecurityGroupOvsTrafficTests : IAsyncLifetime
{
    private const string Bridge = "br-sgf";
    private const int Zone = 65000;
    private const string MacA = "02:5f:00:00:00:0a";
    private const string MacB = "02:5f:00:00:00:0b";
    private static readonly IPAddress AddressA = IPAddress.Parse("10.78.0.10");
    private static readonly IPAddress AddressB = IPAddress.Parse("10.78.0.11");
    private static readonly IPAddress AddressC = IPAddress.Parse("10.78.0.12");
    private static readonly Guid PortA = Guid.NewGuid();
    private static readonly Guid PortB = Guid.NewGuid();

    private readonly List<NetworkNamespace> _guests = [];
    private OvnStack? _stack;
    private OvsFlowTables? _flows;

    private OvnStack Stack => _stack ?? throw new InvalidOperationException("not started");

    private NetworkNamespace A => _guests[0];

    private NetworkNamespace B => _guests[1];

    private NetworkNamespace C => _guests[2];

    public async Task InitializeAsync()
    {
        try
        {
            _stack = await OvnStack.StartAsync();
            await Stack.VsctlAsync("add-br", Bridge, "--", "set", "Bridge", Bridge, "datapath_type=netdev");
            _flows = new OvsFlowTables(Path.Combine(Stack.DataFolder, "ovs", "run"));
            foreach (var (mac, address) in new[] { (MacA, AddressA), (MacB, AddressB), ("02:5f:00:00:00:0c", AddressC) })
            {
                var guest = await Stack.CreateGuestAsync();
                _guests.Add(guest);
                await guest.ConfigureAsync(mac, address);
                await Stack.VsctlAsync("add-port", Bridge, guest.HostInterface, "tag=100");
            }
        }
        catch
        {
            await DisposeAsync();
            throw;
        }
    }

    public async Task DisposeAsync()
    {
        foreach (var guest in _guests)
        {
            await guest.DisposeAsync();
        }

        _guests.Clear();
        if (_stack is not null)
        {
            await _stack.DisposeAsync();
            _stack = null;
        }
    }

    [Fact]
    public async Task the_bridge_holds_what_was_written_and_the_same_flows_again_write_nothing()
    {
        var table = SecurityGroupFlows.FlowTable(Bridge, Zone, [new BridgePort(PortA, Bridge, MacA, [])], [], NoMembers);

        (await _flows!.EnsureAsync(Bridge, table)).ShouldBeTrue();
        var dump = await _flows.DumpAsync(Bridge);
        dump.ShouldContain($"priority=50,ip,dl_src={MacA} actions=ct(table=1,zone={Zone})");
        dump.ShouldContain($"table=3, priority=0,ip actions=ct(commit,zone={Zone}),NORMAL");
        dump.Split('\n').Length.ShouldBe(table.Split('\n', StringSplitOptions.RemoveEmptyEntries).Length, "one flow in the switch per line written");
        (await _flows.EnsureAsync(Bridge, table)).ShouldBeFalse("the bridge still holds them");

        await HostCommand.RunCheckedAsync("ovs-ofctl", ["del-flows", "unix:" + _flows.ManagementSocket(Bridge), "table=1"]);
        (await _flows.EnsureAsync(Bridge, table)).ShouldBeTrue("flows deleted by hand are written again");
        (await _flows.DumpAsync(Bridge)).ShouldBe(dump);
    }

    [Fact]
    public async Task a_table_the_switch_refuses_leaves_the_previous_one()
    {
        var table = SecurityGroupFlows.FlowTable(Bridge, Zone, [new BridgePort(PortA, Bridge, MacA, [])], [], NoMembers);
        await _flows!.EnsureAsync(Bridge, table);
        var before = await _flows.DumpAsync(Bridge);

        var refused = await Should.ThrowAsync<OvsOfctlException>(() => _flows.EnsureAsync(Bridge, table + "table=0,priority=7,tcp,tp_dst=80 actions=output:NOPORT\n"));

        refused.Message.ShouldContain("replace-flows");
        (await _flows.DumpAsync(Bridge)).ShouldBe(before);
    }

    [Fact]
    public async Task without_groups_a_port_is_closed_inbound_and_reaches_out_with_its_replies()
    {
        (await C.PingAsync(AddressA)).ShouldBeTrue("before any flows of ours the bridge switches everything");
        await ApplyAsync([new BridgePort(PortA, Bridge, MacA, [])]);
        await using var server = await A.StartTcpEchoServerAsync(7000);
        await using var outside = await C.StartTcpEchoServerAsync(7000);

        (await C.PingAsync(AddressA)).ShouldBeFalse("nothing may come in to a port without a group");
        (await C.TcpExchangeAsync(AddressA, 7000, "in")).ShouldBeNull();
        (await A.PingAsync(AddressC)).ShouldBeTrue("it may send anything, and the replies come back");
        (await A.TcpExchangeAsync(AddressC, 7000, "out")).ShouldBe("out");
        (await B.PingAsync(AddressC)).ShouldBeTrue("unmanaged ports are switched as before");
    }

    [Fact]
    public async Task over_ipv6_neighbour_discovery_passes_and_a_port_without_groups_is_closed_inbound()
    {
        var v6A = IPAddress.Parse("fd00:78::10");
        var v6C = IPAddress.Parse("fd00:78::12");
        foreach (var (guest, address) in new[] { (A, v6A), (C, v6C) })
        {
            (await guest.RunAsync(["ip", "-6", "address", "add", $"{address}/64", "dev", NetworkNamespace.GuestInterface, "nodad"])).Succeeded.ShouldBeTrue();
        }

        var allowPing6 = Guid.NewGuid();
        await ApplyAsync([new BridgePort(PortA, Bridge, MacA, [])]);

        (await A.PingAsync(v6C)).ShouldBeTrue("neighbour discovery passes before conntrack, and the echo is a tracked connection");
        (await C.PingAsync(v6A)).ShouldBeFalse("nothing may come in to a port without a group");

        await ApplyAsync(
            [new BridgePort(PortA, Bridge, MacA, [allowPing6])],
            new SecurityGroup(allowPing6, [new SecurityRule(Guid.NewGuid(), RuleDirection.Ingress, RuleProtocol.Icmp6, EtherType: EtherType.Ipv6)]));
        (await C.PingAsync(v6A)).ShouldBeTrue("an ICMPv6 ingress rule admits it");
        (await C.PingAsync(AddressA)).ShouldBeFalse("but not IPv4 ICMP");
    }

    [Fact]
    public async Task a_group_allowing_icmp_lets_ping_in_until_the_rule_is_removed()
    {
        var pingable = Guid.NewGuid();
        var icmp = new SecurityRule(Guid.NewGuid(), RuleDirection.Ingress, RuleProtocol.Icmp);
        var everythingOut = new SecurityRule(Guid.NewGuid(), RuleDirection.Egress);
        BridgePort[] ports = [new BridgePort(PortA, Bridge, MacA, [pingable])];

        await ApplyAsync(ports, new SecurityGroup(pingable, [icmp, everythingOut]));
        (await C.PingAsync(AddressA)).ShouldBeTrue();

        await ApplyAsync(ports, new SecurityGroup(pingable, [everythingOut]));
        (await C.PingAsync(AddressA)).ShouldBeFalse("the rule is gone");
        (await A.PingAsync(AddressC)).ShouldBeTrue("egress is still allowed");
    }

    [Fact]
    public async Task a_tcp_port_range_rule_opens_those_ports_only()
    {
        var web = Guid.NewGuid();
        await ApplyAsync(
            [new BridgePort(PortA, Bridge, MacA, [web])],
            new SecurityGroup(web, [new SecurityRule(Guid.NewGuid(), RuleDirection.Ingress, RuleProtocol.Tcp, 6999, 7000, Cidr.Parse("10.78.0.0/24").Cidr)]));
        await using var open = await A.StartTcpEchoServerAsync(7000);
        await using var closed = await A.StartTcpEchoServerAsync(7001);

        (await C.TcpExchangeAsync(AddressA, 7000, "hello")).ShouldBe("hello");
        (await C.TcpExchangeAsync(AddressA, 7001, "hello")).ShouldBeNull("7001 listens too, but no rule admits it");
        (await C.PingAsync(AddressA)).ShouldBeFalse();
    }

    [Fact]
    public async Task a_port_in_a_group_without_egress_rules_cannot_send_but_answers_what_its_group_lets_in()
    {
        var quiet = Guid.NewGuid();
        await ApplyAsync(
            [new BridgePort(PortB, Bridge, MacB, [quiet])],
            new SecurityGroup(quiet, [new SecurityRule(Guid.NewGuid(), RuleDirection.Ingress, RuleProtocol.Icmp)]));
        await using var outside = await C.StartTcpEchoServerAsync(7000);

        (await B.PingAsync(AddressC)).ShouldBeFalse();
        (await B.TcpExchangeAsync(AddressC, 7000, "out")).ShouldBeNull();
        (await C.PingAsync(AddressB)).ShouldBeTrue("its replies pass: they belong to a connection its group admitted");
    }

    [Fact]
    public async Task a_remote_group_admits_its_members_addresses_only_and_a_connection_between_managed_ports_needs_both_sides()
    {
        var servers = Guid.NewGuid();
        var clients = Guid.NewGuid();
        var members = new[] { (clients, AddressB) }.ToLookup(m => m.clients, m => m.AddressB);
        var fromClients = new SecurityRule(Guid.NewGuid(), RuleDirection.Ingress, RuleProtocol.Icmp, RemoteGroupId: clients);
        BridgePort[] ports = [new BridgePort(PortA, Bridge, MacA, [servers]), new BridgePort(PortB, Bridge, MacB, [clients])];

        await ApplyAsync(ports, members, new SecurityGroup(servers, [fromClients]), new SecurityGroup(clients, [new SecurityRule(Guid.NewGuid(), RuleDirection.Egress)]));
        (await B.PingAsync(AddressA)).ShouldBeTrue("B is in the clients group");
        (await C.PingAsync(AddressA)).ShouldBeFalse("C is not");
        (await A.PingAsync(AddressB)).ShouldBeFalse("A's group allows nothing out, and B's nothing in");

        await ApplyAsync(ports, members, new SecurityGroup(servers, [fromClients]), new SecurityGroup(clients, []));
        (await B.PingAsync(AddressA)).ShouldBeFalse("A would let it in, but B's group no longer lets it out");
    }

    private static readonly ILookup<Guid, IPAddress> NoMembers = Array.Empty<(Guid, IPAddress)>().ToLookup(m => m.Item1, m => m.Item2);

    private Task ApplyAsync(IReadOnlyList<BridgePort> ports, params SecurityGroup[] groups) => ApplyAsync(ports, NoMembers, groups);

    private async Task ApplyAsync(IReadOnlyList<BridgePort> ports, ILookup<Guid, IPAddress> members, params SecurityGroup[] groups) =>
        await _flows!.EnsureAsync(Bridge, SecurityGroupFlows.FlowTable(Bridge, Zone, ports, groups, members));
}
