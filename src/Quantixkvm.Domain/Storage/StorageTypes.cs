namespace Quantixkvm.Domain.Storage;

/// <summary><c>Dir</c>: files (qcow2/raw) in a folder of one host. <c>Rbd</c>: a Ceph pool every host of the cluster sees.</summary>
public enum PoolKind
{
    Dir,
    Rbd,
}

public enum VolumeFormat
{
    Raw,
    Qcow2,
}

/// <summary>What an agent does to a pool or a volume. Each runs as one tracked operation with a deadline.</summary>
public enum StorageOperationKind
{
    CreatePool,
    RefreshPool,
    DeletePool,
    CreateVolume,
    ResizeVolume,
    DeleteVolume,
    SnapshotVolume,
    RevertVolume,
    DeleteVolumeSnapshot,
}

public enum StorageStatus
{
    /// <summary>Asked for; the agent has not yet made it.</summary>
    Creating,
    Ready,

    /// <summary>Its creation failed: it exists only as a record, and can be deleted.</summary>
    Failed,
    Deleted,
}

/// <summary>Where a pool lives. Dir pools name their host and folder; RBD pools their Ceph pool, monitors and user.</summary>
public sealed record PoolLocation(
    PoolKind Kind, Guid? HostId, string? Path, string? CephPool = null, IReadOnlyList<string>? CephMonitors = null, string? CephUser = null);

/// <summary>
/// Where a new volume's content comes from: nothing (blank), another volume (full copy, or a linked
/// clone on top of it), or an image at a URL (http, https or file) checked against its SHA-256.
/// </summary>
public sealed record VolumeSource(Guid? CloneOf = null, bool Linked = false, string? ImportUrl = null, string? Sha256 = null)
{
    public static VolumeSource Blank { get; } = new();
}

/// <summary>What the agent read back after an operation: libvirt's own figures.</summary>
public sealed record StorageObservation(long? CapacityBytes, long? AllocationBytes, long? AvailableBytes, string? Path);

public sealed record StorageTimeouts(TimeSpan Quick, TimeSpan Copy)
{
    /// <summary>Copies and imports move whole images: they get the long deadline.</summary>
    public static StorageTimeouts Default { get; } = new(TimeSpan.FromMinutes(2), TimeSpan.FromMinutes(30));

    public TimeSpan For(StorageOperationKind kind, VolumeSource? source = null) =>
        kind == StorageOperationKind.CreateVolume && source is { CloneOf: not null, Linked: false } or { ImportUrl: not null } ? Copy : Quick;
}
