using System.Runtime.InteropServices;

namespace Quantixkvm.Libvirt.Native;

/// <summary>
/// The libvirt C functions this binding uses, bound with source-generated P/Invoke.
/// Every <c>char*</c> that libvirt hands over (not <c>const char*</c>) is returned as a raw
/// pointer so that the caller can copy it and then release it with <see cref="FreeLibvirtMemory"/>.
/// </summary>
internal static unsafe partial class NativeMethods
{
    internal const string Library = "libvirt.so.0";

    /// <summary>VIR_UUID_STRING_BUFLEN: 36 characters and the terminating NUL.</summary>
    internal const int UuidStringBufferLength = 37;

    // --- library and errors -------------------------------------------------------------

    [LibraryImport(Library)]
    internal static partial int virInitialize();

    [LibraryImport(Library)]
    internal static partial void virSetErrorFunc(nint userData, delegate* unmanaged[Cdecl]<nint, nint, void> handler);

    [LibraryImport(Library)]
    internal static partial VirError* virGetLastError();

    [LibraryImport(Library)]
    internal static partial void virResetLastError();

    // --- connections ----------------------------------------------------------------------

    [LibraryImport(Library, StringMarshalling = StringMarshalling.Utf8)]
    internal static partial ConnectionHandle virConnectOpen(string uri);

    [LibraryImport(Library)]
    internal static partial int virConnectClose(nint conn);

    [LibraryImport(Library)]
    internal static partial int virConnectIsAlive(ConnectionHandle conn);

    [LibraryImport(Library)]
    internal static partial int virNodeGetInfo(ConnectionHandle conn, VirNodeInfo* info);

    [LibraryImport(Library)]
    internal static partial byte* virConnectGetHostname(ConnectionHandle conn);

    [LibraryImport(Library)]
    internal static partial byte* virConnectGetCapabilities(ConnectionHandle conn);

    [LibraryImport(Library)]
    internal static partial int virConnectListAllDomains(ConnectionHandle conn, nint** domains, uint flags);

    /// <summary>Returns a string owned by the connection: never free it.</summary>
    [LibraryImport(Library)]
    internal static partial byte* virConnectGetType(ConnectionHandle conn);

    // --- domains --------------------------------------------------------------------------

    [LibraryImport(Library, StringMarshalling = StringMarshalling.Utf8)]
    internal static partial DomainHandle virDomainDefineXML(ConnectionHandle conn, string xml);

    [LibraryImport(Library, StringMarshalling = StringMarshalling.Utf8)]
    internal static partial DomainHandle virDomainLookupByUUIDString(ConnectionHandle conn, string uuid);

    [LibraryImport(Library, StringMarshalling = StringMarshalling.Utf8)]
    internal static partial DomainHandle virDomainLookupByName(ConnectionHandle conn, string name);

    [LibraryImport(Library)]
    internal static partial int virDomainFree(nint domain);

    [LibraryImport(Library)]
    internal static partial int virDomainGetUUIDString(DomainHandle domain, byte* buffer);

    /// <summary>Returns a pointer owned by the domain object: never free it.</summary>
    [LibraryImport(Library)]
    internal static partial byte* virDomainGetName(DomainHandle domain);

    [LibraryImport(Library)]
    internal static partial int virDomainGetState(DomainHandle domain, int* state, int* reason, uint flags);

    [LibraryImport(Library)]
    internal static partial int virDomainCreate(DomainHandle domain);

    [LibraryImport(Library)]
    internal static partial int virDomainShutdown(DomainHandle domain);

    [LibraryImport(Library)]
    internal static partial int virDomainDestroy(DomainHandle domain);

    [LibraryImport(Library)]
    internal static partial int virDomainReboot(DomainHandle domain, uint flags);

    [LibraryImport(Library)]
    internal static partial int virDomainSuspend(DomainHandle domain);

    [LibraryImport(Library)]
    internal static partial int virDomainResume(DomainHandle domain);

