using System.Net;
using Quantixkvm.Domain.Networks;
using Quantixkvm.Network.Linux;
using Quantixkvm.Network.SecurityGroups;
using Quantixkvm.Testing;

namespace Quantixkvm.Network.Tests;

/// <summary>
/// The translated table against real traffic: a "switch" network namespace holds a Linux bridge (made and set to pass
/// IP frames to netfilter by <see cref="IpLink"/>) with three veth ports, each going to a guest namespace; the table is
/// loaded inside the switch by <see cref="Nftables"/>. The scenarios are
/// <see cref="SecurityGroupTrafficContract"/>'s.
/// </summary>
public sealed class SecurityGroupBridgeTrafficTests : SecurityGroupTrafficContract
{
    protected override string Bridge => "br-sg";

    private readonly string _switch = "qkvm-s-" + Guid.NewGuid().ToString("N")[..8];
    private bool _switchAdded;

    public override async Task InitializeAsync()
    {
        try
        {
            await HostCommand.RunCheckedAsync("ip", ["netns", "add", _switch]);
            _switchAdded = true;
            // Off for the whole namespace, so that what filters is the bridge's own setting, which the agent turns on.
            await HostCommand.RunCheckedAsync(
                "ip", ["netns", "exec", _switch, "sysctl", "-q", "-w", "net.bridge.bridge-nf-call-iptables=0", "net.bridge.bridge-nf-call-ip6tables=0"]);
            var ip = IpLink.InNamespace(_switch, HostCommand.Privilege);
            await ip.EnsureBridgeAsync(Bridge, 1500);
            (await ip.EnsureBridgeNetfilterAsync(Bridge)).ShouldBeTrue();
            (await ip.EnsureBridgeNetfilterAsync(Bridge)).ShouldBeFalse("already on");
            (await ip.GetAsync(Bridge))!.BridgeCallsNetfilter.ShouldBe(true);
            foreach (var (mac, address) in new[] { (MacA, AddressA), (MacB, AddressB), (MacC, AddressC) })
            {
                var guest = await NetworkNamespace.CreateAsync(_switch);
                Guests.Add(guest);
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

    public override async Task DisposeAsync()
    {
        await base.DisposeAsync();
        if (_switchAdded)
        {
            await HostCommand.RunAsync("ip", ["netns", "delete", _switch]);
            _switchAdded = false;
        }
    }

    protected override async Task ApplyAsync(IReadOnlyList<BridgePort> ports, ILookup<Guid, IPAddress> members, params SecurityGroup[] groups) =>
        await Nftables.InNamespace(_switch, HostCommand.Privilege).EnsureTableAsync(
            SecurityGroupNftables.Family, SecurityGroupNftables.Table, SecurityGroupNftables.Ruleset(ports, groups, members));
}
