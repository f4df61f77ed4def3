using Quantixkvm.Agent.Hypervisor;
using Quantixkvm.Contracts;
using Quantixkvm.Libvirt;

namespace Quantixkvm.Agent.Tests.Support;

/// <summary>
/// libvirt's in-process test driver. Every connection to it in this process shares one host while
/// at least one is open, and test classes run in parallel: so every test uses VMs of its own
/// (fresh Guids) and removes their domains afterwards.
/// </summary>
public static class TestHypervisor
{
    public const string LibvirtUri = "test:///default";

    /// <summary>The domain the test driver's default host starts with (running).</summary>
    public const string DefaultDomain = "test";

    // libvirt's state reasons (libvirt-domain.h) used to tell whether the agent acted.
    public const int RunningBooted = 1;     // VIR_DOMAIN_RUNNING_BOOTED
    public const int RunningUnpaused = 5;   // VIR_DOMAIN_RUNNING_UNPAUSED
    public const int ShutoffDestroyed = 2;  // VIR_DOMAIN_SHUTOFF_DESTROYED

    public static RunDomainOperation Command(
        DomainOperationKind kind,
        Guid vmId,
        DateTimeOffset deadline,
        bool force = false,
        DomainPowerState desired = DomainPowerState.Running,
        string name = "web-1",
        int vcpus = 1,
        int memoryMiB = 128,
        Guid? hostId = null) =>
        new(
            OperationId: Guid.NewGuid(),
            CommandId: "cmd-" + Guid.NewGuid().ToString("N")[..8],
            CorrelationId: Guid.NewGuid(),
            HostId: hostId ?? Guid.NewGuid(),
            Kind: kind,
            Force: force,
            Domain: new DomainSpecification(vmId, name, vcpus, memoryMiB),
            DesiredPowerState: desired,
            Deadline: deadline);

    /// <summary>Defines the VM's domain directly (not through the agent) and brings it to a power state.</summary>
    /// <remarks>
    /// Running is reached by start, pause and resume, so its reason is UNPAUSED: a start or a reboot
    /// by the agent would turn it into BOOTED, which is how tests see whether the agent acted.
    /// Stopped is reached by start and destroy (reason DESTROYED); a graceful shutdown would say SHUTDOWN.
    /// </remarks>
    public static void Arrange(LibvirtConnection libvirt, Guid vmId, DomainPowerState state)
    {
        using var domain = libvirt.DefineDomain(DomainXml.Build(new DomainSpec(
            vmId, DomainOperations.DomainName(vmId), "arranged", 1, 128, "test",
            new Dictionary<string, string> { ["vm-id"] = vmId.ToString() })));
        domain.Start();
        switch (state)
        {
            case DomainPowerState.Running:
                domain.Suspend();
                domain.Resume();
                break;
            case DomainPowerState.Paused:
                domain.Suspend();
                break;
            case DomainPowerState.Stopped:
                domain.Destroy();
                break;
            default:
                throw new ArgumentOutOfRangeException(nameof(state), state, "only Running, Paused or Stopped can be arranged");
        }
    }

    public static DomainStateInfo? StateOf(LibvirtConnection libvirt, Guid vmId)
    {
        using var domain = libvirt.FindDomain(vmId);
        return domain?.GetState();
    }

    /// <summary>Powers off and undefines the domain if it exists; never throws.</summary>
    public static void Remove(LibvirtConnection libvirt, Guid vmId)
    {
        try
        {
            using var domain = libvirt.FindDomain(vmId);
            if (domain is null)
            {
                return;
            }

            if (domain.GetState().State is not DomainState.Shutoff)
            {
                domain.Destroy();
            }

            domain.Undefine();
        }
        catch (LibvirtException)
        {
            // Best effort: it may be gone already.
        }
    }
}
