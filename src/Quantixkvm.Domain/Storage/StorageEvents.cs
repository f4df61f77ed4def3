namespace Quantixkvm.Domain.Storage;

/// <summary>Facts about a storage pool or a volume, each in its own stream (<c>TargetId</c>).</summary>
public abstract record StorageEvent(Guid TargetId);

public sealed record StoragePoolDefined(Guid PoolId, string Name, PoolLocation Location, DateTimeOffset DefinedAt) : StorageEvent(PoolId);

/// <summary>Capacity as a host's libvirt reported it after an operation or a refresh.</summary>
public sealed record StoragePoolCapacityObserved(
    Guid PoolId, Guid HostId, long CapacityBytes, long AllocationBytes, long AvailableBytes, DateTimeOffset ObservedAt) : StorageEvent(PoolId);

public sealed record StoragePoolDeleted(Guid PoolId, DateTimeOffset DeletedAt) : StorageEvent(PoolId);

public sealed record VolumeCreated(
    Guid VolumeId, Guid PoolId, string Name, VolumeFormat Format, long SizeBytes, VolumeSource Source, bool IsImage, DateTimeOffset CreatedAt)
    : StorageEvent(VolumeId);

/// <summary>The size, allocation and path of a volume as its host's libvirt reported them.</summary>
public sealed record VolumeObserved(Guid VolumeId, long CapacityBytes, long AllocationBytes, string? Path, DateTimeOffset ObservedAt)
    : StorageEvent(VolumeId);

public sealed record VolumeSnapshotTaken(Guid VolumeId, string Name, DateTimeOffset TakenAt) : StorageEvent(VolumeId);

public sealed record VolumeReverted(Guid VolumeId, string Name, DateTimeOffset RevertedAt) : StorageEvent(VolumeId);

public sealed record VolumeSnapshotDeleted(Guid VolumeId, string Name, DateTimeOffset DeletedAt) : StorageEvent(VolumeId);

public sealed record VolumeDeleted(Guid VolumeId, DateTimeOffset DeletedAt) : StorageEvent(VolumeId);

/// <summary>
/// One operation on a pool or volume, sent to <c>HostId</c>'s agent. <c>Name</c> is the snapshot for
/// snapshot operations; <c>SizeBytes</c> the new size for a resize.
/// </summary>
public sealed record StorageOperationRequested(
    Guid TargetId, Guid OperationId, string CommandId, StorageOperationKind Kind, Guid HostId, string? Name, long? SizeBytes,
    string Actor, DateTimeOffset RequestedAt, DateTimeOffset Deadline) : StorageEvent(TargetId);

public sealed record StorageOperationStarted(Guid TargetId, Guid OperationId, DateTimeOffset StartedAt) : StorageEvent(TargetId);

public sealed record StorageOperationSucceeded(Guid TargetId, Guid OperationId, DateTimeOffset FinishedAt) : StorageEvent(TargetId);

public sealed record StorageOperationFailed(Guid TargetId, Guid OperationId, string ErrorCode, string ErrorMessage, DateTimeOffset FinishedAt)
    : StorageEvent(TargetId);

public sealed record StorageOperationTimedOut(Guid TargetId, Guid OperationId, DateTimeOffset FinishedAt) : StorageEvent(TargetId);