    [LibraryImport(Library)]
    internal static partial int virDomainUndefineFlags(DomainHandle domain, uint flags);

    [LibraryImport(Library)]
    internal static partial int virDomainUndefine(DomainHandle domain);

    [LibraryImport(Library)]
    internal static partial byte* virDomainGetXMLDesc(DomainHandle domain, uint flags);

    [LibraryImport(Library, StringMarshalling = StringMarshalling.Utf8)]
    internal static partial int virDomainSetMetadata(DomainHandle domain, int type, string? metadata, string? key, string uri, uint flags);

    [LibraryImport(Library, StringMarshalling = StringMarshalling.Utf8)]
    internal static partial byte* virDomainGetMetadata(DomainHandle domain, int type, string uri, uint flags);

    [LibraryImport(Library, StringMarshalling = StringMarshalling.Utf8)]
    internal static partial int virDomainAttachDeviceFlags(DomainHandle domain, string xml, uint flags);

    [LibraryImport(Library, StringMarshalling = StringMarshalling.Utf8)]
    internal static partial int virDomainDetachDeviceFlags(DomainHandle domain, string xml, uint flags);

    [LibraryImport(Library, StringMarshalling = StringMarshalling.Utf8)]
    internal static partial int virDomainUpdateDeviceFlags(DomainHandle domain, string xml, uint flags);

    // --- migration and jobs ---------------------------------------------------------------

    [LibraryImport(Library)]
    internal static partial DomainHandle virDomainMigrate3(
        DomainHandle domain, ConnectionHandle destination, VirTypedParameter* parameters, uint count, uint flags);

    [LibraryImport(Library)]
    internal static partial int virDomainGetJobInfo(DomainHandle domain, VirDomainJobInfo* info);

    [LibraryImport(Library)]
    internal static partial int virDomainAbortJob(DomainHandle domain);

    [LibraryImport(Library)]
    internal static partial int virDomainMigrateSetMaxDowntime(DomainHandle domain, ulong downtimeMs, uint flags);

    // --- domain snapshots -----------------------------------------------------------------

    [LibraryImport(Library, StringMarshalling = StringMarshalling.Utf8)]
    internal static partial SnapshotHandle virDomainSnapshotCreateXML(DomainHandle domain, string xml, uint flags);

    [LibraryImport(Library, StringMarshalling = StringMarshalling.Utf8)]
    internal static partial SnapshotHandle virDomainSnapshotLookupByName(DomainHandle domain, string name, uint flags);

    [LibraryImport(Library)]
    internal static partial int virDomainListAllSnapshots(DomainHandle domain, nint** snapshots, uint flags);

    /// <summary>Returns a pointer owned by the snapshot object: never free it.</summary>
    [LibraryImport(Library)]
    internal static partial byte* virDomainSnapshotGetName(SnapshotHandle snapshot);

    [LibraryImport(Library)]
    internal static partial byte* virDomainSnapshotGetXMLDesc(SnapshotHandle snapshot, uint flags);

    [LibraryImport(Library)]
    internal static partial SnapshotHandle virDomainSnapshotGetParent(SnapshotHandle snapshot, uint flags);

    [LibraryImport(Library)]
    internal static partial int virDomainRevertToSnapshot(SnapshotHandle snapshot, uint flags);

    [LibraryImport(Library)]
    internal static partial int virDomainSnapshotDelete(SnapshotHandle snapshot, uint flags);

    [LibraryImport(Library)]
    internal static partial int virDomainSnapshotFree(nint snapshot);

    // --- storage pools --------------------------------------------------------------------

    [LibraryImport(Library, StringMarshalling = StringMarshalling.Utf8)]
    internal static partial StoragePoolHandle virStoragePoolDefineXML(ConnectionHandle conn, string xml, uint flags);

    [LibraryImport(Library, StringMarshalling = StringMarshalling.Utf8)]
    internal static partial StoragePoolHandle virStoragePoolLookupByName(ConnectionHandle conn, string name);

    [LibraryImport(Library)]
    internal static partial int virConnectListAllStoragePools(ConnectionHandle conn, nint** pools, uint flags);

