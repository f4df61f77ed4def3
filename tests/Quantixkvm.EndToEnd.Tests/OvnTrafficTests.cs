using System.Net;
using Quantixkvm.Testing;

namespace Quantixkvm.EndToEnd.Tests;

/// <summary>The class's own Open vSwitch + OVN stack (infra/dev/ovs.sh in a temporary folder and namespace).</summary>
public sealed class OvnStackFixture : IAsyncLifetime
{
    public OvnStack Stack { get; private set; } = null!;

    public async Task InitializeAsync() => Stack = await OvnStack.StartAsync();

    public async Task DisposeAsync()
    {
        if (Stack is not null)
        {
            await Stack.DisposeAsync();
        }
    }
}

/// <summary>
/// Real traffic through the private OVS/OVN stack: guests (network namespaces with a veth into br-int) on an OVN
/// logical switch reach each other, an ACL changes what passes, OVN's own DHCP hands out addresses.
/// </summary>
public sealed class OvnTrafficTests(OvnStackFixture fixture) : IClassFixture<OvnStackFixture>
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(60);

    private OvnStack Stack => fixture.Stack;

    [Fact]
    public async Task the_stack_runs_with_br_int_and_its_chassis()
    {
        var status = await Stack.StatusAsync();
        status.Succeeded.ShouldBeTrue(status.Output + status.Error);
        (await Stack.VsctlAsync("br-exists", OvnStack.IntegrationBridge)).ShouldBeEmpty();
        (await Stack.VsctlAsync("get", "Bridge", OvnStack.IntegrationBridge, "datapath_type")).Trim().ShouldBe("netdev");
        (await Stack.SbctlAsync("--bare", "--columns=name", "list", "Chassis")).Trim().ShouldNotBeEmpty();
    }

    [Fact]
    public async Task guests_on_a_logical_switch_ping_each_other_until_an_icmp_drop_acl_stops_only_the_ping()
    {
        var logicalSwitch = $"ls-{Guid.NewGuid():N}"[..11];
        var first = (Port: $"{logicalSwitch}-a", Mac: "02:00:00:77:00:0a", Address: IPAddress.Parse("10.77.0.10"));
        var second = (Port: $"{logicalSwitch}-b", Mac: "02:00:00:77:00:0b", Address: IPAddress.Parse("10.77.0.11"));
        await using var a = await Stack.CreateGuestAsync();
        await using var b = await Stack.CreateGuestAsync();
        try
        {
            await Stack.NbctlAsync("ls-add", logicalSwitch);
            await Stack.AddLogicalPortAsync(logicalSwitch, first.Port, first.Mac, first.Address.ToString());
            await Stack.AddLogicalPortAsync(logicalSwitch, second.Port, second.Mac, second.Address.ToString());
            await a.ConfigureAsync(first.Mac, first.Address, 24, mtu: 1442);
            await b.ConfigureAsync(second.Mac, second.Address, 24, mtu: 1442);
            await Stack.PlugAsync(a, first.Port);
            await Stack.PlugAsync(b, second.Port);
            await using var echo = await b.StartTcpEchoServerAsync(7007);

            await WaitForPingAsync(a, second.Address, expected: true);
            (await b.PingAsync(first.Address)).ShouldBeTrue("the reply path works both ways");
            (await a.TcpExchangeAsync(second.Address, 7007, "before the ACL")).ShouldBe("before the ACL");

            // Applied on the chassis when the call returns (--wait=hv): no waiting for the drop.
            await Stack.AddAclAsync(logicalSwitch, "to-lport", 1000, "icmp4", "drop");
            (await a.PingAsync(second.Address)).ShouldBeFalse("the ACL drops ICMP towards every port of the switch");
            (await b.PingAsync(first.Address)).ShouldBeFalse("... in both directions");
            (await a.TcpExchangeAsync(second.Address, 7007, "ICMP only")).ShouldBe("ICMP only", "TCP is not matched by the ACL");

            await Stack.RemoveAclAsync(logicalSwitch, "to-lport", 1000, "icmp4");
            await WaitForPingAsync(a, second.Address, expected: true);
        }
        finally
        {
            await Stack.NbctlAsync("--if-exists", "ls-del", logicalSwitch);
        }
    }

    [Fact]
    public async Task port_security_drops_a_guest_that_sends_from_another_mac()
    {
        var logicalSwitch = $"ls-{Guid.NewGuid():N}"[..11];
        await using var a = await Stack.CreateGuestAsync();
        await using var b = await Stack.CreateGuestAsync();
        try
        {
            await Stack.NbctlAsync("ls-add", logicalSwitch);
            await Stack.AddLogicalPortAsync(logicalSwitch, $"{logicalSwitch}-a", "02:00:00:78:00:0a", "10.78.0.10");
            await Stack.AddLogicalPortAsync(logicalSwitch, $"{logicalSwitch}-b", "02:00:00:78:00:0b", "10.78.0.11");
            // Guest a uses a MAC its port does not allow.
            await a.ConfigureAsync("02:00:00:78:00:ff", IPAddress.Parse("10.78.0.10"), 24);
            await b.ConfigureAsync("02:00:00:78:00:0b", IPAddress.Parse("10.78.0.11"), 24);
            await Stack.PlugAsync(a, $"{logicalSwitch}-a");
            await Stack.PlugAsync(b, $"{logicalSwitch}-b");

            (await a.PingAsync(IPAddress.Parse("10.78.0.11"))).ShouldBeFalse();

            // The allowed MAC: the same guest gets through (so the failure above was port security, not the plumbing).
            await a.RunAsync(["ip", "link", "set", NetworkNamespace.GuestInterface, "address", "02:00:00:78:00:0a"]);
            await WaitForPingAsync(a, IPAddress.Parse("10.78.0.11"), expected: true);
        }
        finally
        {
            await Stack.NbctlAsync("--if-exists", "ls-del", logicalSwitch);
        }
    }

    [Fact]
    public async Task a_guest_gets_its_address_from_ovn_dhcp()
    {
        var logicalSwitch = $"ls-{Guid.NewGuid():N}"[..11];
        var port = $"{logicalSwitch}-a";
        await using var guest = await Stack.CreateGuestAsync();
        string? dhcpOptions = null;
        try
        {
            await Stack.NbctlAsync("ls-add", logicalSwitch);
            await Stack.AddLogicalPortAsync(logicalSwitch, port, "02:00:00:79:00:0a", "10.79.0.23");
            await guest.ConfigureAsync("02:00:00:79:00:0a");
            await Stack.PlugAsync(guest, port);
            (await guest.RequestDhcpLeaseAsync()).ShouldBeNull("no DHCP options on the port yet: nobody answers");

            dhcpOptions = await Stack.EnableDhcpAsync(port, "10.79.0.0/24", "10.79.0.1", "02:00:00:79:00:01");
            (await guest.RequestDhcpLeaseAsync()).ShouldBe(IPAddress.Parse("10.79.0.23"));
        }
        finally
        {
            await Stack.NbctlAsync("--if-exists", "ls-del", logicalSwitch);
            if (dhcpOptions is not null)
            {
                await Stack.NbctlAsync("--if-exists", "destroy", "DHCP_Options", dhcpOptions);
            }
        }
    }

    [Fact]
    public async Task a_disposed_guest_leaves_no_namespace_no_veth_and_no_process()
    {
        var guest = await Stack.CreateGuestAsync();
        await guest.ConfigureAsync("02:00:00:7a:00:0a", IPAddress.Parse("10.80.0.10"), 24);
        await guest.StartTcpEchoServerAsync(7008); // left running on purpose: dispose must end it

        await guest.DisposeAsync();

        (await HostCommand.RunCheckedAsync("ip", ["netns", "list"])).ShouldNotContain(guest.Name);
        (await HostCommand.RunAsync("ip", ["-n", Stack.SwitchNamespace, "link", "show", guest.HostInterface])).Succeeded.ShouldBeFalse();
        (await HostCommand.RunAsync("ip", ["netns", "pids", guest.Name])).Succeeded.ShouldBeFalse();
    }

    private static Task WaitForPingAsync(NetworkNamespace from, IPAddress to, bool expected) =>
        PlatformProcess.WaitUntilAsync(async () => await from.PingAsync(to) == expected, Patience, $"ping from {from.Name} to {to} {(expected ? "answered" : "unanswered")}");
}
