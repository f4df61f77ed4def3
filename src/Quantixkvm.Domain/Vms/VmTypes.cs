namespace Quantixkvm.Domain.Vms;

/// <summary>A VM's power state as a host reports it (or as it was asked for).</summary>
public enum PowerState
{
    Stopped,
    Running,
    Paused,
    Unknown,
}

public enum OperationKind
{
    Create,
    Start,
    Stop,
    Reboot,
    Pause,
    Resume,
    Delete,
}

public enum OperationStatus
{
    /// <summary>Recorded; not yet picked up by the host's agent.</summary>
    Pending,

    /// <summary>The agent has begun to act on the hypervisor.</summary>
    Running,
    Succeeded,
    Failed,
    TimedOut,
}

/// <summary>How long each kind of operation may take before it is declared timed out.</summary>
public sealed record OperationTimeouts(
    TimeSpan Create,
    TimeSpan Start,
    TimeSpan Stop,
    TimeSpan ForceStop,
    TimeSpan Reboot,
    TimeSpan Pause,
    TimeSpan Resume,
    TimeSpan Delete)
{
    /// <summary>Graceful shutdown waits on the guest OS, so it gets the longest deadline.</summary>
    public static OperationTimeouts Default { get; } = new(
        Create: TimeSpan.FromMinutes(2),
        Start: TimeSpan.FromMinutes(1),
        Stop: TimeSpan.FromMinutes(3),
        ForceStop: TimeSpan.FromSeconds(30),
        Reboot: TimeSpan.FromMinutes(3),
        Pause: TimeSpan.FromSeconds(30),
        Resume: TimeSpan.FromSeconds(30),
        Delete: TimeSpan.FromMinutes(1));

    public static OperationTimeouts All(TimeSpan timeout) =>
        new(timeout, timeout, timeout, timeout, timeout, timeout, timeout, timeout);

    public TimeSpan For(OperationKind kind, bool force) => kind switch
    {
        OperationKind.Create => Create,
        OperationKind.Start => Start,
        OperationKind.Stop => force ? ForceStop : Stop,
        OperationKind.Reboot => Reboot,
        OperationKind.Pause => Pause,
        OperationKind.Resume => Resume,
        OperationKind.Delete => Delete,
        _ => throw new ArgumentOutOfRangeException(nameof(kind), kind, "unknown operation kind"),
    };
}
