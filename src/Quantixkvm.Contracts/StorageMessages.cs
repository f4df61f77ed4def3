namespace Quantixkvm.Contracts;

/// <summary>What the control plane asks an agent to do to a storage pool or a volume. Wire names, apart from the domain's.</summary>
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

/// <summary>
/// A pool as an agent defines it in libvirt (<c>LibvirtName</c>). Dir pools: <c>Path</c>. RBD pools: Ceph pool,
/// monitors and user; the user's key never travels: each agent reads it from its own keyring.
/// </summary>
public sealed record StoragePoolSpecification(
    Guid PoolId, string LibvirtName, string Kind, string? Path, string? CephPool, IReadOnlyList<string>? CephMonitors, string? CephUser)
{
    public static string LibvirtNameFor(Guid poolId) => $"qkvm-pool-{poolId:N}";
}

/// <summary>
/// A volume to make or act on. A clone names its source volume (in the same pool); <c>Linked</c> makes a
/// qcow2 overlay (or an RBD clone) instead of a copy. An import names a URL and the SHA-256 it must match.
/// </summary>
public sealed record VolumeSpecification(
    Guid VolumeId, string Name, string Format, long SizeBytes,
    string? CloneOfName = null, string? CloneOfFormat = null, bool Linked = false, string? ImportUrl = null, string? Sha256 = null);

/// <summary>Control plane → the host's queue. <c>OperationId</c> is the agent's de-duplication key.</summary>
public sealed record RunStorageOperation(
    Guid OperationId,
    string CommandId,
    Guid CorrelationId,
    Guid HostId,
    Guid TargetId,
    StorageOperationKind Kind,
    StoragePoolSpecification Pool,
    VolumeSpecification? Volume,
    string? SnapshotName,
    long? SizeBytes,
    DateTimeOffset Deadline);

public sealed record StorageOperationStarted(
    Guid OperationId, string CommandId, Guid CorrelationId, Guid TargetId, Guid HostId, DateTimeOffset StartedAt);

/// <summary>Agent → control plane: the outcome and libvirt's figures read afterwards (pool: capacity/allocation/available; volume: capacity/allocation/path).</summary>
public sealed record StorageOperationFinished(
    Guid OperationId,
    string CommandId,
    Guid CorrelationId,
    Guid TargetId,
    Guid HostId,
    bool Succeeded,
    string? ErrorCode,
    string? ErrorMessage,
    long? CapacityBytes,
    long? AllocationBytes,
    long? AvailableBytes,
    string? Path,
    DateTimeOffset FinishedAt);

/// <summary>A volume in a domain's definition, with what the agent needs to find (or define) its pool.</summary>
public sealed record DiskAttachment(
    Guid VolumeId, string TargetDev, string Bus, int? BootOrder, bool ReadOnly, StoragePoolSpecification Pool, string VolumeName, string Format)
{
    /// <summary>
    /// The disk serial a volume gets in a domain (and so in the guest): the volume id's first 20 hex digits, the
    /// most virtio-blk and ATA pass on. Inventories report it, so the control plane can tell which volumes a domain holds.
    /// </summary>
    public static string SerialFor(Guid volumeId) => volumeId.ToString("N")[..20];
}

/// <summary>NoCloud data for the <c>cidata</c> seed disk the agent builds.</summary>
public sealed record CloudInitSeed(string? UserData, string MetaData, string? NetworkConfig);

/// <summary>A snapshot to take, revert to or delete; taken with memory when <c>WithMemory</c>.</summary>
public sealed record SnapshotSpecification(string Name, string Description, bool WithMemory);
