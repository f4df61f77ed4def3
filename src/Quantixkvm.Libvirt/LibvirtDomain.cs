using Quantixkvm.Libvirt.Native;

namespace Quantixkvm.Libvirt;

/// <summary>
/// A libvirt domain (<c>virDomainPtr</c>). Each instance owns one libvirt reference, released by
/// <see cref="Dispose"/> (<c>virDomainFree</c>); disposing does not touch the virtual machine itself.
/// Operations on a domain that no longer exists throw <see cref="DomainNotFoundException"/>.
/// </summary>
public sealed unsafe class LibvirtDomain : IDisposable
{
    private const uint UndefineManagedSave = 1 << 0;       // VIR_DOMAIN_UNDEFINE_MANAGED_SAVE
    private const uint UndefineSnapshotsMetadata = 1 << 1; // VIR_DOMAIN_UNDEFINE_SNAPSHOTS_METADATA
    private const uint UndefineNvram = 1 << 2;             // VIR_DOMAIN_UNDEFINE_NVRAM

    private static readonly uint[] UndefineAttempts =
    [
        UndefineManagedSave | UndefineSnapshotsMetadata | UndefineNvram,
        UndefineManagedSave | UndefineSnapshotsMetadata,
    ];

    private const uint MigrateLiveFlag = 1 << 0;           // VIR_MIGRATE_LIVE
    private const uint MigratePersistDest = 1 << 3;     // VIR_MIGRATE_PERSIST_DEST
    private const uint MigrateUndefineSource = 1 << 4;  // VIR_MIGRATE_UNDEFINE_SOURCE
    private const uint MigrateUnsafe = 1 << 9;          // VIR_MIGRATE_UNSAFE
    private const uint MigrateAbortOnError = 1 << 12;   // VIR_MIGRATE_ABORT_ON_ERROR

    private const uint AffectLive = 1 << 0;   // VIR_DOMAIN_AFFECT_LIVE
    private const uint AffectConfig = 1 << 1; // VIR_DOMAIN_AFFECT_CONFIG

    private const uint XmlInactive = 1 << 1;  // VIR_DOMAIN_XML_INACTIVE

    private const int MetadataElement = 2;    // VIR_DOMAIN_METADATA_ELEMENT

    private readonly DomainHandle handle;

    private LibvirtDomain(DomainHandle handle, Guid uuid, string name)
    {
        this.handle = handle;
        Uuid = uuid;
        Name = name;
    }

    /// <summary>The domain's UUID (<c>virDomainGetUUIDString</c>).</summary>
    public Guid Uuid { get; }

    /// <summary>The domain's name (<c>virDomainGetName</c>), as it was when this object was obtained.</summary>
    public string Name { get; }

    /// <summary>The domain's current state and the reason for it (<c>virDomainGetState</c>).</summary>
    public DomainStateInfo GetState()
    {
        ThrowIfDisposed();
        int state;
        int reason;
        LibvirtRuntime.Check(NativeMethods.virDomainGetState(handle, &state, &reason, 0), "virDomainGetState");
        return new DomainStateInfo((DomainState)state, reason);
    }

    /// <summary>Boots the defined domain (<c>virDomainCreate</c>).</summary>
    public void Start() => Run(NativeMethods.virDomainCreate, "virDomainCreate");

    /// <summary>
    /// Asks the guest to shut down gracefully (ACPI); returns at once, before the guest has stopped
    /// (<c>virDomainShutdown</c>).
    /// </summary>
    public void Shutdown() => Run(NativeMethods.virDomainShutdown, "virDomainShutdown");

    /// <summary>Powers the domain off at once (<c>virDomainDestroy</c>).</summary>
    public void Destroy() => Run(NativeMethods.virDomainDestroy, "virDomainDestroy");

    /// <summary>Asks the guest to reboot, using the driver's default method (<c>virDomainReboot</c>).</summary>
    public void Reboot() => Run(static domain => NativeMethods.virDomainReboot(domain, 0), "virDomainReboot");

    /// <summary>Pauses the domain's CPUs (<c>virDomainSuspend</c>).</summary>
    public void Suspend() => Run(NativeMethods.virDomainSuspend, "virDomainSuspend");

    /// <summary>Resumes a paused domain (<c>virDomainResume</c>).</summary>
    public void Resume() => Run(NativeMethods.virDomainResume, "virDomainResume");

