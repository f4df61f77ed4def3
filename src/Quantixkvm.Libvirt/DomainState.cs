namespace Quantixkvm.Libvirt;

/// <summary>libvirt's <c>virDomainState</c>.</summary>
public enum DomainState
{
    NoState = 0,
    Running = 1,
    Blocked = 2,
    Paused = 3,
    Shutdown = 4,
    Shutoff = 5,
    Crashed = 6,
    PmSuspended = 7,
}

/// <summary>
/// A domain's state and libvirt's reason for it. <see cref="Reason"/> is a value of the
/// state-specific reason enum (e.g. <c>virDomainRunningReason</c> for <see cref="DomainState.Running"/>).
/// </summary>
public readonly record struct DomainStateInfo(DomainState State, int Reason);
