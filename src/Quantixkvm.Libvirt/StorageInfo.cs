namespace Quantixkvm.Libvirt;

/// <summary>libvirt's <c>virStoragePoolState</c>.</summary>
public enum StoragePoolState
{
    Inactive = 0,
    Building = 1,
    Running = 2,
    Degraded = 3,
    Inaccessible = 4,
}

/// <summary>libvirt's <c>virStorageVolType</c>.</summary>
public enum StorageVolumeType
{
    File = 0,
    Block = 1,
    Dir = 2,
    Network = 3,
    NetDir = 4,
    Ploop = 5,
}

/// <summary>A storage pool's state and sizes as <c>virStoragePoolGetInfo</c> reports them.</summary>
/// <param name="State">Whether the pool is running.</param>
/// <param name="CapacityBytes">Logical size of the pool.</param>
/// <param name="AllocationBytes">Space the pool's volumes currently take.</param>
/// <param name="AvailableBytes">Space left for new allocations.</param>
public sealed record StoragePoolInfo(StoragePoolState State, long CapacityBytes, long AllocationBytes, long AvailableBytes);

/// <summary>A storage volume's kind and sizes as <c>virStorageVolGetInfo</c> reports them.</summary>
/// <param name="Type">What backs the volume (a file, a block device, a network image …).</param>
/// <param name="CapacityBytes">Size the guest sees.</param>
/// <param name="AllocationBytes">Space actually taken on the host (less than the capacity when thin).</param>
public sealed record StorageVolumeInfo(StorageVolumeType Type, long CapacityBytes, long AllocationBytes);

/// <summary>libvirt's <c>virStorageVolDeleteFlags</c> (libvirt-storage.h), with libvirt's numbers.</summary>
[Flags]
public enum StorageVolumeDeleteFlags : uint
{
    /// <summary>VIR_STORAGE_VOL_DELETE_NORMAL: delete the volume; every pool kind takes it.</summary>
    None = 0,

    /// <summary>VIR_STORAGE_VOL_DELETE_ZEROED: clear the data to zeros first (slow).</summary>
    Zeroed = 1 << 0,

    /// <summary>
    /// VIR_STORAGE_VOL_DELETE_WITH_SNAPSHOTS: remove the volume's snapshots too (rbd pools: also the protected
    /// <c>libvirt-N</c> snapshots that <see cref="LibvirtStoragePool.CreateVolumeFrom"/> clones from, once no clone
    /// depends on them). Pool kinds without volume snapshots (dir) refuse the flag.
    /// </summary>
    WithSnapshots = 1 << 1,
}
