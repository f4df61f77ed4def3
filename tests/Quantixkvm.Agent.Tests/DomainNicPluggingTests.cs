using System.Text.Json;
using Quantixkvm.Agent.Hypervisor;
using Quantixkvm.Agent.Tests.Networking;
using Quantixkvm.Agent.Tests.Support;
using Quantixkvm.Contracts;
using Quantixkvm.Libvirt;
using Quantixkvm.Testing;
using static Quantixkvm.Agent.Tests.Support.TestHypervisor;

namespace Quantixkvm.Agent.Tests;

/// <summary>
/// Plug mode "agent" (os-vif style): the agent makes each NIC's TAP in the host's network namespace (here a private one,
/// through Agent:Network:IpCommandPrefix), plugs it into a Linux bridge or an Open vSwitch bridge (a private Open_vSwitch
/// database), and gives libvirt (the test driver) an ethernet interface on it; a delete or detach unplugs it again.
/// </summary>
public sealed class DomainNicPluggingTests : IClassFixture<HostNetworks>, IAsyncLifetime, IDisposable
{
    private const string LinuxBridge = "qkbrplug0";
    private const string OvsBridge = "qkovsplug0";

    // Under root the TAPs go to quantixkvm, the user of the session libvirtd (infra/dev/install.sh); otherwise to the test's user.
    private static readonly string TapOwner = Environment.UserName == "root" ? "quantixkvm" : Environment.UserName;

    private readonly HostNetworks _host;
    private readonly LibvirtConnection _libvirt = LibvirtConnection.Open(LibvirtUri);
    private readonly FakeTimeProvider _clock = new();
    private readonly Guid _vmId = Guid.NewGuid();

    public DomainNicPluggingTests(HostNetworks host) => _host = host;

    public async Task InitializeAsync()
    {
        await _host.Vswitch.ToolAsync("ovs-vsctl", "--may-exist", "add-br", "br-int");
        await _host.Vswitch.ToolAsync("ovs-vsctl", "--may-exist", "add-br", OvsBridge);
        await _host.Ip.EnsureBridgeAsync(LinuxBridge, 1500);
    }

    public Task DisposeAsync() => Task.CompletedTask;

    public void Dispose()
    {
        Remove(_libvirt, _vmId);
        _libvirt.Dispose();
    }

    private AgentOptions Options(string? tapOwner = null, string plugMode = NicPlugModes.Agent) => new()
    {
        Network = new NetworkOptions
        {
            PlugMode = plugMode,
            TapOwner = tapOwner ?? TapOwner,
            OvsDb = _host.Vswitch.UnixEndpoint,
            IpCommandPrefix = [.. HostCommand.Privilege, "ip", "netns", "exec", _host.Namespace],
        },
    };

    private static NicAttachment Nic(string kind, string mac, string bridge = "", int? vlan = null, int mtu = 1442) =>
        new(Guid.NewGuid(), Guid.NewGuid(), mac, "virtio", kind, bridge, vlan, null, mtu);

