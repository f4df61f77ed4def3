namespace Quantixkvm.Domain.Vms;

/// <summary>Facts about one VM, in its own stream. Stored names are in <see cref="EventCatalog"/>.</summary>
public abstract record VmEvent(Guid VmId);

public sealed record VmCreated(Guid VmId, string Name, int Vcpus, int MemoryMiB, Guid HostId, DateTimeOffset CreatedAt)
    : VmEvent(VmId);

/// <remarks>
/// <c>Sequence</c> numbers the VM's operations in the order they were requested (1 for its create), so a host can tell
/// a late copy of an operation from one requested after it; 0 in events recorded before it existed.
/// </remarks>
public sealed record VmOperationRequested(
    Guid VmId, Guid OperationId, string CommandId, OperationKind Kind, bool Force, PowerState DesiredPowerState,
    Guid HostId, string Actor, DateTimeOffset RequestedAt, DateTimeOffset Deadline, long Sequence = 0) : VmEvent(VmId);

public sealed record VmOperationStarted(Guid VmId, Guid OperationId, DateTimeOffset StartedAt) : VmEvent(VmId);

/// <summary>The operation finished; <c>HostReportedAt</c> is when the host read the state, by its own clock.</summary>
public sealed record VmOperationSucceeded(
    Guid VmId, Guid OperationId, PowerState ObservedPowerState, DateTimeOffset FinishedAt, DateTimeOffset? HostReportedAt = null)
    : VmEvent(VmId);

public sealed record VmOperationFailed(
    Guid VmId, Guid OperationId, string ErrorCode, string ErrorMessage, PowerState ObservedPowerState, DateTimeOffset FinishedAt,
    DateTimeOffset? HostReportedAt = null)
    : VmEvent(VmId);

public sealed record VmOperationTimedOut(Guid VmId, Guid OperationId, DateTimeOffset FinishedAt) : VmEvent(VmId);

/// <summary>The host reported a power state outside an operation: drift, or a late report after a timeout.</summary>
public sealed record VmPowerStateObserved(
    Guid VmId, PowerState ObservedPowerState, string Source, DateTimeOffset ObservedAt, DateTimeOffset? HostReportedAt = null)
    : VmEvent(VmId);

public sealed record VmDeleted(Guid VmId, DateTimeOffset DeletedAt) : VmEvent(VmId);

/// <summary>A volume became part of the VM's definition (at create, or when an attach succeeded).</summary>
public sealed record VmDiskAttached(Guid VmId, Guid OperationId, VmDisk Disk, DateTimeOffset AttachedAt) : VmEvent(VmId);

/// <summary>An attach was asked for; the volume is reserved for this VM until it is attached or released.</summary>
public sealed record VmDiskAttachRequested(Guid VmId, Guid OperationId, VmDisk Disk) : VmEvent(VmId);

public sealed record VmDiskDetachRequested(Guid VmId, Guid OperationId, Guid VolumeId) : VmEvent(VmId);

/// <summary>The volume is no longer the VM's: detached, its attach failed or timed out, or the VM was deleted.</summary>
public sealed record VmDiskDetached(Guid VmId, Guid OperationId, Guid VolumeId, string Reason, DateTimeOffset DetachedAt) : VmEvent(VmId);

/// <summary>A NIC became part of the VM's definition (at create, or when an attach succeeded).</summary>
public sealed record VmNicAttached(Guid VmId, Guid OperationId, VmNic Nic, DateTimeOffset AttachedAt) : VmEvent(VmId);

/// <summary>A NIC attach was asked for; its port is the VM's until the NIC is attached or released.</summary>
public sealed record VmNicAttachRequested(Guid VmId, Guid OperationId, VmNic Nic) : VmEvent(VmId);

public sealed record VmNicDetachRequested(Guid VmId, Guid OperationId, Guid PortId) : VmEvent(VmId);

/// <summary>The NIC is no longer the VM's: detached, its attach failed or timed out, or the VM was deleted. Its port can be released.</summary>
public sealed record VmNicDetached(Guid VmId, Guid OperationId, Guid PortId, string Reason, DateTimeOffset DetachedAt) : VmEvent(VmId);

