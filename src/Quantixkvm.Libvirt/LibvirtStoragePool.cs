using Quantixkvm.Libvirt.Native;

namespace Quantixkvm.Libvirt;

/// <summary>
/// A libvirt storage pool (<c>virStoragePoolPtr</c>). Each instance owns one libvirt reference,
/// released by <see cref="Dispose"/> (<c>virStoragePoolFree</c>); disposing does not touch the pool
/// itself. Volumes obtained from it are independent objects and must be disposed too.
/// </summary>
public sealed unsafe class LibvirtStoragePool : IDisposable
{
    private readonly StoragePoolHandle handle;

    private LibvirtStoragePool(StoragePoolHandle handle, Guid uuid, string name)
    {
        this.handle = handle;
        Uuid = uuid;
        Name = name;
    }

    /// <summary>The pool's UUID (<c>virStoragePoolGetUUIDString</c>).</summary>
    public Guid Uuid { get; }

    /// <summary>The pool's name (<c>virStoragePoolGetName</c>).</summary>
    public string Name { get; }

    /// <summary>
    /// Whether the pool is running (<c>virStoragePoolIsActive</c>). Unlike a connection's liveness this
    /// asks a question libvirt must be able to answer, so a failure (e.g. the pool was undefined
    /// meanwhile) throws <see cref="LibvirtException"/>.
    /// </summary>
    public bool IsActive
    {
        get
        {
            ThrowIfDisposed();
            int active = NativeMethods.virStoragePoolIsActive(handle);
            LibvirtRuntime.Check(active, "virStoragePoolIsActive");
            return active == 1;
        }
    }

    /// <summary>
    /// Prepares the pool's underlying storage, e.g. creates a dir pool's folder (<c>virStoragePoolBuild</c>).
    /// Needed once before the first <see cref="Start"/> of a pool whose storage does not exist yet.
    /// </summary>
    public void Build() => Run(static pool => NativeMethods.virStoragePoolBuild(pool, 0), "virStoragePoolBuild");

    /// <summary>Starts (activates) the defined pool (<c>virStoragePoolCreate</c>).</summary>
    public void Start() => Run(static pool => NativeMethods.virStoragePoolCreate(pool, 0), "virStoragePoolCreate");

    /// <summary>Whether libvirt starts the pool when the daemon starts (<c>virStoragePoolSetAutostart</c>).</summary>
    public void SetAutostart(bool autostart)
    {
        ThrowIfDisposed();
        LibvirtRuntime.Check(
            NativeMethods.virStoragePoolSetAutostart(handle, autostart ? 1 : 0), "virStoragePoolSetAutostart");
    }

    /// <summary>
    /// Rescans the pool's storage (<c>virStoragePoolRefresh</c>), so that volumes and sizes changed
    /// behind libvirt's back are seen.
    /// </summary>
    public void Refresh() => Run(static pool => NativeMethods.virStoragePoolRefresh(pool, 0), "virStoragePoolRefresh");

    /// <summary>The pool's state, capacity, allocation and free space (<c>virStoragePoolGetInfo</c>).</summary>
    public StoragePoolInfo GetInfo()
    {
        ThrowIfDisposed();
        VirStoragePoolInfo info;
        LibvirtRuntime.Check(NativeMethods.virStoragePoolGetInfo(handle, &info), "virStoragePoolGetInfo");
        return new StoragePoolInfo(
            (StoragePoolState)info.State,
            checked((long)info.Capacity),
            checked((long)info.Allocation),
            checked((long)info.Available));
    }

    /// <summary>The pool's XML description as libvirt reports it (<c>virStoragePoolGetXMLDesc</c>).</summary>
    public string GetXml()
    {
        ThrowIfDisposed();
        byte* xml = NativeMethods.virStoragePoolGetXMLDesc(handle, 0);
        if (xml == null)
        {
            throw LibvirtRuntime.TakeLastError("virStoragePoolGetXMLDesc");
        }

        return NativeMethods.TakeString(xml)!;
    }

    /// <summary>Stops (deactivates) the pool; its data is left alone (<c>virStoragePoolDestroy</c>).</summary>
    public void Destroy() => Run(NativeMethods.virStoragePoolDestroy, "virStoragePoolDestroy");

    /// <summary>Removes the pool's persistent definition; its data is left alone (<c>virStoragePoolUndefine</c>).</summary>
    public void Undefine() => Run(NativeMethods.virStoragePoolUndefine, "virStoragePoolUndefine");

