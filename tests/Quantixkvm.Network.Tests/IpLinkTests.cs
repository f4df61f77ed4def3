using Quantixkvm.Network.Linux;
using Quantixkvm.Testing;

namespace Quantixkvm.Network.Tests;

/// <summary>
/// IpLink inside a private network namespace per test, so the host's own interfaces are never touched. Creating a
/// namespace needs root: as another user it goes through `sudo -n`.
/// </summary>
public sealed class IpLinkTests : IAsyncLifetime
{
    private readonly string _namespace = "qkvm-t-" + Guid.NewGuid().ToString("N")[..8];

    private IpLink Ip => IpLink.InNamespace(_namespace, HostCommand.Privilege);

    public Task InitializeAsync() => RunAsync(["ip", "netns", "add", _namespace]);

    public Task DisposeAsync() => RunAsync(["ip", "netns", "delete", _namespace]);

    [Fact]
    public async Task a_bridge_is_created_with_its_mtu_and_up_and_ensuring_it_again_changes_nothing()
    {
        (await Ip.EnsureBridgeAsync("br-q1", 1450)).ShouldBeTrue();

        var bridge = (await Ip.GetAsync("br-q1")).ShouldNotBeNull();
        (bridge.Kind, bridge.Mtu, bridge.IsUp).ShouldBe(("bridge", 1450, true));
        (await InNamespaceAsync("ip", "-o", "link", "show", "br-q1")).ShouldContain("mtu 1450");
        (await Ip.EnsureBridgeAsync("br-q1", 1450)).ShouldBeFalse();

        (await Ip.EnsureBridgeAsync("br-q1", 1400)).ShouldBeTrue();
        (await Ip.GetAsync("br-q1"))!.Mtu.ShouldBe(1400);
    }

    [Fact]
    public async Task a_device_is_enslaved_to_a_bridge_listed_and_deleted()
    {
        await InNamespaceAsync("ip", "link", "add", "vm0", "type", "veth", "peer", "name", "vm0p");
        await Ip.EnsureBridgeAsync("br-q2", 1500);

        (await Ip.EnsureMasterAsync("vm0", "br-q2")).ShouldBeTrue();
        (await Ip.EnsureMasterAsync("vm0", "br-q2")).ShouldBeFalse();

        var links = await Ip.ListAsync();
        links.Single(l => l.Name == "vm0").ShouldSatisfyAllConditions(
            l => l.Master.ShouldBe("br-q2"), l => l.Kind.ShouldBe("veth"), l => l.Link.ShouldBe("vm0p"));
        (await InNamespaceAsync("ip", "-o", "link", "show", "master", "br-q2")).ShouldContain("vm0@vm0p");

        (await Ip.DeleteAsync("br-q2")).ShouldBeTrue();
        (await Ip.GetAsync("br-q2")).ShouldBeNull();
        (await Ip.GetAsync("vm0")).ShouldNotBeNull().Master.ShouldBeNull();
        (await Ip.DeleteAsync("br-q2")).ShouldBeFalse();
    }

    [Fact]
    public async Task a_vlan_sub_interface_of_the_uplink_is_enslaved_to_the_bridge_where_the_kernel_has_8021q()
    {
        await InNamespaceAsync("ip", "link", "add", "up0", "type", "veth", "peer", "name", "up0p");
        await Ip.EnsureBridgeAsync("br-v100", 1500);

        try
        {
            var (name, changed) = await Ip.EnsureVlanAsync("up0", 100, "br-v100", 1500);

            (name, changed).ShouldBe(("up0.100", true));
            var vlan = (await Ip.GetAsync("up0.100")).ShouldNotBeNull();
            (vlan.Kind, vlan.VlanId, vlan.Link, vlan.Master, vlan.IsUp).ShouldBe(("vlan", (int?)100, "up0", "br-v100", true));
            (await Ip.EnsureVlanAsync("up0", 100, "br-v100", 1500)).Changed.ShouldBeFalse();
        }
        catch (IpCommandException e) when (e.Error.Contains("Unknown device type", StringComparison.Ordinal))
        {
            // This kernel has no 802.1Q module (so it is on the test machine): the failure is ip's own, typed, and names the command.
            e.Command.ShouldContain("vlan");
            e.Message.ShouldContain("link add link up0 name up0.100 mtu 1500 type vlan id 100");
        }
    }