public sealed record VmCloudInitConfigured(Guid VmId, string? UserData, string MetaData, string? NetworkConfig) : VmEvent(VmId);

/// <summary>A snapshot operation (create, revert or delete) was asked for; its outcome event says what became of it.</summary>
public sealed record VmSnapshotRequested(Guid VmId, Guid OperationId, OperationKind Kind, string Name, string Description, bool WithMemory)
    : VmEvent(VmId);

public sealed record VmSnapshotTaken(Guid VmId, Guid OperationId, VmSnapshot Snapshot) : VmEvent(VmId);

public sealed record VmSnapshotReverted(Guid VmId, Guid OperationId, string Name, DateTimeOffset RevertedAt) : VmEvent(VmId);

public sealed record VmSnapshotDeleted(Guid VmId, Guid OperationId, string Name, DateTimeOffset DeletedAt) : VmEvent(VmId);

/// <summary>
/// The host's domain does not hold the disks the VM's record says (volumes <c>Missing</c> from it, disks it holds that
/// are <c>Unexpected</c>), or, with both empty, no longer differs. Recorded when the difference changes.
/// </summary>
public sealed record VmDiskDriftObserved(
    Guid VmId, IReadOnlyList<Guid> Missing, IReadOnlyList<string> Unexpected, DateTimeOffset ObservedAt, DateTimeOffset? HostReportedAt = null)
    : VmEvent(VmId);

/// <summary>
/// A move to another host was asked for. <c>MigrationId</c> is the id of its first operation. Live: a running VM moves with
/// its memory (one Migrate operation on the source). Cold: the VM is defined on the target (a Recover operation there);
/// with <c>RestartOnTarget</c> a running VM is first powered off on the source and started on the target.
/// </summary>
public sealed record VmMigrationRequested(
    Guid VmId, Guid MigrationId, Guid FromHostId, Guid ToHostId, MigrationMode Mode, bool RestartOnTarget, string Reason, string Actor,
    DateTimeOffset RequestedAt, long? BandwidthMiBs = null) : VmEvent(VmId);

/// <summary>The VM now belongs to another host without a live migration: a cold move, or a restart by HA after its host was fenced.</summary>
public sealed record VmRelocated(Guid VmId, Guid FromHostId, Guid ToHostId, string Reason, Guid? MigrationId, DateTimeOffset RelocatedAt)
    : VmEvent(VmId);

/// <summary>The migration finished: the VM runs (or is defined) on <c>ToHostId</c> and is gone from <c>FromHostId</c>.</summary>
public sealed record VmMigrated(Guid VmId, Guid MigrationId, Guid FromHostId, Guid ToHostId, DateTimeOffset MigratedAt) : VmEvent(VmId);

/// <summary>The migration failed, timed out or was cancelled; the VM stays where its last event put it.</summary>
public sealed record VmMigrationFailed(Guid VmId, Guid MigrationId, string Reason, DateTimeOffset FailedAt) : VmEvent(VmId);

public sealed record VmMigrationCancelRequested(Guid VmId, Guid MigrationId, string Actor, DateTimeOffset RequestedAt) : VmEvent(VmId);

/// <summary>Whether and in which order HA restarts the VM when its host fails.</summary>
public sealed record VmHaPrioritySet(Guid VmId, HaPriority Priority, DateTimeOffset SetAt) : VmEvent(VmId);

/// <summary>HA could not restart the VM after its host was fenced (no host can take it); retried while the reason lasts.</summary>
public sealed record VmRecoveryBlocked(Guid VmId, Guid FencedHostId, string Reason, DateTimeOffset BlockedAt) : VmEvent(VmId);

/// <summary>Placement chose the VM's host: at its creation, for a migration, or for an HA restart (<c>Purpose</c>), with its reasons.</summary>
public sealed record VmPlaced(Guid VmId, string Purpose, Placement.PlacementRecord Placement, DateTimeOffset PlacedAt) : VmEvent(VmId);