    /// <summary>
    /// Removes the domain's persistent definition together with its managed save image, snapshot
    /// metadata and NVRAM (<c>virDomainUndefineFlags</c>). A driver that refuses some of those flags
    /// (libvirt's test driver has no NVRAM) is asked again without NVRAM, and then with a plain
    /// <c>virDomainUndefine</c>. A running domain becomes transient and keeps running.
    /// </summary>
    public void Undefine()
    {
        ThrowIfDisposed();
        foreach (uint flags in UndefineAttempts)
        {
            if (NativeMethods.virDomainUndefineFlags(handle, flags) >= 0)
            {
                return;
            }

            LibvirtException error = LibvirtRuntime.TakeLastError("virDomainUndefineFlags");
            if (!IsRefusedFlags(error))
            {
                throw error;
            }
        }

        LibvirtRuntime.Check(NativeMethods.virDomainUndefine(handle), "virDomainUndefine");
    }

    /// <summary>The domain's current XML description (<c>virDomainGetXMLDesc</c>, no flags).</summary>
    public string GetXml() => GetXml(inactive: false);

    /// <summary>
    /// The domain's XML description (<c>virDomainGetXMLDesc</c>): with <paramref name="inactive"/> its persistent
    /// definition (what the next boot uses, <c>VIR_DOMAIN_XML_INACTIVE</c>), else the current one (a running domain's
    /// live configuration).
    /// </summary>
    public string GetXml(bool inactive)
    {
        ThrowIfDisposed();
        byte* xml = NativeMethods.virDomainGetXMLDesc(handle, inactive ? XmlInactive : 0);
        if (xml == null)
        {
            throw LibvirtRuntime.TakeLastError("virDomainGetXMLDesc");
        }

        return NativeMethods.TakeString(xml)!;
    }