    /// <summary>Returns a pointer owned by the pool object: never free it.</summary>
    [LibraryImport(Library)]
    internal static partial byte* virStoragePoolGetName(StoragePoolHandle pool);

    [LibraryImport(Library)]
    internal static partial int virStoragePoolGetUUIDString(StoragePoolHandle pool, byte* buffer);

    [LibraryImport(Library)]
    internal static partial int virStoragePoolBuild(StoragePoolHandle pool, uint flags);

    [LibraryImport(Library)]
    internal static partial int virStoragePoolCreate(StoragePoolHandle pool, uint flags);

    [LibraryImport(Library)]
    internal static partial int virStoragePoolSetAutostart(StoragePoolHandle pool, int autostart);

    [LibraryImport(Library)]
    internal static partial int virStoragePoolIsActive(StoragePoolHandle pool);

    [LibraryImport(Library)]
    internal static partial int virStoragePoolRefresh(StoragePoolHandle pool, uint flags);

    [LibraryImport(Library)]
    internal static partial int virStoragePoolGetInfo(StoragePoolHandle pool, VirStoragePoolInfo* info);

    [LibraryImport(Library)]
    internal static partial byte* virStoragePoolGetXMLDesc(StoragePoolHandle pool, uint flags);

    [LibraryImport(Library)]
    internal static partial int virStoragePoolDestroy(StoragePoolHandle pool);

    [LibraryImport(Library)]
    internal static partial int virStoragePoolUndefine(StoragePoolHandle pool);

    [LibraryImport(Library)]
    internal static partial int virStoragePoolListAllVolumes(StoragePoolHandle pool, nint** volumes, uint flags);

    [LibraryImport(Library)]
    internal static partial int virStoragePoolFree(nint pool);

    // --- storage volumes ------------------------------------------------------------------

    [LibraryImport(Library, StringMarshalling = StringMarshalling.Utf8)]
    internal static partial StorageVolumeHandle virStorageVolLookupByName(StoragePoolHandle pool, string name);

    [LibraryImport(Library, StringMarshalling = StringMarshalling.Utf8)]
    internal static partial StorageVolumeHandle virStorageVolCreateXML(StoragePoolHandle pool, string xml, uint flags);

    [LibraryImport(Library, StringMarshalling = StringMarshalling.Utf8)]
    internal static partial StorageVolumeHandle virStorageVolCreateXMLFrom(
        StoragePoolHandle pool, string xml, StorageVolumeHandle source, uint flags);

    /// <summary>Returns a pointer owned by the volume object: never free it.</summary>
    [LibraryImport(Library)]
    internal static partial byte* virStorageVolGetName(StorageVolumeHandle volume);

    /// <summary>Returns a pointer owned by the volume object: never free it.</summary>
    [LibraryImport(Library)]
    internal static partial byte* virStorageVolGetKey(StorageVolumeHandle volume);

    /// <summary>Unlike the name and key, the path is allocated for the caller.</summary>
    [LibraryImport(Library)]
    internal static partial byte* virStorageVolGetPath(StorageVolumeHandle volume);

    [LibraryImport(Library)]
    internal static partial int virStorageVolGetInfo(StorageVolumeHandle volume, VirStorageVolInfo* info);

    [LibraryImport(Library)]
    internal static partial byte* virStorageVolGetXMLDesc(StorageVolumeHandle volume, uint flags);

    [LibraryImport(Library)]
    internal static partial int virStorageVolResize(StorageVolumeHandle volume, ulong capacity, uint flags);

    [LibraryImport(Library)]
    internal static partial int virStorageVolDelete(StorageVolumeHandle volume, uint flags);

    [LibraryImport(Library)]
    internal static partial int virStorageVolFree(nint volume);

    // --- secrets --------------------------------------------------------------------------

    [LibraryImport(Library, StringMarshalling = StringMarshalling.Utf8)]
    internal static partial SecretHandle virSecretDefineXML(ConnectionHandle conn, string xml, uint flags);

