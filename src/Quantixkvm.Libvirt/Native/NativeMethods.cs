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
    internal static partial int virConnectListAllDomains(ConnectionHandle conn, nint** domains, uint flags);

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