    /// <summary>
    /// Stores an element of the caller's own XML namespace in the domain's <c>&lt;metadata&gt;</c>, replacing the one
    /// already there for that namespace, or removes it when <paramref name="elementXml"/> is null
    /// (<c>virDomainSetMetadata</c>, <c>VIR_DOMAIN_METADATA_ELEMENT</c>). With <paramref name="live"/> it goes into the
    /// running domain's configuration, with <paramref name="config"/> into the persistent definition; with neither, into
    /// the domain's current state.
    /// </summary>
    public void SetMetadataElement(string namespaceUri, string prefix, string? elementXml, bool live, bool config)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(namespaceUri);
        ArgumentException.ThrowIfNullOrWhiteSpace(prefix);
        ThrowIfDisposed();
        LibvirtRuntime.Check(
            NativeMethods.virDomainSetMetadata(handle, MetadataElement, elementXml, elementXml is null ? null : prefix, namespaceUri, AffectFlags(live, config)),
            "virDomainSetMetadata");
    }

    /// <summary>
    /// The domain's metadata element of that XML namespace, or null when it has none (<c>virDomainGetMetadata</c>,
    /// <c>VIR_ERR_NO_DOMAIN_METADATA</c>): from the current configuration (a running domain's live one), or with
    /// <paramref name="inactive"/> from the persistent definition.
    /// </summary>
    public string? GetMetadataElement(string namespaceUri, bool inactive = false)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(namespaceUri);
        ThrowIfDisposed();
        byte* xml = NativeMethods.virDomainGetMetadata(handle, MetadataElement, namespaceUri, inactive ? AffectConfig : 0);
        if (xml != null)
        {
            return NativeMethods.TakeString(xml);
        }

        LibvirtException error = LibvirtRuntime.TakeLastError("virDomainGetMetadata");
        return error.ErrorCode == LibvirtErrorCode.NoDomainMetadata ? null : throw error;
    }

    /// <summary>
    /// Adds a device, e.g. a disk from <see cref="DomainXml.Disk"/>, to the running domain
    /// (<paramref name="live"/>), to its persistent definition (<paramref name="config"/>), or both
    /// (<c>virDomainAttachDeviceFlags</c>). With neither, libvirt affects the domain's current state.
    /// libvirt's test driver does not support it (<c>VIR_ERR_NO_SUPPORT</c>).
    /// </summary>
    public void AttachDevice(string deviceXml, bool live, bool config)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(deviceXml);
        ThrowIfDisposed();
        LibvirtRuntime.Check(
            NativeMethods.virDomainAttachDeviceFlags(handle, deviceXml, AffectFlags(live, config)),
            "virDomainAttachDeviceFlags");
    }

    /// <summary>
    /// Removes a device, found by its XML (a disk by its target device), from the running domain,
    /// its persistent definition, or both (<c>virDomainDetachDeviceFlags</c>). A live detach only asks
    /// the guest, which may release the device after this call returns.
    /// </summary>
    public void DetachDevice(string deviceXml, bool live, bool config)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(deviceXml);
        ThrowIfDisposed();
        LibvirtRuntime.Check(
            NativeMethods.virDomainDetachDeviceFlags(handle, deviceXml, AffectFlags(live, config)),
            "virDomainDetachDeviceFlags");
    }

    /// <summary>
    /// The domain's disks as its current XML describes them (the running configuration of a running
    /// domain, else the persistent one): target device, source and serial.
    /// </summary>
    public IReadOnlyList<DomainDisk> ListDisks() => DomainXml.ReadDisks(GetXml());

    /// <summary>
    /// Adds a NIC (<see cref="DomainXml.Interface"/>) to the running domain (<paramref name="live"/>: QEMU hot-plugs it and
    /// libvirt plugs its TAP into the bridge), to its persistent definition (<paramref name="config"/>), or both
    /// (<c>virDomainAttachDeviceFlags</c>). libvirt's test driver does not support it (<c>VIR_ERR_NO_SUPPORT</c>).
    /// </summary>
    /// <exception cref="ArgumentException">The NIC is invalid (see <see cref="DomainXml.Interface"/>).</exception>
    /// <exception cref="InvalidOperationException">
    /// The domain (live, or its definition, as asked) already has a NIC with this MAC: libvirt would add a second one to a
    /// definition, which no detach by MAC could then tell apart.
    /// </exception>
    public void AttachInterface(NicSpec nic, bool live, bool config)
    {
        string xml = DomainXml.Interface(nic);
        string mac = DomainXml.CanonicalMac(nic.Mac, nameof(nic) + "." + nameof(nic.Mac));
        if (live || !config)
        {
            RefuseHeldMac(mac, inactive: false);
        }

        if (config)
        {
            RefuseHeldMac(mac, inactive: true);
        }

        AttachDevice(xml, live, config);
    }

    /// <summary>
    /// Removes the NIC with <paramref name="mac"/> from the running domain, its persistent definition, or both
    /// (<c>virDomainDetachDeviceFlags</c>); libvirt reports a MAC the domain does not hold. A live detach asks the guest
    /// to release the device: it may still be listed for a moment after this call returns.
    /// </summary>
    /// <exception cref="ArgumentException"><paramref name="mac"/> is not a unicast MAC address.</exception>
    public void DetachInterface(string mac, bool live, bool config) =>
        DetachDevice(DomainXml.InterfaceByMac(DomainXml.CanonicalMac(mac, nameof(mac))), live, config);

    /// <summary>
    /// Sets the link of the NIC with <paramref name="mac"/> up or down, as pulling the cable would
    /// (<c>virDomainUpdateDeviceFlags</c>): in the running domain, in its persistent definition, or both. Each is
    /// updated from its own XML, since libvirt accepts no other change to the NIC; libvirt reports a MAC the domain
    /// does not hold.
    /// </summary>
    /// <exception cref="ArgumentException"><paramref name="mac"/> is not a unicast MAC address.</exception>
    public void SetInterfaceLink(string mac, bool up, bool live, bool config)
    {
        string canonical = DomainXml.CanonicalMac(mac, nameof(mac));
        if (live)
        {
            UpdateDevice(DomainXml.InterfaceWithLinkState(GetXml(inactive: false), canonical, up), AffectLive);
        }

        if (config)
        {
            UpdateDevice(DomainXml.InterfaceWithLinkState(GetXml(inactive: true), canonical, up), AffectConfig);
        }

        if (!live && !config)
        {
            // libvirt's "current": the live domain when it runs, else the definition.
            UpdateDevice(DomainXml.InterfaceWithLinkState(GetXml(inactive: false), canonical, up), 0);
        }
    }

    /// <summary>
    /// The domain's NICs as its XML describes them: the current one (the live configuration of a running domain,
    /// with the TAP names libvirt made), or with <paramref name="inactive"/> the persistent definition.
    /// </summary>
    public IReadOnlyList<DomainInterface> ListInterfaces(bool inactive = false) => DomainXml.ReadInterfaces(GetXml(inactive));

    /// <summary>
    /// Takes a snapshot described by <paramref name="snapshotXml"/> (<c>virDomainSnapshotCreateXML</c>,
    /// see <see cref="SnapshotXml.Build"/>). libvirt's test driver refuses
    /// <see cref="SnapshotCreateFlags.DiskOnly"/>.
    /// </summary>
    public LibvirtDomainSnapshot CreateSnapshot(string snapshotXml, SnapshotCreateFlags flags = SnapshotCreateFlags.None)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(snapshotXml);
        ThrowIfDisposed();
        SnapshotHandle snapshot = LibvirtRuntime.Check(
            NativeMethods.virDomainSnapshotCreateXML(handle, snapshotXml, (uint)flags), "virDomainSnapshotCreateXML");
        return LibvirtDomainSnapshot.Adopt(snapshot, Uuid);
    }

    /// <summary>The snapshot with this name, or null when the domain has none (<c>VIR_ERR_NO_DOMAIN_SNAPSHOT</c>).</summary>
    public LibvirtDomainSnapshot? FindSnapshot(string name)
    {
        ArgumentException.ThrowIfNullOrEmpty(name);
        ThrowIfDisposed();
        SnapshotHandle? snapshot = LibvirtRuntime.CheckOrNull(
            NativeMethods.virDomainSnapshotLookupByName(handle, name, 0),
            "virDomainSnapshotLookupByName",
            LibvirtErrorCode.NoDomainSnapshot);
        return snapshot is null ? null : LibvirtDomainSnapshot.Adopt(snapshot, Uuid);
    }

    /// <summary>
    /// Every snapshot of the domain (<c>virDomainListAllSnapshots</c> with no filter). The caller owns
    /// the returned snapshots and should dispose them.
    /// </summary>
    public IReadOnlyList<LibvirtDomainSnapshot> ListSnapshots()
    {
        ThrowIfDisposed();
        nint* array = null;
        int count = NativeMethods.virDomainListAllSnapshots(handle, &array, 0);
        Guid uuid = Uuid;
        return LibvirtRuntime.TakeAll(
            array,
            count,
            "virDomainListAllSnapshots",
            static snapshot => new SnapshotHandle(snapshot),
            snapshot => LibvirtDomainSnapshot.Adopt(snapshot, uuid));
    }

    /// <summary>
    /// Returns the domain to the state of <paramref name="snapshot"/> (<c>virDomainRevertToSnapshot</c>);
    /// without flags it ends up running or shut off as it was when the snapshot was taken.
    /// </summary>
    /// <exception cref="ArgumentException">The snapshot belongs to another domain.</exception>
    public void RevertToSnapshot(LibvirtDomainSnapshot snapshot, SnapshotRevertFlags flags = SnapshotRevertFlags.None)
    {
        ArgumentNullException.ThrowIfNull(snapshot);
        ThrowIfDisposed();
        if (snapshot.DomainUuid != Uuid)
        {
            throw new ArgumentException($"Snapshot '{snapshot.Name}' belongs to another domain than {this}.", nameof(snapshot));
        }

        LibvirtRuntime.Check(
            NativeMethods.virDomainRevertToSnapshot(snapshot.Handle, (uint)flags), "virDomainRevertToSnapshot");
    }

    /// <summary>
    /// Moves the running domain live to <paramref name="target"/>'s host (<c>virDomainMigrate3</c>, managed: this process
    /// talks to both daemons). Blocks until the migration ends; another thread may meanwhile read its progress
    /// (<see cref="GetJobInfo"/>) or abort it (<see cref="AbortJob"/>). On success the domain runs on the target, persistent
    /// there, and its definition here is gone; the returned domain is the target's (the caller disposes it). On failure
    /// (an aborted job included) libvirt's error is thrown and the domain keeps running here.
    /// </summary>
    public LibvirtDomain MigrateLive(LibvirtConnection target, MigrationOptions options)
    {
        ArgumentNullException.ThrowIfNull(target);
        ArgumentNullException.ThrowIfNull(options);
        ThrowIfDisposed();
        using var parameters = new TypedParameters();
        if (options.MigrateUri is { } uri)
        {
            parameters.AddString("migrate_uri", uri);             // VIR_MIGRATE_PARAM_URI
        }

        if (options.ListenAddress is { } listen)
        {
            parameters.AddString("listen_address", listen);       // VIR_MIGRATE_PARAM_LISTEN_ADDRESS
        }

        if (options.BandwidthMiBs is { } bandwidth)
        {
            ArgumentOutOfRangeException.ThrowIfNegativeOrZero(bandwidth, nameof(options));
            parameters.AddULongLong("bandwidth", (ulong)bandwidth); // VIR_MIGRATE_PARAM_BANDWIDTH
        }

        uint flags = MigrateLiveFlag | MigratePersistDest | MigrateUndefineSource | MigrateAbortOnError | (options.Unsafe ? MigrateUnsafe : 0);
        DomainHandle migrated = parameters.With((array, count) =>
            NativeMethods.virDomainMigrate3(handle, target.Handle, (VirTypedParameter*)array, count, flags));
        return Adopt(LibvirtRuntime.Check(migrated, "virDomainMigrate3"));
    }

    /// <summary>
    /// The domain's current job and its progress (<c>virDomainGetJobInfo</c>); <see cref="DomainJobType.None"/> when none runs.
    /// Read while this domain migrates away, it throws <see cref="DomainNotFoundException"/> once the migration has succeeded.
    /// </summary>
    public DomainJobInfo GetJobInfo()
    {
        ThrowIfDisposed();
        VirDomainJobInfo info;
        LibvirtRuntime.Check(NativeMethods.virDomainGetJobInfo(handle, &info), "virDomainGetJobInfo");
        return new DomainJobInfo(
            (DomainJobType)info.Type,
            TimeSpan.FromMilliseconds(info.TimeElapsed),
            Bytes(info.DataTotal),
            Bytes(info.DataProcessed),
            Bytes(info.DataRemaining),
            Bytes(info.MemTotal),
            Bytes(info.MemProcessed),
            Bytes(info.MemRemaining));
    }

    /// <summary>
    /// Aborts the domain's current job, e.g. a migration, which then fails and leaves the domain where it was
    /// (<c>virDomainAbortJob</c>). With no job under way libvirt reports <c>VIR_ERR_OPERATION_INVALID</c>.
    /// </summary>
    public void AbortJob() => Run(NativeMethods.virDomainAbortJob, "virDomainAbortJob");

    /// <summary>
    /// The longest the domain may be paused at the end of a live migration (<c>virDomainMigrateSetMaxDowntime</c>);
    /// QEMU's driver takes it for a running domain, before or during a migration.
    /// </summary>
    public void SetMigrationMaxDowntime(TimeSpan downtime)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(downtime, TimeSpan.FromMilliseconds(1));
        ThrowIfDisposed();
        LibvirtRuntime.Check(
            NativeMethods.virDomainMigrateSetMaxDowntime(handle, (ulong)downtime.TotalMilliseconds, 0), "virDomainMigrateSetMaxDowntime");
    }

    /// <summary>Releases this object's libvirt reference (<c>virDomainFree</c>).</summary>
    public void Dispose() => handle.Dispose();

    public override string ToString() => $"{Name} ({Uuid})";

    /// <summary>Wraps a handle that libvirt just returned; on failure the handle is released.</summary>
    internal static LibvirtDomain Adopt(DomainHandle handle)
    {
        try
        {
            byte* buffer = stackalloc byte[NativeMethods.UuidStringBufferLength];
            LibvirtRuntime.Check(NativeMethods.virDomainGetUUIDString(handle, buffer), "virDomainGetUUIDString");
            Guid uuid = Guid.Parse(NativeMethods.CopyString(buffer)!);

            byte* name = NativeMethods.virDomainGetName(handle);
            if (name == null)
            {
                throw LibvirtRuntime.TakeLastError("virDomainGetName");
            }

            return new LibvirtDomain(handle, uuid, NativeMethods.CopyString(name)!);
        }
        catch
        {
            handle.Dispose();
            throw;
        }
    }

    private void RefuseHeldMac(string mac, bool inactive)
    {
        if (ListInterfaces(inactive).Any(held => held.Mac == mac))
        {
            throw new InvalidOperationException(
                $"Domain {this} already has a NIC with MAC {mac}{(inactive ? " in its definition" : "")}.");
        }
    }

    private void UpdateDevice(string deviceXml, uint flags)
    {
        ThrowIfDisposed();
        LibvirtRuntime.Check(NativeMethods.virDomainUpdateDeviceFlags(handle, deviceXml, flags), "virDomainUpdateDeviceFlags");
    }

    private static long Bytes(ulong value) => value > long.MaxValue ? long.MaxValue : (long)value;

    private static uint AffectFlags(bool live, bool config) =>
        (live ? AffectLive : 0) | (config ? AffectConfig : 0);

    private static bool IsRefusedFlags(LibvirtException error) =>
        error.ErrorCode is LibvirtErrorCode.NoSupport
            or LibvirtErrorCode.InvalidArg
            or LibvirtErrorCode.ArgumentUnsupported;

    private void Run(Func<DomainHandle, int> call, string operation)
    {
        ThrowIfDisposed();
        LibvirtRuntime.Check(call(handle), operation);
    }

    private void ThrowIfDisposed() => ObjectDisposedException.ThrowIf(handle.IsClosed, this);
}
