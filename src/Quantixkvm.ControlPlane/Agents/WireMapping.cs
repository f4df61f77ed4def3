using Quantixkvm.Contracts;
using Quantixkvm.Domain.Vms;

namespace Quantixkvm.ControlPlane.Agents;

/// <summary>
/// The one translation between the domain's enums and the wire contract's. Explicit and exhaustive,
/// so renaming a member on either side fails here (and in its test), not at runtime on a host.
/// </summary>
public static class WireMapping
{
    public static DomainOperationKind ToWire(this OperationKind kind) => kind switch
    {
        OperationKind.Create => DomainOperationKind.Create,
        OperationKind.Start => DomainOperationKind.Start,
        OperationKind.Stop => DomainOperationKind.Stop,
        OperationKind.Reboot => DomainOperationKind.Reboot,
        OperationKind.Pause => DomainOperationKind.Pause,
        OperationKind.Resume => DomainOperationKind.Resume,
        OperationKind.Delete => DomainOperationKind.Delete,
        _ => throw new ArgumentOutOfRangeException(nameof(kind), kind, "no wire name for this operation kind"),
    };

    public static DomainPowerState ToWire(this PowerState state) => state switch
    {
        PowerState.Stopped => DomainPowerState.Stopped,
        PowerState.Running => DomainPowerState.Running,
        PowerState.Paused => DomainPowerState.Paused,
        PowerState.Unknown => DomainPowerState.Unknown,
        _ => throw new ArgumentOutOfRangeException(nameof(state), state, "no wire name for this power state"),
    };

    public static PowerState ToDomain(this DomainPowerState state) => state switch
    {
        DomainPowerState.Stopped => PowerState.Stopped,
        DomainPowerState.Running => PowerState.Running,
        DomainPowerState.Paused => PowerState.Paused,
        DomainPowerState.Unknown => PowerState.Unknown,
        _ => PowerState.Unknown, // a newer agent's state this control plane does not know yet
    };
}