    [LibraryImport(Library, StringMarshalling = StringMarshalling.Utf8)]
    internal static partial SecretHandle virSecretLookupByUUIDString(ConnectionHandle conn, string uuid);

    [LibraryImport(Library)]
    internal static partial int virSecretGetUUIDString(SecretHandle secret, byte* buffer);

    [LibraryImport(Library)]
    internal static partial int virSecretSetValue(SecretHandle secret, byte* value, nuint size, uint flags);

    [LibraryImport(Library)]
    internal static partial int virSecretUndefine(SecretHandle secret);

    [LibraryImport(Library)]
    internal static partial int virSecretFree(nint secret);

    // --- helpers --------------------------------------------------------------------------

    /// <summary>
    /// Releases memory that libvirt allocated for the caller. libvirt allocates with glib
    /// (<c>g_malloc</c>, which is the C library's <c>malloc</c>), so the C library's <c>free</c>
    /// is the right release; <see cref="NativeMemory.Free"/> is exactly that call on Linux.
    /// </summary>
    internal static void FreeLibvirtMemory(void* pointer)
    {
        if (pointer != null)
        {
            NativeMemory.Free(pointer);
        }
    }

    /// <summary>Copies a NUL-terminated UTF-8 string owned by libvirt and frees it.</summary>
    internal static string? TakeString(byte* pointer)
    {
        if (pointer == null)
        {
            return null;
        }

        try
        {
            return Marshal.PtrToStringUTF8((nint)pointer);
        }
        finally
        {
            FreeLibvirtMemory(pointer);
        }
    }

    /// <summary>Copies a NUL-terminated UTF-8 string that libvirt keeps ownership of.</summary>
    internal static string? CopyString(byte* pointer) =>
        pointer == null ? null : Marshal.PtrToStringUTF8((nint)pointer);
}

/// <summary>Layout of libvirt's <c>struct _virError</c> (virterror.h).</summary>
[StructLayout(LayoutKind.Sequential)]
internal unsafe struct VirError
{
    public int Code;
    public int Domain;
    public byte* Message;
    public int Level;
    public nint Conn;
    public nint Dom;
    public byte* Str1;
    public byte* Str2;
    public byte* Str3;
    public int Int1;
    public int Int2;
    public nint Net;
}

/// <summary>
/// Layout of libvirt's <c>struct _virTypedParameter</c> (libvirt-common.h): an 80-byte field name, the
/// value's type, and the value (a union of 8 bytes, 8-aligned: a string is a <c>char*</c>).
/// </summary>
[StructLayout(LayoutKind.Explicit, Size = 96)]
internal unsafe struct VirTypedParameter
{
    /// <summary>VIR_TYPED_PARAM_FIELD_LENGTH.</summary>
    internal const int FieldLength = 80;

    internal const int TypeULongLong = 4; // VIR_TYPED_PARAM_ULLONG
    internal const int TypeString = 7;    // VIR_TYPED_PARAM_STRING

    [FieldOffset(0)]
    public fixed byte Field[FieldLength];

    [FieldOffset(80)]
    public int Type;

    [FieldOffset(88)]
    public ulong ULongLong;

    [FieldOffset(88)]
    public byte* String;
}

/// <summary>Layout of libvirt's <c>struct _virDomainJobInfo</c> (libvirt-domain.h).</summary>
[StructLayout(LayoutKind.Sequential)]
internal struct VirDomainJobInfo
{
    public int Type;
    public ulong TimeElapsed;
    public ulong TimeRemaining;
    public ulong DataTotal;
    public ulong DataProcessed;
    public ulong DataRemaining;
    public ulong MemTotal;
    public ulong MemProcessed;
    public ulong MemRemaining;
    public ulong FileTotal;
    public ulong FileProcessed;
    public ulong FileRemaining;
}

