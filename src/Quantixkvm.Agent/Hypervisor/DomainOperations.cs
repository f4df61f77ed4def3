using Quantixkvm.Contracts;
using Quantixkvm.Libvirt;

namespace Quantixkvm.Agent.Hypervisor;

/// <summary>The outcome of one operation on a domain: what the host looks like afterwards, and the error if any.</summary>
public sealed record DomainOutcome(bool Succeeded, DomainPowerState Observed, string? ErrorCode = null, string? ErrorMessage = null)
{
    public static DomainOutcome Fail(DomainPowerState observed, string code, string message) => new(false, observed, code, message);
}

/// <summary>
/// Carries out an operation against libvirt. It reads the domain's real state first, so a command
/// delivered twice (or already done by hand) is a success without acting twice.
/// </summary>
public sealed class DomainOperations(HypervisorConnection hypervisor, TimeProvider clock)
{
    /// <summary>The libvirt name of a VM's domain; the user's name goes into the title, escaped.</summary>
    public static string DomainName(Guid vmId) => $"qkvm-{vmId:N}";

    public async Task<DomainOutcome> RunAsync(RunDomainOperation command, TimeSpan deadlineMargin, CancellationToken cancellationToken)
    {
        var vmId = command.Domain.VmId;
        if (clock.GetUtcNow() >= command.Deadline)
        {
            return DomainOutcome.Fail(Observe(vmId), "DEADLINE_PASSED",
                $"the operation reached this host after its deadline {command.Deadline:O}; nothing was done");
        }

        try
        {
            using var domain = hypervisor.Connection.FindDomain(vmId);
            return command.Kind switch
            {
                DomainOperationKind.Create => Create(command, domain),
                DomainOperationKind.Delete => Delete(domain),
                _ when domain is null => DomainOutcome.Fail(DomainPowerState.Unknown, "DOMAIN_NOT_FOUND",
                    $"domain {DomainName(vmId)} is not defined on this host"),
                DomainOperationKind.Start => Ensure(domain, DomainPowerState.Running, d => d.Start()),
                DomainOperationKind.Stop when command.Force => Ensure(domain, DomainPowerState.Stopped, d => d.Destroy()),
                DomainOperationKind.Stop => await ShutdownAsync(domain, command.Deadline - deadlineMargin, cancellationToken),
                DomainOperationKind.Reboot => Act(domain, d => d.Reboot()),
                DomainOperationKind.Pause => Ensure(domain, DomainPowerState.Paused, d => d.Suspend()),
                DomainOperationKind.Resume => Ensure(domain, DomainPowerState.Running, d => d.Resume()),
                _ => DomainOutcome.Fail(Observe(vmId), "UNSUPPORTED", $"operation {command.Kind} is not supported by this agent"),
            };
        }
        catch (LibvirtException ex)
        {
            return DomainOutcome.Fail(Observe(vmId), LibvirtCode(ex), ex.Message);
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            // Whatever goes wrong here, the operation must end with an outcome, not wait for its deadline.
            return DomainOutcome.Fail(Observe(vmId), "AGENT_ERROR", $"the agent could not carry out the operation: {ex.Message}");
        }
    }

    /// <summary>The state of a VM's domain as libvirt has it now; UNKNOWN when it is not defined here.</summary>
    public DomainPowerState Observe(Guid vmId)
    {
        try
        {
            using var domain = hypervisor.Connection.FindDomain(vmId);
            return domain is null ? DomainPowerState.Unknown : PowerStateOf(domain.GetState().State);
        }
        catch (LibvirtException)
        {
            return DomainPowerState.Unknown;
        }
    }

    public static DomainPowerState PowerStateOf(DomainState state) => state switch
    {
        DomainState.Running or DomainState.Blocked or DomainState.Shutdown => DomainPowerState.Running,
        DomainState.Paused or DomainState.PmSuspended => DomainPowerState.Paused,
        DomainState.Shutoff or DomainState.Crashed => DomainPowerState.Stopped,
        _ => DomainPowerState.Unknown,
    };

    /// <summary>libvirt's error number as a stable code, e.g. LIBVIRT_OPERATION_INVALID.</summary>
    public static string LibvirtCode(LibvirtException ex) =>
        "LIBVIRT_" + string.Concat(ex.ErrorCode.ToString().Select((c, i) => i > 0 && char.IsUpper(c) ? "_" + c : c.ToString())).ToUpperInvariant();

    private DomainOutcome Create(RunDomainOperation command, LibvirtDomain? existing)
    {
        if (existing is not null)
        {
            // Defined by an earlier delivery of this same command: finish what it started.
            return AfterCreate(command, existing);
        }

        var spec = command.Domain;
        using var defined = hypervisor.Connection.DefineDomain(DomainXml.Build(new DomainSpec(
            spec.VmId, DomainName(spec.VmId), spec.Name, spec.Vcpus, spec.MemoryMiB, DomainXml.DomainTypeFor(hypervisor.Uri),
            new Dictionary<string, string> { ["vm-id"] = spec.VmId.ToString() })));
        return AfterCreate(command, defined);
    }

    private static DomainOutcome AfterCreate(RunDomainOperation command, LibvirtDomain domain) =>
        command.DesiredPowerState == DomainPowerState.Running
            ? Ensure(domain, DomainPowerState.Running, d => d.Start())
            : new DomainOutcome(true, PowerStateOf(domain.GetState().State));

    private static DomainOutcome Delete(LibvirtDomain? domain)
    {
        if (domain is null)
        {
            return new DomainOutcome(true, DomainPowerState.Unknown);
        }

        var state = PowerStateOf(domain.GetState().State);
        if (state != DomainPowerState.Stopped)
        {
            // The control plane thought it stopped; the host says otherwise. Never delete a live guest.
            return DomainOutcome.Fail(state, "DOMAIN_ACTIVE", $"domain {domain.Name} is {state.ToString().ToLowerInvariant()} on this host; stop it before deleting");
        }

        domain.Undefine();
        return new DomainOutcome(true, DomainPowerState.Unknown);
    }

    private static DomainOutcome Ensure(LibvirtDomain domain, DomainPowerState wanted, Action<LibvirtDomain> act)
    {
        if (PowerStateOf(domain.GetState().State) != wanted)
        {
            act(domain);
        }

        return new DomainOutcome(true, PowerStateOf(domain.GetState().State));
    }

    private static DomainOutcome Act(LibvirtDomain domain, Action<LibvirtDomain> act)
    {
        act(domain);
        return new DomainOutcome(true, PowerStateOf(domain.GetState().State));
    }

    /// <summary>Asks the guest to shut down and waits for it, up to just before the deadline.</summary>
    private async Task<DomainOutcome> ShutdownAsync(LibvirtDomain domain, DateTimeOffset giveUpAt, CancellationToken cancellationToken)
    {
        if (PowerStateOf(domain.GetState().State) == DomainPowerState.Stopped)
        {
            return new DomainOutcome(true, DomainPowerState.Stopped);
        }

        domain.Shutdown();
        while (true)
        {
            var state = PowerStateOf(domain.GetState().State);
            if (state == DomainPowerState.Stopped)
            {
                return new DomainOutcome(true, state);
            }

            if (clock.GetUtcNow() >= giveUpAt)
            {
                return DomainOutcome.Fail(state, "GUEST_SHUTDOWN_TIMEOUT",
                    "the guest did not shut down before the deadline; stop it with force: true to power it off");
            }

            await Task.Delay(TimeSpan.FromMilliseconds(250), clock, cancellationToken);
        }
    }
}