    [Fact]
    public async Task a_create_plugs_a_tap_per_nic_owned_by_qemus_user_into_its_bridge_a_redelivery_changes_nothing_and_a_delete_unplugs_them()
    {
        var operations = AgentParts.Domains(new HypervisorConnection(_libvirt), _clock, Options());
        var overlay = Nic(NetworkKinds.Overlay, "02:00:00:00:07:01");
        var ovs = Nic(NetworkKinds.Ovs, "02:00:00:00:07:02", OvsBridge, vlan: 42, mtu: 1500);
        var bridge = Nic(NetworkKinds.Bridge, "02:00:00:00:07:03", LinuxBridge, mtu: 1500);
        var create = Command(DomainOperationKind.Create, _vmId, _clock.GetUtcNow().AddMinutes(1)) with { Nics = [overlay, ovs, bridge] };

        for (var delivery = 0; delivery < 2; delivery++)
        {
            var outcome = await operations.RunAsync(create, TimeSpan.FromSeconds(1), CancellationToken.None);
            outcome.ShouldBe(new DomainOutcome(true, DomainPowerState.Running));
        }

        using (var domain = _libvirt.FindDomain(_vmId).ShouldNotBeNull())
        {
            domain.ListInterfaces(inactive: true).ShouldBe(
            [
                new DomainInterface(overlay.Mac, "ethernet", null, null, null, null, "virtio", true, DomainNics.TapName(overlay.PortId), 1442),
                new DomainInterface(ovs.Mac, "ethernet", null, null, null, null, "virtio", true, DomainNics.TapName(ovs.PortId), 1500),
                new DomainInterface(bridge.Mac, "ethernet", null, null, null, null, "virtio", true, DomainNics.TapName(bridge.PortId), 1500),
            ]);
        }

        var taps = await VmTapsAsync();
        taps.Select(t => t.Name).Order().ShouldBe(new[] { overlay, ovs, bridge }.Select(n => DomainNics.TapName(n.PortId)).Order());
        taps.ShouldAllBe(t => t.TunType == "tap" && t.TunOwner == TapOwner && t.IsUp);
        taps.Single(t => t.Name == DomainNics.TapName(overlay.PortId)).Mtu.ShouldBe(1442);
        taps.Single(t => t.Name == DomainNics.TapName(bridge.PortId)).Master.ShouldBe(LinuxBridge);

        // Open vSwitch's own view: the overlay's TAP on br-int bound to the port by iface-id, the OVS network's tagged.
        var overlayTap = DomainNics.TapName(overlay.PortId);
        (await PortsAsync("br-int")).ShouldBe([overlayTap]);
        (await VsctlGetAsync("Interface", overlayTap, "external_ids:iface-id")).ShouldBe(overlay.PortId.ToString("D"));
        (await VsctlGetAsync("Interface", overlayTap, "external_ids:attached-mac")).ShouldBe(overlay.Mac);
        (await VsctlGetAsync("Interface", overlayTap, "external_ids:vm-id")).ShouldBe(_vmId.ToString("D"));
        (await PortsAsync(OvsBridge)).ShouldBe([DomainNics.TapName(ovs.PortId)]);
        (await VsctlGetAsync("Port", DomainNics.TapName(ovs.PortId), "tag")).ShouldBe("42");

        (await operations.RunAsync(Command(DomainOperationKind.Stop, _vmId, _clock.GetUtcNow().AddMinutes(1), force: true), TimeSpan.FromSeconds(1), CancellationToken.None))
            .Succeeded.ShouldBeTrue();
        for (var delivery = 0; delivery < 2; delivery++)
        {
            (await operations.RunAsync(Command(DomainOperationKind.Delete, _vmId, _clock.GetUtcNow().AddMinutes(1)), TimeSpan.FromSeconds(1), CancellationToken.None))
                .Succeeded.ShouldBeTrue();
        }

        (await VmTapsAsync()).ShouldBeEmpty();
        (await PortsAsync("br-int")).ShouldBeEmpty();
        (await PortsAsync(OvsBridge)).ShouldBeEmpty();
    }

    [Fact]
    public async Task a_nic_attached_to_a_stopped_domain_is_plugged_when_it_starts_and_unplugged_when_detached_and_a_repeat_changes_nothing()
    {
        var operations = AgentParts.Domains(new HypervisorConnection(_libvirt), _clock, Options());
        var deadline = _clock.GetUtcNow().AddMinutes(1);
        (await operations.RunAsync(Command(DomainOperationKind.Create, _vmId, deadline, desired: DomainPowerState.Stopped), TimeSpan.FromSeconds(1), CancellationToken.None))
            .Succeeded.ShouldBeTrue();
        var nic = Nic(NetworkKinds.Overlay, "02:00:00:00:08:01");
        var tap = DomainNics.TapName(nic.PortId);

        for (var delivery = 0; delivery < 2; delivery++)
        {
            var attached = await operations.RunAsync(Command(DomainOperationKind.AttachNic, _vmId, deadline) with { Nic = nic }, TimeSpan.FromSeconds(1), CancellationToken.None);
            attached.ShouldBe(new DomainOutcome(true, DomainPowerState.Stopped));
        }

        using (var domain = _libvirt.FindDomain(_vmId).ShouldNotBeNull())
        {
            domain.ListInterfaces(inactive: true).ShouldHaveSingleItem().TargetDev.ShouldBe(tap);
        }

        (await VmTapsAsync()).ShouldBeEmpty("a stopped domain's TAPs are plugged when it starts");

        var started = await operations.RunAsync(Command(DomainOperationKind.Start, _vmId, deadline) with { Nics = [nic] }, TimeSpan.FromSeconds(1), CancellationToken.None);

        started.ShouldBe(new DomainOutcome(true, DomainPowerState.Running));
        (await VmTapsAsync()).Select(t => t.Name).ShouldBe([tap]);
        (await PortsAsync("br-int")).ShouldBe([tap]);

        for (var delivery = 0; delivery < 2; delivery++)
        {
            // The test driver cannot hot-unplug: stopped again, the NIC leaves the definition.
            (await operations.RunAsync(Command(DomainOperationKind.Stop, _vmId, deadline, force: true), TimeSpan.FromSeconds(1), CancellationToken.None)).Succeeded.ShouldBeTrue();
            (await operations.RunAsync(Command(DomainOperationKind.DetachNic, _vmId, deadline) with { Nic = nic }, TimeSpan.FromSeconds(1), CancellationToken.None))
                .Succeeded.ShouldBeTrue();
        }

        (await VmTapsAsync()).ShouldBeEmpty();
        (await PortsAsync("br-int")).ShouldBeEmpty();
        using (var domain = _libvirt.FindDomain(_vmId).ShouldNotBeNull())
        {
            domain.ListInterfaces(inactive: true).ShouldBeEmpty();
        }
    }

