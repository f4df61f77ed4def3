namespace Quantixkvm.Domain.Storage;

/// <summary>
/// Commands on pools and volumes. Facts held by other aggregates (how many volumes a pool has, what a
/// volume is attached to, the pool's free space) are read by the control plane under a lock and passed
/// in, so the decider stays pure. <c>HostId</c> is the agent that will carry the operation out.
/// </summary>
public abstract record StorageCommand(CommandContext Context);

public sealed record CreatePool(CommandContext Context, StorageTimeouts Timeouts, Guid PoolId, string Name, PoolLocation Location, Guid HostId)
    : StorageCommand(Context);

public sealed record RefreshPool(CommandContext Context, StorageTimeouts Timeouts, Guid HostId) : StorageCommand(Context);

public sealed record DeletePool(CommandContext Context, StorageTimeouts Timeouts, Guid HostId, int VolumeCount) : StorageCommand(Context);

public sealed record CreateVolume(
    CommandContext Context, StorageTimeouts Timeouts, Guid VolumeId, Guid PoolId, string Name, VolumeFormat Format, long SizeBytes,
    VolumeSource Source, bool IsImage, Guid HostId, long? PoolAvailableBytes, PoolKind PoolKind = PoolKind.Dir) : StorageCommand(Context);

public sealed record ResizeVolume(CommandContext Context, StorageTimeouts Timeouts, long SizeBytes, Guid HostId, Guid? AttachedTo)
    : StorageCommand(Context);

public sealed record DeleteVolume(CommandContext Context, StorageTimeouts Timeouts, Guid HostId, Guid? AttachedTo, int LinkedClones)
    : StorageCommand(Context);

public sealed record SnapshotVolume(CommandContext Context, StorageTimeouts Timeouts, string Name, Guid HostId, Guid? AttachedTo)
    : StorageCommand(Context);

public sealed record RevertVolume(CommandContext Context, StorageTimeouts Timeouts, string Name, Guid HostId, Guid? AttachedTo)
    : StorageCommand(Context);

public sealed record DeleteVolumeSnapshot(CommandContext Context, StorageTimeouts Timeouts, string Name, Guid HostId, Guid? AttachedTo)
    : StorageCommand(Context);

/// <summary>A pool's capacity as a host's inventory read it, outside any operation.</summary>
public sealed record ObservePoolCapacity(CommandContext Context, Guid HostId, long CapacityBytes, long AllocationBytes, long AvailableBytes)
    : StorageCommand(Context);

/// <summary>Outcome commands: what agents' reports (and the deadline watcher) turn into, for pools and volumes alike.</summary>
public sealed record MarkStorageOperationStarted(CommandContext Context, Guid OperationId) : StorageCommand(Context);

public sealed record CompleteStorageOperation(CommandContext Context, Guid OperationId, Guid HostId, StorageObservation? Observed)
    : StorageCommand(Context);

public sealed record FailStorageOperation(CommandContext Context, Guid OperationId, string ErrorCode, string ErrorMessage) : StorageCommand(Context);

public sealed record TimeOutStorageOperation(CommandContext Context, Guid OperationId) : StorageCommand(Context);
