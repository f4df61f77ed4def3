using System.Collections.Immutable;

namespace Quantixkvm.Domain.Vms;

public enum VmLifecycle
{
    /// <summary>No stream yet.</summary>
    None,
    Active,
    Deleted,
}

/// <summary>The operation under way on a VM; there is at most one (see <see cref="VmPreconditions"/>).</summary>
public sealed record VmOperation(
    Guid OperationId, string CommandId, OperationKind Kind, bool Force, OperationStatus Status, DateTimeOffset Deadline);

/// <summary>
/// What the decider needs of a VM: what was asked (desired), what is under way (current operation)
/// and what the host last reported (observed), kept apart.
/// </summary>
public sealed record VmState(
    Guid VmId,
    VmLifecycle Lifecycle,
    string Name,
    int Vcpus,
    int MemoryMiB,
    Guid HostId,
    PowerState DesiredPowerState,
    PowerState ObservedPowerState,
    VmOperation? CurrentOperation,
    ImmutableDictionary<Guid, (OperationKind Kind, bool Force, OperationStatus Status)> Operations,
    DateTimeOffset? LastHostReportAt = null)
{
    public static VmState Initial { get; } = new(
        Guid.Empty, VmLifecycle.None, "", 0, 0, Guid.Empty, PowerState.Stopped, PowerState.Unknown, null,
        ImmutableDictionary<Guid, (OperationKind, bool, OperationStatus)>.Empty);

    /// <summary>Whether a host reading taken at <paramref name="reportedAt"/> is older than one already applied.</summary>
    public bool IsStale(DateTimeOffset? reportedAt) => reportedAt is { } at && LastHostReportAt is { } last && at <= last;

    internal VmState Reported(DateTimeOffset? reportedAt) =>
        reportedAt is { } at && (LastHostReportAt is null || at > LastHostReportAt) ? this with { LastHostReportAt = at } : this;

    /// <summary>A name for the state in messages: the observed state, or the transition under way.</summary>
    public string Describe() => Lifecycle switch
    {
        VmLifecycle.None => "NONEXISTENT",
        VmLifecycle.Deleted => "DELETED",
        _ when CurrentOperation is { } op => VmPreconditions.TransitionName(op.Kind, op.Force),
        _ => ObservedPowerState.ToString().ToUpperInvariant(),
    };
}
