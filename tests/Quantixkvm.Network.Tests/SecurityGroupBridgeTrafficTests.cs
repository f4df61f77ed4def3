using System.Net;
using Quantixkvm.Domain.Networks;
using Quantixkvm.Network.Linux;
using Quantixkvm.Network.SecurityGroups;
using Quantixkvm.Testing;

namespace Quantixkvm.Network.Tests;

/// <summary>
/// The translated table against real traffic: a "switch" network namespace holds a Linux bridge (made and set to pass
/// IP frames to netfilter by <see cref="IpLink"/>) with three veth ports, each going to a guest namespace; the table is
/// loaded inside the switch by <see cref="Nftables"/>. Guests A and B are managed ports; C stands for what is beyond
/// the bridge (another host, the uplink): not a managed port, so only A's and B's groups decide.
/// </summary>
public sealed class SecurityGroupBridgeTrafficTests : IAsyncLifetime
{
    private const string Bridge = "br-sg";
    private const string MacA = "02:5e:00:00:00:0a";
    private const string MacB = "02:5e:00:00:00:0b";
    private static readonly string[] Privilege = Environment.UserName == "root" ? [] : ["sudo", "-n"];
    private static readonly IPAddress AddressA = IPAddress.Parse("10.77.0.10");
    private static readonly IPAddress AddressB = IPAddress.Parse("10.77.0.11");
    private static readonly IPAddress AddressC = IPAddress.Parse("10.77.0.12");
    private static readonly Guid PortA = Guid.NewGuid();
    private static readonly Guid PortB = Guid.NewGuid();

    private readonly string _switch = "qkvm-s-" + Guid.NewGuid().ToString("N")[..8];
    private readonly List<NetworkNamespace> _guests = [];
    private bool _switchAdded;

    private NetworkNamespace A => _guests[0];

    private NetworkNamespace B => _guests[1];

    private NetworkNamespace C => _guests[2];

    public async Task InitializeAsync()
    {
        try
        {
            await HostCommand.RunCheckedAsync("ip", ["netns", "add", _switch]);
            _switchAdded = true;
            // Off for the whole namespace, so that what filters is the bridge's own setting, which the agent turns on.
            await HostCommand.RunCheckedAsync(
                "ip", ["netns", "exec", _switch, "sysctl", "-q", "-w", "net.bridge.bridge-nf-call-iptables=0", "net.bridge.bridge-nf-call-ip6tables=0"]);
            var ip = IpLink.InNamespace(_switch, Privilege);
            await ip.EnsureBridgeAsync(Bridge, 1500);
            (await ip.EnsureBridgeNetfilterAsync(Bridge)).ShouldBeTrue();
            (await ip.EnsureBridgeNetfilterAsync(Bridge)).ShouldBeFalse("already on");
            (await ip.GetAsync(Bridge))!.BridgeCallsNetfilter.ShouldBe(true);
            foreach (var (mac, address) in new[] { (MacA, AddressA), (MacB, AddressB), ("02:5e:00:00:00:0c", AddressC) })
            {
                var guest = await NetworkNamespace.CreateAsync(_switch);
                _guests.Add(guest);
                await guest.ConfigureAsync(mac, address);
                await ip.EnsureMasterAsync(guest.HostInterface, Bridge);
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
        if (_switchAdded)
        {
            await HostCommand.RunAsync("ip", ["netns", "delete", _switch]);
            _switchAdded = false;
        }
    }

    [Fact]
    public async Task without_groups_a_port_is_closed_inbound_and_reaches_out_with_its_replies()
    {
        await ApplyAsync([new BridgePort(PortA, Bridge, MacA, [])]);
        await using var server = await A.StartTcpEchoServerAsync(7000);
        await using var outside = await C.StartTcpEchoServerAsync(7000);

        (await C.PingAsync(AddressA)).ShouldBeFalse("nothing may come in to a port without a group");
        (await C.TcpExchangeAsync(AddressA, 7000, "in")).ShouldBeNull();
        (await A.PingAsync(AddressC)).ShouldBeTrue("it may send anything, and the replies come back");
        (await A.TcpExchangeAsync(AddressC, 7000, "out")).ShouldBe("out");
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
    public async Task a_tcp_port_rule_opens_that_port_only()
    {
        var web = Guid.NewGuid();
        await ApplyAsync(
            [new BridgePort(PortA, Bridge, MacA, [web])],
            new SecurityGroup(web, [new SecurityRule(Guid.NewGuid(), RuleDirection.Ingress, RuleProtocol.Tcp, 7000, 7000, Cidr.Parse("10.77.0.0/24").Cidr)]));
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
    public async Task a_remote_group_admits_its_members_addresses_only()
    {
        var servers = Guid.NewGuid();
        var clients = Guid.NewGuid();
        var members = new[] { (clients, AddressB) }.ToLookup(m => m.clients, m => m.AddressB);
        await ApplyAsync(
            [new BridgePort(PortA, Bridge, MacA, [servers]), new BridgePort(PortB, Bridge, MacB, [clients])],
            members,
            new SecurityGroup(servers, [new SecurityRule(Guid.NewGuid(), RuleDirection.Ingress, RuleProtocol.Icmp, RemoteGroupId: clients)]),
            new SecurityGroup(clients, [new SecurityRule(Guid.NewGuid(), RuleDirection.Egress)]));

        (await B.PingAsync(AddressA)).ShouldBeTrue("B is in the clients group");
        (await C.PingAsync(AddressA)).ShouldBeFalse("C is not");
        (await A.PingAsync(AddressB)).ShouldBeFalse("A's group allows nothing out, and B's nothing in");
    }

    private Task ApplyAsync(IReadOnlyList<BridgePort> ports, params SecurityGroup[] groups) =>
        ApplyAsync(ports, Array.Empty<(Guid, IPAddress)>().ToLookup(m => m.Item1, m => m.Item2), groups);

    private async Task ApplyAsync(IReadOnlyList<BridgePort> ports, ILookup<Guid, IPAddress> members, params SecurityGroup[] groups) =>
        await Nftables.InNamespace(_switch, Privilege).EnsureTableAsync(
            SecurityGroupNftables.Family, SecurityGroupNftables.Table, SecurityGroupNftables.Ruleset(ports, groups, members));
}
