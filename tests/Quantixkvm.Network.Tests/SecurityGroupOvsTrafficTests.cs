using System.Net;
using Quantixkvm.Domain.Networks;
using Quantixkvm.Network.Ovs;
using Quantixkvm.Network.SecurityGroups;
using Quantixkvm.Testing;

namespace Quantixkvm.Network.Tests;

/// <summary>
/// The translated flow table against real traffic: a private OVS stack (<see cref="OvnStack"/>: a real ovs-vswitchd,
/// userspace datapath, in its own namespace) holds a netdev bridge like an ovs network's, with three guests plugged as
/// access ports of VLAN 100; the flows are written by <see cref="OvsFlowTables"/> (ovs-ofctl). The common scenarios
/// are <see cref="SecurityGroupTrafficContract"/>'s; these add what only flows do.
/// </summary>
public sealed class SecurityGroupOvsTrafficTests : SecurityGroupTrafficContract
{
    protected override string Bridge => "br-sgf";

    private const int Zone = 65000;

    private OvnStack? _stack;
    private OvsFlowTables? _flows;

    private OvnStack Stack => _stack ?? throw new InvalidOperationException("not started");

    public override async Task InitializeAsync()
    {
        try
        {
            _stack = await OvnStack.StartAsync();
            await Stack.VsctlAsync("add-br", Bridge, "--", "set", "Bridge", Bridge, "datapath_type=netdev");
            _flows = new OvsFlowTables(Path.Combine(Stack.DataFolder, "ovs", "run"));
            foreach (var (mac, address) in new[] { (MacA, AddressA), (MacB, AddressB), (MacC, AddressC) })
            {
                var guest = await Stack.CreateGuestAsync();
                Guests.Add(guest);
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

    public override async Task DisposeAsync()
    {
        await base.DisposeAsync();
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
    public async Task over_ipv6_neighbour_discovery_passes_and_a_port_without_groups_is_closed_inbound()
    {
        var v6A = IPAddress.Parse("fd00:77::10");
        var v6C = IPAddress.Parse("fd00:77::12");
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

    protected override async Task ApplyAsync(IReadOnlyList<BridgePort> ports, ILookup<Guid, IPAddress> members, params SecurityGroup[] groups) =>
        await _flows!.EnsureAsync(Bridge, SecurityGroupFlows.FlowTable(Bridge, Zone, ports, groups, members));
}
