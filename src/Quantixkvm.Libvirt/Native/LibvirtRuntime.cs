using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace Quantixkvm.Libvirt.Native;

/// <summary>
/// Process-wide libvirt set-up and the translation of libvirt's thread-local last error
/// into <see cref="LibvirtException"/>.
/// </summary>
internal static unsafe class LibvirtRuntime
{
    private static readonly object Gate = new();
    private static bool initialized;

    /// <summary>
    /// Initialises libvirt once per process and installs a no-op error callback, so that libvirt
    /// does not print its errors to stderr; the errors are still recorded as the thread's last
    /// error and surface as exceptions.
    /// </summary>
    internal static void EnsureInitialized()
    {
        if (Volatile.Read(ref initialized))
        {
            return;
        }

        lock (Gate)
        {
            if (initialized)
            {
                return;
            }

            if (NativeMethods.virInitialize() < 0)
            {
                throw TakeLastError("virInitialize");
            }

            NativeMethods.virSetErrorFunc(0, &IgnoreError);
            Volatile.Write(ref initialized, true);
        }
    }

    [UnmanagedCallersOnly(CallConvs = [typeof(CallConvCdecl)])]
    private static void IgnoreError(nint userData, nint error)
    {
        // Deliberately empty: errors are read back with virGetLastError by the failing call's thread.
    }

    /// <summary>
    /// Reads the calling thread's last libvirt error, resets it and returns it as an exception.
    /// Must be called on the thread that made the failing call, before any other libvirt call.
    /// </summary>
    internal static LibvirtException TakeLastError(string operation)
    {
        VirError* error = NativeMethods.virGetLastError();
        if (error == null || error->Code == (int)LibvirtErrorCode.Ok)
        {
            return new LibvirtException(
                $"{operation} failed without libvirt reporting an error",
                (int)LibvirtErrorCode.InternalError,
                errorDomain: 0,
                operation);
        }

        int code = error->Code;
        int domain = error->Domain;
        string message = NativeMethods.CopyString(error->Message) ?? string.Empty;
        NativeMethods.virResetLastError();

        return code == (int)LibvirtErrorCode.NoDomain
            ? new DomainNotFoundException(message, code, domain, operation)
            : new LibvirtException(message, code, domain, operation);
    }

    /// <summary>Throws the thread's last libvirt error when <paramref name="result"/> is negative.</summary>
    internal static void Check(int result, string operation)
    {
        if (result < 0)
        {
            throw TakeLastError(operation);
        }
    }

    /// <summary>Throws the thread's last libvirt error when the returned handle is NULL.</summary>
    internal static T Check<T>(T handle, string operation)
        where T : SafeHandle
    {
        if (handle.IsInvalid)
        {
            // Read the error before Dispose: releasing an invalid handle calls nothing, but stay safe.
            LibvirtException error = TakeLastError(operation);
            handle.Dispose();
            throw error;
        }

        return handle;
    }

    /// <summary>
    /// The handle, or null when it is NULL because libvirt reported <paramref name="notFound"/>
    /// (an absent object is an answer, not a failure); any other error is thrown.
    /// </summary>
    internal static T? CheckOrNull<T>(T handle, string operation, LibvirtErrorCode notFound)
        where T : SafeHandle
    {
        if (!handle.IsInvalid)
        {
            return handle;
        }

        LibvirtException error = TakeLastError(operation);
        handle.Dispose();
        return error.ErrorCode == notFound ? null : throw error;
    }

    /// <summary>
    /// Wraps every object of a libvirt-allocated array (as <c>virConnectListAll*</c> return them):
    /// every element is owned first, so that none leaks if wrapping one fails, and the array itself
    /// is freed with the C library's free. Throws the thread's last error when <paramref name="count"/>
    /// is negative.
    /// </summary>
    internal static List<TObject> TakeAll<THandle, TObject>(
        nint* array,
        int count,
        string operation,
        Func<nint, THandle> own,
        Func<THandle, TObject> adopt)
        where THandle : SafeHandle
    {
        if (count < 0)
        {
            throw TakeLastError(operation);
        }

        var handles = new THandle[count];
        try
        {
            for (int i = 0; i < count; i++)
            {
                handles[i] = own(array[i]);
            }
        }
        finally
        {
            NativeMethods.FreeLibvirtMemory(array);
        }

        var objects = new List<TObject>(count);
        try
        {
            foreach (THandle handle in handles)
            {
                objects.Add(adopt(handle));
            }
        }
        catch
        {
            foreach (THandle handle in handles)
            {
                handle.Dispose();
            }

            throw;
        }

        return objects;
    }
}
