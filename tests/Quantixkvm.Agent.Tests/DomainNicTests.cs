using Quantixkvm.Agent.Hypervisor;
using Quantixkvm.Agent.Tests.Support;
using Quantixkvm.Contracts;
using Quantixkvm.Libvirt;
using static Quantixkvm.Agent.Tests.Support.TestHypervisor;

namespace Quantixkvm.Agent.Tests;

/// <summary>NICs through <see cref="DomainOperations"/> on libvirt's test driver: defined with the domain, attached and detached while stopped.</summary>
public sealed class DomainNicTests : IDisposable
{
    private readonly LibvirtConnection _libvirt = LibvirtConnection.Open(LibvirtUri);
    private readonly FakeTimeProvider _clock = new();
    private readonly DomainOperations _operations;
    private readonly Guid _vmId = Guid.NewGuid();

    public DomainNicTests() => _operations = AgentParts.Domains(new HypervisorConnection(_libvirt), _clock);

    public void Dispose()
    {
        Remove(_libvirt, _vmId);
        _libvirt.Dispose();
    }

    private static NicAttachment Nic(string kind, string mac, string bridge = "qkbr0", int? vlan = null) =>
        new(Guid.NewGuid(), Guid.NewGuid(), mac, "virtio", kind, bridge, vlan, null, 1500);

    [Fact]
    public async Task a_create_plugs_each_nic_into_the_bridge_its_network_kind_calls_for()
    {
        var bridge = Nic(NetworkKinds.Bridge, "02:00:00:00:00:01", "qkbr0");
        var ovs = Nic(NetworkKinds.Ovs, "02:00:00:00:00:02", "qkovs0", vlan: 42);
        var overlay = Nic(NetworkKinds.Overlay, "02:00:00:00:00:03");

        var outcome = await RunAsync(Command(DomainOperationKind.Create, _vmId, _clock.GetUtcNow().AddMinutes(1), desired: DomainPowerState.Stopped)
            with { Nics = [bridge, ovs, overlay] });

        outcome.Succeeded.ShouldBeTrue(outcome.ErrorMessage);
        using var domain = _libvirt.FindDomain(_vmId).ShouldNotBeNull();
        var nics = domain.ListInterfaces(inactive: true).ToDictionary(i => i.Mac);
        nics["02:00:00:00:00:01"].SourceBridge.ShouldBe("qkbr0");
        nics["02:00:00:00:00:01"].VirtualPortType.ShouldBeNull();
        nics["02:00:00:00:00:02"].SourceBridge.ShouldBe("qkovs0");
        nics["02:00:00:00:00:02"].VlanTag.ShouldBe(42);
        nics["02:00:00:00:00:02"].VirtualPortType.ShouldBe("openvswitch");
        nics["02:00:00:00:00:03"].SourceBridge.ShouldBe(NetworkKinds.OvnIntegrationBridge);
        nics["02:00:00:00:00:03"].OvsInterfaceId.ShouldBe(overlay.PortId);
    }

    [Fact]
    public async Task a_stopped_domain_gets_a_nic_attached_and_detached_in_its_definition_and_a_repeat_changes_nothing()
    {
        var deadline = _clock.GetUtcNow().AddMinutes(1);
        (await RunAsync(Command(DomainOperationKind.Create, _vmId, deadline, desired: DomainPowerState.Stopped))).Succeeded.ShouldBeTrue();
        var nic = Nic(NetworkKinds.Overlay, "02:00:00:aa:bb:cc");

        for (var delivery = 0; delivery < 2; delivery++)
        {
            var attached = await RunAsync(Command(DomainOperationKind.AttachNic, _vmId, deadline) with { Nic = nic });
            attached.ShouldBe(new DomainOutcome(true, DomainPowerState.Stopped));
        }

        using (var domain = _libvirt.FindDomain(_vmId).ShouldNotBeNull())
        {
            domain.ListInterfaces(inactive: true).Select(i => i.Mac).ShouldBe(["02:00:00:aa:bb:cc"]);
        }

        for (var delivery = 0; delivery < 2; delivery++)
        {
            (await RunAsync(Command(DomainOperationKind.DetachNic, _vmId, deadline) with { Nic = nic })).Succeeded.ShouldBeTrue();
        }

        using (var domain = _libvirt.FindDomain(_vmId).ShouldNotBeNull())
        {
            domain.ListInterfaces(inactive: true).ShouldBeEmpty();
        }
    }

    [Fact]
    public async Task an_attach_without_its_nic_fails_as_an_invalid_spec()
    {
        var deadline = _clock.GetUtcNow().AddMinutes(1);
        (await RunAsync(Command(DomainOperationKind.Create, _vmId, deadline, desired: DomainPowerState.Stopped))).Succeeded.ShouldBeTrue();

        var outcome = await RunAsync(Command(DomainOperationKind.AttachNic, _vmId, deadline));

        outcome.Succeeded.ShouldBeFalse();
        outcome.ErrorCode.ShouldBe("INVALID_SPEC");
    }

    private Task<DomainOutcome> RunAsync(RunDomainOperation command) => _operations.RunAsync(command, TimeSpan.FromSeconds(1), CancellationToken.None);
}
