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