    [Fact]
    public async Task bad_names_missing_devices_and_devices_of_another_kind_are_refused_by_name()
    {
        await InNamespaceAsync("ip", "link", "add", "notbr", "type", "veth", "peer", "name", "notbrp");

        (await Should.ThrowAsync<ArgumentException>(() => Ip.EnsureBridgeAsync("br;reboot", 1500))).Message.ShouldContain("'br;reboot'");
        (await Should.ThrowAsync<ArgumentException>(() => Ip.EnsureBridgeAsync("br0", 68))).Message.ShouldContain("MTU 68");
        Should.Throw<ArgumentException>(() => IpLink.VlanInterfaceName("enp0s31f6long", 4000)).Message.ShouldContain("enp0s31f6long.4000");
        Should.Throw<ArgumentException>(() => IpLink.VlanInterfaceName("eth0", 0)).Message.ShouldContain("VLAN id 0");
        IpLink.VlanInterfaceName("eth0", 100).ShouldBe("eth0.100");
        (await Should.ThrowAsync<LinkConflictException>(() => Ip.EnsureBridgeAsync("notbr", 1500))).Message.ShouldBe("'notbr' exists as a veth device, not a bridge");
        (await Should.ThrowAsync<NetworkObjectMissingException>(() => Ip.EnsureVlanAsync("nosuch0", 5, "br0", 1500))).Message.ShouldBe("uplink interface 'nosuch0' does not exist");
        (await Should.ThrowAsync<NetworkObjectMissingException>(() => Ip.EnsureMasterAsync("notbr", "nobridge"))).Kind.ShouldBe("bridge");
    }

    [Fact]
    public async Task an_alias_marks_a_device_and_is_listed_with_it()
    {
        await Ip.EnsureBridgeAsync("br-q6", 1500);
        (await Ip.GetAsync("br-q6"))!.Alias.ShouldBeNull();

        (await Ip.SetAliasAsync("br-q6", "qkvm:0f5e3a5c-1111-4222-8333-944455556666")).ShouldBeTrue();
        (await Ip.SetAliasAsync("br-q6", "qkvm:0f5e3a5c-1111-4222-8333-944455556666")).ShouldBeFalse();

        (await Ip.GetAsync("br-q6"))!.Alias.ShouldBe("qkvm:0f5e3a5c-1111-4222-8333-944455556666");
        (await InNamespaceAsync("ip", "-o", "link", "show", "br-q6")).ShouldContain("alias qkvm:0f5e3a5c-1111-4222-8333-944455556666");
        (await Should.ThrowAsync<ArgumentException>(() => Ip.SetAliasAsync("br-q6", "two words"))).Message.ShouldContain("'two words'");
        (await Should.ThrowAsync<NetworkObjectMissingException>(() => Ip.SetAliasAsync("nosuch1", "x"))).Name.ShouldBe("nosuch1");
    }

    [Fact]
    public async Task a_tap_belongs_to_its_owner_with_its_mtu_alias_and_up_and_ensuring_it_again_changes_nothing()
    {
        // A user every machine has: the owner only decides who may open the TAP.
        (await Ip.EnsureTapAsync("qkttap0", "nobody", 1442, "qkvm-vm:test")).ShouldBeTrue();

        var tap = (await Ip.GetAsync("qkttap0")).ShouldNotBeNull();
        (tap.Kind, tap.TunType, tap.TunOwner, tap.Mtu, tap.IsUp, tap.Alias).ShouldBe(("tun", "tap", "nobody", 1442, true, "qkvm-vm:test"));
        (await InNamespaceAsync("ip", "-d", "link", "show", "qkttap0")).ShouldContain("tun type tap");
        (await Ip.EnsureTapAsync("qkttap0", "nobody", 1442, "qkvm-vm:test")).ShouldBeFalse();
        (await Ip.EnsureTapAsync("qkttap0", "nobody", 1500)).ShouldBeTrue();
        (await Ip.GetAsync("qkttap0"))!.Mtu.ShouldBe(1500);
    }

    [Fact]
    public async Task a_tap_is_refused_over_another_device_or_another_owners_tap_and_a_bad_owner_before_ip_runs()
    {
        await Ip.EnsureBridgeAsync("qktbr0", 1500);
        await Ip.EnsureTapAsync("qkttap1", "nobody", 1500);

        var bridge = await Should.ThrowAsync<LinkConflictException>(() => Ip.EnsureTapAsync("qktbr0", "nobody", 1500));
        var owner = await Should.ThrowAsync<LinkConflictException>(() => Ip.EnsureTapAsync("qkttap1", "root", 1500));
        var badOwner = await Should.ThrowAsync<ArgumentException>(() => Ip.EnsureTapAsync("qkttap2", "-u", 1500));

        bridge.Message.ShouldContain("not a TAP");
        owner.Message.ShouldContain("belongs to 'nobody', not to 'root'");
        badOwner.Message.ShouldContain("TAP owner '-u'");
        (await Ip.GetAsync("qkttap2")).ShouldBeNull();
    }

    [Fact]
    public async Task the_host_outside_the_namespace_is_untouched()
    {
        await Ip.EnsureBridgeAsync("br-q5", 1500);

        (await new IpLink(HostCommand.Privilege).GetAsync("br-q5")).ShouldBeNull();
    }

    private Task<string> InNamespaceAsync(params string[] command) => RunAsync(["ip", "netns", "exec", _namespace, .. command]);

    /// <summary>One command line, as an argument array (HostCommand adds sudo when not root).</summary>
    private static Task<string> RunAsync(string[] command) => HostCommand.RunCheckedAsync(command[0], command[1..]);
}