    /// <summary>
    /// Every volume in the running pool (<c>virStoragePoolListAllVolumes</c>). The caller owns the
    /// returned volumes and should dispose them.
    /// </summary>
    public IReadOnlyList<LibvirtStorageVolume> ListVolumes()
    {
        ThrowIfDisposed();
        nint* array = null;
        int count = NativeMethods.virStoragePoolListAllVolumes(handle, &array, 0);
        return LibvirtRuntime.TakeAll(
            array,
            count,
            "virStoragePoolListAllVolumes",
            static volume => new StorageVolumeHandle(volume),
            LibvirtStorageVolume.Adopt);
    }

    /// <summary>The volume with this name, or null when the pool has none (<c>VIR_ERR_NO_STORAGE_VOL</c>).</summary>
    public LibvirtStorageVolume? FindVolume(string name)
    {
        ArgumentException.ThrowIfNullOrEmpty(name);
        ThrowIfDisposed();
        StorageVolumeHandle? volume = LibvirtRuntime.CheckOrNull(
            NativeMethods.virStorageVolLookupByName(handle, name),
            "virStorageVolLookupByName",
            LibvirtErrorCode.NoStorageVol);
        return volume is null ? null : LibvirtStorageVolume.Adopt(volume);
    }

    /// <summary>
    /// Creates a volume from its XML description (<c>virStorageVolCreateXML</c>, see
    /// <see cref="StorageVolumeXml.Build"/>). A name that is taken fails with libvirt's
    /// <c>VIR_ERR_STORAGE_VOL_EXIST</c> or <c>VIR_ERR_OPERATION_FAILED</c>, depending on the driver.
    /// </summary>
    public LibvirtStorageVolume CreateVolume(string volumeXml)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(volumeXml);
        ThrowIfDisposed();
        StorageVolumeHandle volume = LibvirtRuntime.Check(
            NativeMethods.virStorageVolCreateXML(handle, volumeXml, 0), "virStorageVolCreateXML");
        return LibvirtStorageVolume.Adopt(volume);
    }

    /// <summary>
    /// Creates a volume as a full copy of <paramref name="source"/>, which may live in another pool of
    /// the same connection (<c>virStorageVolCreateXMLFrom</c>). The XML gives the new name, and may
    /// change the format and capacity. For a linked clone instead of a copy, create a volume with a
    /// backing store (<see cref="StorageVolumeXml.Build"/>).
    /// </summary>
    public LibvirtStorageVolume CreateVolumeFrom(string volumeXml, LibvirtStorageVolume source)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(volumeXml);
        ArgumentNullException.ThrowIfNull(source);
        ThrowIfDisposed();
        StorageVolumeHandle volume = LibvirtRuntime.Check(
            NativeMethods.virStorageVolCreateXMLFrom(handle, volumeXml, source.Handle, 0),
            "virStorageVolCreateXMLFrom");
        return LibvirtStorageVolume.Adopt(volume);
    }

    /// <summary>Releases this object's libvirt reference (<c>virStoragePoolFree</c>).</summary>
    public void Dispose() => handle.Dispose();

    public override string ToString() => $"{Name} ({Uuid})";

    /// <summary>Wraps a handle that libvirt just returned; on failure the handle is released.</summary>
    internal static LibvirtStoragePool Adopt(StoragePoolHandle handle)
    {
        try
        {
            byte* buffer = stackalloc byte[NativeMethods.UuidStringBufferLength];
            LibvirtRuntime.Check(NativeMethods.virStoragePoolGetUUIDString(handle, buffer), "virStoragePoolGetUUIDString");
            Guid uuid = Guid.Parse(NativeMethods.CopyString(buffer)!);

            byte* name = NativeMethods.virStoragePoolGetName(handle);
            if (name == null)
            {
                throw LibvirtRuntime.TakeLastError("virStoragePoolGetName");
            }

            return new LibvirtStoragePool(handle, uuid, NativeMethods.CopyString(name)!);
        }
        catch
        {
            handle.Dispose();
            throw;
        }
    }

    private void Run(Func<StoragePoolHandle, int> call, string operation)
    {
        ThrowIfDisposed();
        LibvirtRuntime.Check(call(handle), operation);
    }

    private void ThrowIfDisposed() => ObjectDisposedException.ThrowIf(handle.IsClosed, this);
}
