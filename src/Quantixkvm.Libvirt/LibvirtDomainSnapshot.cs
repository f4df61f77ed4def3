using Quantixkvm.Libvirt.Native;

namespace Quantixkvm.Libvirt;

/// <summary>
/// A snapshot of a domain (<c>virDomainSnapshotPtr</c>). Each instance owns one libvirt reference,
/// released by <see cref="Dispose"/> (<c>virDomainSnapshotFree</c>); disposing does not touch the
/// snapshot itself, <see cref="Delete"/> does. Revert with <see cref="LibvirtDomain.RevertToSnapshot"/>.
/// </summary>
public sealed unsafe class LibvirtDomainSnapshot : IDisposable
{
    private readonly SnapshotHandle handle;

    private LibvirtDomainSnapshot(SnapshotHandle handle, Guid domainUuid, string name)
    {
        this.handle = handle;
        DomainUuid = domainUuid;
        Name = name;
    }

    /// <summary>The snapshot's name, unique per domain (<c>virDomainSnapshotGetName</c>).</summary>
    public string Name { get; }

    /// <summary>The UUID of the domain the snapshot belongs to.</summary>
    public Guid DomainUuid { get; }

    internal SnapshotHandle Handle
    {
        get
        {
            ThrowIfDisposed();
            return handle;
        }
    }

    /// <summary>The snapshot's XML description as libvirt keeps it (<c>virDomainSnapshotGetXMLDesc</c>).</summary>
    public string GetXml()
    {
        ThrowIfDisposed();
        byte* xml = NativeMethods.virDomainSnapshotGetXMLDesc(handle, 0);
        if (xml == null)
        {
            throw LibvirtRuntime.TakeLastError("virDomainSnapshotGetXMLDesc");
        }

        return NativeMethods.TakeString(xml)!;
    }

    /// <summary>
    /// The name of the snapshot this one was taken on top of, or null for a root snapshot
    /// (<c>virDomainSnapshotGetParent</c>, which reports <c>VIR_ERR_NO_DOMAIN_SNAPSHOT</c> then).
    /// </summary>
    public string? GetParentName()
    {
        ThrowIfDisposed();
        using SnapshotHandle? parent = LibvirtRuntime.CheckOrNull(
            NativeMethods.virDomainSnapshotGetParent(handle, 0),
            "virDomainSnapshotGetParent",
            LibvirtErrorCode.NoDomainSnapshot);
        return parent is null ? null : ReadName(parent);
    }

    /// <summary>
    /// Deletes this snapshot; its children are re-parented onto its parent (<c>virDomainSnapshotDelete</c>).
    /// </summary>
    public void Delete()
    {
        ThrowIfDisposed();
        LibvirtRuntime.Check(NativeMethods.virDomainSnapshotDelete(handle, 0), "virDomainSnapshotDelete");
    }

    /// <summary>Releases this object's libvirt reference (<c>virDomainSnapshotFree</c>).</summary>
    public void Dispose() => handle.Dispose();

    public override string ToString() => Name;

    /// <summary>Wraps a handle that libvirt just returned for the domain; on failure the handle is released.</summary>
    internal static LibvirtDomainSnapshot Adopt(SnapshotHandle handle, Guid domainUuid)
    {
        try
        {
            return new LibvirtDomainSnapshot(handle, domainUuid, ReadName(handle));
        }
        catch
        {
            handle.Dispose();
            throw;
        }
    }

    private static string ReadName(SnapshotHandle handle)
    {
        byte* name = NativeMethods.virDomainSnapshotGetName(handle);
        return name == null
            ? throw LibvirtRuntime.TakeLastError("virDomainSnapshotGetName")
            : NativeMethods.CopyString(name)!;
    }

    private void ThrowIfDisposed() => ObjectDisposedException.ThrowIf(handle.IsClosed, this);
}
