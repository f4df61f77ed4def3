using System.Net;
using Quantixkvm.Domain.Networks;
using Quantixkvm.Network.SecurityGroups;
using Quantixkvm.Testing;

namespace Quantixkvm.Network.Tests;

/// <summary>
/// What security groups must do to real traffic, whichever way a bridge enforces them (nftables on a Linux bridge,
/// conntrack flows on an OVS bridge): the same scenarios run against each. Three guest namespaces are plugged into the
/// bridge; A and B are managed ports, C stands for what is beyond the bridge (another host, the uplink), so only A's and
/// B's groups decide.
/// </summary>
public abstract class SecurityGroupTrafficContract : IAsyncLifetime
{
    protected const string MacA = "02:5e:00:00:00:0a";
    protected const string MacB = "02:5e:00:00:00:0b";
    protected const string MacC = "02:5e:00:00:00:0c";
    protected static readonly IPAddress AddressA = IPAddress.Parse("10.77.0.10");
    protected static readonly IPAddress AddressB = IPAddress.Parse("10.77.0.11");
    protected static readonly IPAddress AddressC = IPAddress.Parse("10.77.0.12");
    protected static readonly Guid PortA = Guid.NewGuid();
    protected static readonly Guid PortB = Guid.NewGuid();
    protected static readonly ILookup<Guid, IPAddress> NoMembers = Array.Empty<(Guid, IPAddress)>().ToLookup(m => m.Item1, m => m.Item2);

    /// <summary>A, B and C, in that order, once plugged.</summary>
    protected List<NetworkNamespace> Guests { get; } = [];

    protected NetworkNamespace A => Guests[0];

    protected NetworkNamespace B => Guests[1];

    protected NetworkNamespace C => Guests[2];

    protected abstract string Bridge { get; }

    public abstract Task InitializeAsync();

    public virtual async Task DisposeAsync()
    {
        foreach (var guest in Guests)
        {
            await guest.DisposeAsync();
        }

        Guests.Clear();
    }

    /// <summary>Enforces the groups on the bridge's ports, the way this kind of bridge does.</summary>
    protected abstract Task ApplyAsync(IReadOnlyList<BridgePort> ports, ILookup<Guid, IPAddress> members, params SecurityGroup[] groups);

    protected Task ApplyAsync(IReadOnlyList<BridgePort> ports, params SecurityGroup[] groups) => ApplyAsync(ports, NoMembers, groups);

    [Fact]
    public async Task without_groups_a_port_is_closed_inbound_and_reaches_out_with_its_replies()
    {
        (await C.PingAsync(AddressA)).ShouldBeTrue("before any rules of ours the bridge switches everything");
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
            new SecurityGroup(web, [new SecurityRule(Guid.NewGuid(), RuleDirection.Ingress, RuleProtocol.Tcp, 6999, 7000, Cidr.Parse("10.77.0.0/24").Cidr)]));
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
}