/// <summary>Layout of libvirt's <c>struct _virNodeInfo</c> (libvirt-host.h).</summary>
[StructLayout(LayoutKind.Sequential)]
internal unsafe struct VirNodeInfo
{
    public fixed byte Model[32];
    public CULong Memory;
    public uint Cpus;
    public uint Mhz;
    public uint Nodes;
    public uint Sockets;
    public uint Cores;
    public uint Threads;
}

/// <summary>Owns a <c>virConnectPtr</c>; released with <c>virConnectClose</c>.</summary>
internal sealed class ConnectionHandle : SafeHandle
{
    public ConnectionHandle()
        : base(invalidHandleValue: 0, ownsHandle: true)
    {
    }

    public override bool IsInvalid => handle == 0;

    protected override bool ReleaseHandle() => NativeMethods.virConnectClose(handle) >= 0;
}

/// <summary>Owns one reference to a <c>virDomainPtr</c>; released with <c>virDomainFree</c>.</summary>
internal sealed class DomainHandle : SafeHandle
{
    public DomainHandle()
        : base(invalidHandleValue: 0, ownsHandle: true)
    {
    }

    internal DomainHandle(nint existing)
        : this()
    {
        SetHandle(existing);
    }

    public override bool IsInvalid => handle == 0;

    protected override bool ReleaseHandle() => NativeMethods.virDomainFree(handle) == 0;
}

/// <summary>Layout of libvirt's <c>struct _virStoragePoolInfo</c> (libvirt-storage.h).</summary>
[StructLayout(LayoutKind.Sequential)]
internal struct VirStoragePoolInfo
{
    public int State;
    public ulong Capacity;
    public ulong Allocation;
    public ulong Available;
}

/// <summary>Layout of libvirt's <c>struct _virStorageVolInfo</c> (libvirt-storage.h).</summary>
[StructLayout(LayoutKind.Sequential)]
internal struct VirStorageVolInfo
{
    public int Type;
    public ulong Capacity;
    public ulong Allocation;
}

/// <summary>Owns one reference to a <c>virDomainSnapshotPtr</c>; released with <c>virDomainSnapshotFree</c>.</summary>
internal sealed class SnapshotHandle : SafeHandle
{
    public SnapshotHandle()
        : base(invalidHandleValue: 0, ownsHandle: true)
    {
    }

    internal SnapshotHandle(nint existing)
        : this()
    {
        SetHandle(existing);
    }

    public override bool IsInvalid => handle == 0;

    protected override bool ReleaseHandle() => NativeMethods.virDomainSnapshotFree(handle) == 0;
}

/// <summary>Owns one reference to a <c>virStoragePoolPtr</c>; released with <c>virStoragePoolFree</c>.</summary>
internal sealed class StoragePoolHandle : SafeHandle
{
    public StoragePoolHandle()
        : base(invalidHandleValue: 0, ownsHandle: true)
    {
    }

    internal StoragePoolHandle(nint existing)
        : this()
    {
        SetHandle(existing);
    }

    public override bool IsInvalid => handle == 0;

    protected override bool ReleaseHandle() => NativeMethods.virStoragePoolFree(handle) == 0;
}

/// <summary>Owns one reference to a <c>virStorageVolPtr</c>; released with <c>virStorageVolFree</c>.</summary>
internal sealed class StorageVolumeHandle : SafeHandle
{
    public StorageVolumeHandle()
        : base(invalidHandleValue: 0, ownsHandle: true)
    {
    }

    internal StorageVolumeHandle(nint existing)
        : this()
    {
        SetHandle(existing);
    }

    public override bool IsInvalid => handle == 0;

    protected override bool ReleaseHandle() => NativeMethods.virStorageVolFree(handle) == 0;
}

/// <summary>Owns one reference to a <c>virSecretPtr</c>; released with <c>virSecretFree</c>.</summary>
internal sealed class SecretHandle : SafeHandle
{
    public SecretHandle()
        : base(invalidHandleValue: 0, ownsHandle: true)
    {
    }

    public override bool IsInvalid => handle == 0;

    protected override bool ReleaseHandle() => NativeMethods.virSecretFree(handle) == 0;
}
