using System.Text;
using Quantixkvm.Libvirt.Native;

namespace Quantixkvm.Libvirt;

/// <summary>
/// A connection to a libvirt hypervisor driver (<c>virConnectPtr</c>). Like the libvirt connection
/// it wraps, it may be used from several threads at once. Dispose it to close the connection;
/// domains obtained from it keep the underlying libvirt connection alive until they are disposed too.
/// </summary>
public sealed unsafe class LibvirtConnection : IDisposable
{
    private readonly ConnectionHandle handle;

    private LibvirtConnection(string uri, ConnectionHandle handle)
    {
        Uri = uri;
        this.handle = handle;
    }

    /// <summary>The URI the connection was opened with, as given.</summary>
    public string Uri { get; }

    /// <summary>Whether the connection is open and libvirt considers it alive (<c>virConnectIsAlive</c>).</summary>
    public bool IsAlive
    {
        get
        {
            if (handle.IsClosed)
            {
                return false;
            }

            int alive = NativeMethods.virConnectIsAlive(handle);
            if (alive < 0)
            {
                // A property does not throw: an unanswerable connection is simply not alive.
                NativeMethods.virResetLastError();
            }

            return alive == 1;
        }
    }

    /// <summary>Opens a read-write connection (<c>virConnectOpen</c>).</summary>
    /// <exception cref="ArgumentException">The URI is null, empty or white space.</exception>
    /// <exception cref="LibvirtException">libvirt could not open the connection.</exception>
    public static LibvirtConnection Open(string uri)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(uri);
        LibvirtRuntime.EnsureInitialized();
        ConnectionHandle handle = LibvirtRuntime.Check(NativeMethods.virConnectOpen(uri), "virConnectOpen");
        return new LibvirtConnection(uri, handle);
    }

    /// <summary>The host's CPU and memory capacity (<c>virNodeGetInfo</c>).</summary>
    public NodeInfo GetNodeInfo()
    {
        ThrowIfDisposed();
        VirNodeInfo info;
        LibvirtRuntime.Check(NativeMethods.virNodeGetInfo(handle, &info), "virNodeGetInfo");

        var modelBytes = new ReadOnlySpan<byte>(info.Model, 32);
        int end = modelBytes.IndexOf((byte)0);
        string model = Encoding.UTF8.GetString(end >= 0 ? modelBytes[..end] : modelBytes);

        return new NodeInfo(
            model,
            checked((long)info.Memory.Value),
            checked((int)info.Cpus),
            checked((int)info.Mhz),
            checked((int)info.Nodes),
            checked((int)info.Sockets),
            checked((int)info.Cores),
            checked((int)info.Threads));
    }

    /// <summary>The hypervisor host's name (<c>virConnectGetHostname</c>).</summary>
    public string GetHostname()
    {
        ThrowIfDisposed();
        byte* name = NativeMethods.virConnectGetHostname(handle);
        if (name == null)
        {
            throw LibvirtRuntime.TakeLastError("virConnectGetHostname");
        }

        return NativeMethods.TakeString(name)!;
    }

    /// <summary>
    /// The hypervisor's capabilities XML (<c>virConnectGetCapabilities</c>): the host, and per guest
    /// architecture the domain types the driver can run (see <see cref="DomainXml.DomainTypeFromCapabilities"/>).
    /// </summary>
    public string GetCapabilities()
    {
        ThrowIfDisposed();
        byte* xml = NativeMethods.virConnectGetCapabilities(handle);
        if (xml == null)
        {
            throw LibvirtRuntime.TakeLastError("virConnectGetCapabilities");
        }

        return NativeMethods.TakeString(xml)!;
    }

    /// <summary>
    /// The name of the hypervisor driver behind the connection (<c>virConnectGetType</c>), e.g. <c>QEMU</c>, or
    /// <c>TEST</c> for libvirt's test driver; through a daemon it is the daemon's driver.
    /// </summary>
    public string GetDriverType()
    {
        ThrowIfDisposed();
        byte* type = NativeMethods.virConnectGetType(handle);
        if (type == null)
        {
            throw LibvirtRuntime.TakeLastError("virConnectGetType");
        }

        return NativeMethods.CopyString(type)!;
    }

    /// <summary>Whether the driver can migrate a running domain to another host: every driver but libvirt's test driver (<c>TEST</c>).</summary>
    public bool CanMigrateLive() => !string.Equals(GetDriverType(), "TEST", StringComparison.OrdinalIgnoreCase);

    /// <summary>
    /// Defines (or redefines, when the name and UUID match an existing one) a persistent domain
    /// from its XML description (<c>virDomainDefineXML</c>). The domain is not started.
    /// </summary>
    public LibvirtDomain DefineDomain(string domainXml)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(domainXml);
        ThrowIfDisposed();
        DomainHandle domain = LibvirtRuntime.Check(
            NativeMethods.virDomainDefineXML(handle, domainXml), "virDomainDefineXML");
        return LibvirtDomain.Adopt(domain);
    }

    /// <summary>The domain with this UUID, or null when libvirt has none (<c>VIR_ERR_NO_DOMAIN</c>).</summary>
    public LibvirtDomain? FindDomain(Guid uuid)
    {
        ThrowIfDisposed();
        DomainHandle domain = NativeMethods.virDomainLookupByUUIDString(handle, uuid.ToString("D"));
        return AdoptOrNull(domain, "virDomainLookupByUUIDString");
    }

    /// <summary>The domain with this name, or null when libvirt has none (<c>VIR_ERR_NO_DOMAIN</c>).</summary>
    public LibvirtDomain? FindDomainByName(string name)
    {
        ArgumentException.ThrowIfNullOrEmpty(name);
        ThrowIfDisposed();
        DomainHandle domain = NativeMethods.virDomainLookupByName(handle, name);
        return AdoptOrNull(domain, "virDomainLookupByName");
    }

    /// <summary>
    /// Every domain the driver knows, running or merely defined (<c>virConnectListAllDomains</c>
    /// with no filter). The caller owns the returned domains and should dispose them.
    /// </summary>
    public IReadOnlyList<LibvirtDomain> ListAllDomains()
    {
        ThrowIfDisposed();
        nint* array = null;
        int count = NativeMethods.virConnectListAllDomains(handle, &array, 0);
        return LibvirtRuntime.TakeAll(array, count, "virConnectListAllDomains", static domain => new DomainHandle(domain), LibvirtDomain.Adopt);
    }

    /// <summary>
    /// Defines (or redefines, when the name and UUID match an existing one) a persistent storage pool
    /// from its XML description (<c>virStoragePoolDefineXML</c>, see <see cref="StoragePoolXml"/>).
    /// The pool is neither built nor started.
    /// </summary>
    public LibvirtStoragePool DefineStoragePool(string poolXml)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(poolXml);
        ThrowIfDisposed();
        StoragePoolHandle pool = LibvirtRuntime.Check(
            NativeMethods.virStoragePoolDefineXML(handle, poolXml, 0), "virStoragePoolDefineXML");
        return LibvirtStoragePool.Adopt(pool);
    }

    /// <summary>The storage pool with this name, or null when libvirt has none (<c>VIR_ERR_NO_STORAGE_POOL</c>).</summary>
    public LibvirtStoragePool? FindStoragePool(string name)
    {
        ArgumentException.ThrowIfNullOrEmpty(name);
        ThrowIfDisposed();
        StoragePoolHandle? pool = LibvirtRuntime.CheckOrNull(
            NativeMethods.virStoragePoolLookupByName(handle, name),
            "virStoragePoolLookupByName",
            LibvirtErrorCode.NoStoragePool);
        return pool is null ? null : LibvirtStoragePool.Adopt(pool);
    }

    /// <summary>
    /// Every storage pool the driver knows, running or merely defined (<c>virConnectListAllStoragePools</c>
    /// with no filter). The caller owns the returned pools and should dispose them.
    /// </summary>
    public IReadOnlyList<LibvirtStoragePool> ListStoragePools()
    {
        ThrowIfDisposed();
        nint* array = null;
        int count = NativeMethods.virConnectListAllStoragePools(handle, &array, 0);
        return LibvirtRuntime.TakeAll(
            array,
            count,
            "virConnectListAllStoragePools",
            static pool => new StoragePoolHandle(pool),
            LibvirtStoragePool.Adopt);
    }

    /// <summary>
    /// Defines (or redefines, when the UUID matches) a secret from its XML description
    /// (<c>virSecretDefineXML</c>, see <see cref="SecretXml"/>); its value is set separately.
    /// libvirt's test driver has no secrets and fails with <c>VIR_ERR_NO_SUPPORT</c>.
    /// </summary>
    public LibvirtSecret DefineSecret(string secretXml)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(secretXml);
        ThrowIfDisposed();
        SecretHandle secret = LibvirtRuntime.Check(
            NativeMethods.virSecretDefineXML(handle, secretXml, 0), "virSecretDefineXML");
        return LibvirtSecret.Adopt(secret);
    }

    /// <summary>The secret with this UUID, or null when libvirt has none (<c>VIR_ERR_NO_SECRET</c>).</summary>
    public LibvirtSecret? FindSecret(Guid uuid)
    {
        ThrowIfDisposed();
        SecretHandle? secret = LibvirtRuntime.CheckOrNull(
            NativeMethods.virSecretLookupByUUIDString(handle, uuid.ToString("D")),
            "virSecretLookupByUUIDString",
            LibvirtErrorCode.NoSecret);
        return secret is null ? null : LibvirtSecret.Adopt(secret);
    }

    /// <summary>The connection's handle, for calls that take two connections (a migration's target).</summary>
    internal ConnectionHandle Handle
    {
        get
        {
            ThrowIfDisposed();
            return handle;
        }
    }

    /// <summary>Closes the connection (<c>virConnectClose</c>).</summary>
    public void Dispose() => handle.Dispose();

    public override string ToString() => Uri;

    private static LibvirtDomain? AdoptOrNull(DomainHandle domain, string operation)
    {
        if (!domain.IsInvalid)
        {
            return LibvirtDomain.Adopt(domain);
        }

        domain.Dispose();
        LibvirtException error = LibvirtRuntime.TakeLastError(operation);
        if (error is DomainNotFoundException)
        {
            return null;
        }

        throw error;
    }

    private void ThrowIfDisposed() => ObjectDisposedException.ThrowIf(handle.IsClosed, this);
}
