using Quantixkvm.Libvirt.Native;

namespace Quantixkvm.Libvirt;

/// <summary>
/// A libvirt storage volume (<c>virStorageVolPtr</c>): a disk image in a storage pool. Each instance
/// owns one libvirt reference, released by <see cref="Dispose"/> (<c>virStorageVolFree</c>);
/// disposing does not touch the image itself, <see cref="Delete"/> does.
/// </summary>
public sealed unsafe class LibvirtStorageVolume : IDisposable
{
    private readonly StorageVolumeHandle handle;

    private LibvirtStorageVolume(StorageVolumeHandle handle, string name, string key, string path)
    {
        this.handle = handle;
        Name = name;
        Key = key;
        Path = path;
    }

    /// <summary>The volume's name, unique within its pool (<c>virStorageVolGetName</c>).</summary>
    public string Name { get; }

    /// <summary>The volume's key, unique on the host (<c>virStorageVolGetKey</c>; the path for a dir pool).</summary>
    public string Key { get; }

    /// <summary>Where a domain finds the volume (<c>virStorageVolGetPath</c>): a file path, or e.g. <c>pool/image</c> for RBD.</summary>
    public string Path { get; }

    internal StorageVolumeHandle Handle
    {
        get
        {
            ThrowIfDisposed();
            return handle;
        }
    }

    /// <summary>The volume's kind, capacity and allocation (<c>virStorageVolGetInfo</c>).</summary>
    public StorageVolumeInfo GetInfo()
    {
        ThrowIfDisposed();
        VirStorageVolInfo info;
        LibvirtRuntime.Check(NativeMethods.virStorageVolGetInfo(handle, &info), "virStorageVolGetInfo");
        return new StorageVolumeInfo(
            (StorageVolumeType)info.Type,
            checked((long)info.Capacity),
            checked((long)info.Allocation));
    }

    /// <summary>The volume's XML description as libvirt reports it (<c>virStorageVolGetXMLDesc</c>).</summary>
    public string GetXml()
    {
        ThrowIfDisposed();
        byte* xml = NativeMethods.virStorageVolGetXMLDesc(handle, 0);
        if (xml == null)
        {
            throw LibvirtRuntime.TakeLastError("virStorageVolGetXMLDesc");
        }

        return NativeMethods.TakeString(xml)!;
    }

    /// <summary>
    /// Changes the volume's capacity (<c>virStorageVolResize</c>). Without libvirt's shrink flag a
    /// smaller capacity is refused by libvirt, so that no guest data is cut off by accident.
    /// </summary>
    public void Resize(long newCapacityBytes)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(newCapacityBytes);
        ThrowIfDisposed();
        LibvirtRuntime.Check(
            NativeMethods.virStorageVolResize(handle, (ulong)newCapacityBytes, 0), "virStorageVolResize");
    }

    /// <summary>Deletes the volume and its data from the pool (<c>virStorageVolDelete</c>).</summary>
    public void Delete() => Delete(StorageVolumeDeleteFlags.None);

    /// <summary>
    /// Deletes the volume and its data from the pool (<c>virStorageVolDelete</c>) with libvirt's flags, e.g.
    /// <see cref="StorageVolumeDeleteFlags.WithSnapshots"/> for an RBD image that has snapshots (a plain delete of
    /// one fails with a misleading "No such file or directory").
    /// </summary>
    public void Delete(StorageVolumeDeleteFlags flags)
    {
        ThrowIfDisposed();
        LibvirtRuntime.Check(NativeMethods.virStorageVolDelete(handle, (uint)flags), "virStorageVolDelete");
    }

    /// <summary>Releases this object's libvirt reference (<c>virStorageVolFree</c>).</summary>
    public void Dispose() => handle.Dispose();

    public override string ToString() => $"{Name} ({Path})";

    /// <summary>Wraps a handle that libvirt just returned; on failure the handle is released.</summary>
    internal static LibvirtStorageVolume Adopt(StorageVolumeHandle handle)
    {
        try
        {
            byte* name = NativeMethods.virStorageVolGetName(handle);
            if (name == null)
            {
                throw LibvirtRuntime.TakeLastError("virStorageVolGetName");
            }

            byte* key = NativeMethods.virStorageVolGetKey(handle);
            if (key == null)
            {
                throw LibvirtRuntime.TakeLastError("virStorageVolGetKey");
            }

            byte* path = NativeMethods.virStorageVolGetPath(handle);
            if (path == null)
            {
                throw LibvirtRuntime.TakeLastError("virStorageVolGetPath");
            }

            return new LibvirtStorageVolume(
                handle, NativeMethods.CopyString(name)!, NativeMethods.CopyString(key)!, NativeMethods.TakeString(path)!);
        }
        catch
        {
            handle.Dispose();
            throw;
        }
    }

    private void ThrowIfDisposed() => ObjectDisposedException.ThrowIf(handle.IsClosed, this);
}