    [Fact]
    public async Task plugging_without_a_tap_owner_or_with_an_unknown_mode_fails_naming_the_setting_and_defines_nothing()
    {
        var deadline = _clock.GetUtcNow().AddMinutes(1);
        var create = Command(DomainOperationKind.Create, _vmId, deadline) with { Nics = [Nic(NetworkKinds.Overlay, "02:00:00:00:09:01")] };

        var noOwner = await AgentParts.Domains(new HypervisorConnection(_libvirt), _clock, Options(tapOwner: ""))
            .RunAsync(create, TimeSpan.FromSeconds(1), CancellationToken.None);
        var badMode = await AgentParts.Domains(new HypervisorConnection(_libvirt), _clock, Options(plugMode: "root"))
            .RunAsync(create, TimeSpan.FromSeconds(1), CancellationToken.None);

        noOwner.Succeeded.ShouldBeFalse();
        noOwner.ErrorCode.ShouldBe("NIC_PLUG_FAILED");
        noOwner.ErrorMessage.ShouldNotBeNull().ShouldContain("Agent:Network:TapOwner");
        badMode.ErrorCode.ShouldBe("NIC_PLUG_FAILED");
        badMode.ErrorMessage.ShouldNotBeNull().ShouldContain("Agent:Network:PlugMode is 'root'");
        _libvirt.FindDomain(_vmId).ShouldBeNull();
        (await VmTapsAsync()).ShouldBeEmpty();
    }

    [Fact]
    public void a_tap_is_named_after_its_port_within_ifnamsiz()
    {
        var portId = Guid.Parse("6f1c2a1e-1111-4222-8333-444455556666");

        DomainNics.TapName(portId).ShouldBe("qkt6f1c2a1e1111");
        DomainNics.TapName(portId).Length.ShouldBeLessThanOrEqualTo(15);
    }

    /// <summary>The TAPs in the host's namespace marked as this test's VM's.</summary>
    private async Task<List<Quantixkvm.Network.Linux.LinkInfo>> VmTapsAsync() =>
        [.. (await _host.Ip.ListAsync()).Where(l => l.Alias == DomainNics.VmAlias(_vmId))];

    /// <summary>The bridge's ports whose interface is this test's VM's (external_ids:vm-id): other tests share the bridges.</summary>
    private async Task<string[]> PortsAsync(string bridge)
    {
        var mine = Lines(await _host.Vswitch.ToolAsync("ovs-vsctl", "--bare", "--columns=name", "find", "Interface", $"external_ids:vm-id={_vmId:D}"));
        return [.. Lines(await _host.Vswitch.ToolAsync("ovs-vsctl", "list-ports", bridge)).Where(mine.Contains)];
    }

    private static string[] Lines(string output) => output.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);

    private async Task<string> VsctlGetAsync(string table, string record, string column) =>
        JsonSerializer.Deserialize<string>(ToJsonString((await _host.Vswitch.ToolAsync("ovs-vsctl", "get", table, record, column)).Trim()))!;

    // ovs-vsctl prints strings quoted only when they need it, and numbers bare.
    private static string ToJsonString(string value) => value.StartsWith('"') ? value : JsonSerializer.Serialize(value);
}
