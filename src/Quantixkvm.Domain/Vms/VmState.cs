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
    /// <summary>The volumes in the VM's definition, in the order they were added.</summary>
    public ImmutableList<VmDisk> Disks { get; init; } = [];

    /// <summary>Disk changes under way, by operation: the disk, and whether it is being attached or detached.</summary>
    public ImmutableDictionary<Guid, (VmDisk Disk, bool Attach)> PendingDisks { get; init; } =
        ImmutableDictionary<Guid, (VmDisk, bool)>.Empty;

    /// <summary>The NICs in the VM's definition, in the order they were added.</summary>
    public ImmutableList<VmNic> Nics { get; init; } = [];

    /// <summary>NIC changes under way, by operation: the NIC, and whether it is being attached or detached.</summary>
    public ImmutableDictionary<Guid, (VmNic Nic, bool Attach)> PendingNics { get; init; } =
        ImmutableDictionary<Guid, (VmNic, bool)>.Empty;

    public ImmutableList<VmSnapshot> Snapshots { get; init; } = [];

    /// <summary>The snapshot the VM's state descends from (libvirt's "current" snapshot): the parent of the next one.</summary>
    public string? CurrentSnapshot { get; init; }

    public ImmutableDictionary<Guid, VmSnapshotRequested> PendingSnapshots { get; init; } =
        ImmutableDictionary<Guid, VmSnapshotRequested>.Empty;

    public bool HasCloudInit { get; init; }

    /// <summary>The number the VM's next operation gets: every operation ever requested stays in <see cref="Operations"/>.</summary>
    public long NextOperationSequence => Operations.Count + 1;

    /// <summary>Operations whose "started" report is recorded (it may come after their outcome).</summary>
    public ImmutableHashSet<Guid> StartedOperations { get; init; } = [];

    /// <summary>The last disk drift recorded: what the host's domain lacks and holds beyond the record; null when none.</summary>
    public VmDiskDriftObserved? DiskDrift { get; init; }

    /// <summary>HA restart order; Medium unless set (as vSphere: every VM of an HA cluster is protected by default).</summary>
    public HaPriority HaPriority { get; init; } = HaPriority.Medium;

    /// <summary>The move under way, if any: set when asked for, cleared when it succeeds or fails.</summary>
    public VmMigrationRequested? PendingMigration { get; init; }

    /// <summary>The last reason HA could not restart the VM; cleared when it moves.</summary>
    public string? RecoveryBlockedReason { get; init; }

    /// <summary>Whether the volume is in the VM's definition or being attached to it.</summary>
    public bool Holds(Guid volumeId) =>
        Disks.Any(d => d.VolumeId == volumeId) || PendingDisks.Values.Any(p => p.Disk.VolumeId == volumeId);

    /// <summary>Whether the port is a NIC in the VM's definition or being attached to it.</summary>
    public bool HoldsPort(Guid portId) =>
        Nics.Any(n => n.PortId == portId) || PendingNics.Values.Any(p => p.Nic.PortId == portId);

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
