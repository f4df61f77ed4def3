using Quantixkvm.Libvirt.Native;

namespace Quantixkvm.Libvirt;

/// <summary>
/// A libvirt secret (<c>virSecretPtr</c>), e.g. the cephx key that QEMU and the RBD storage backend
/// authenticate with. Each instance owns one libvirt reference, released by <see cref="Dispose"/>
/// (<c>virSecretFree</c>); disposing does not remove the secret, <see cref="Undefine"/> does.
/// </summary>
public sealed unsafe class LibvirtSecret : IDisposable
{
    private readonly SecretHandle handle;

    private LibvirtSecret(SecretHandle handle, Guid uuid)
    {
        this.handle = handle;
        Uuid = uuid;
    }

    /// <summary>The secret's UUID (<c>virSecretGetUUIDString</c>), which pools and disks refer to.</summary>
    public Guid Uuid { get; }

    /// <summary>
    /// Sets the secret's value, e.g. the raw (decoded) bytes of a cephx key (<c>virSecretSetValue</c>).
    /// libvirt copies the bytes; the caller may clear its array afterwards.
    /// </summary>
    public void SetValue(byte[] value)
    {
        ArgumentNullException.ThrowIfNull(value);
        ThrowIfDisposed();
        fixed (byte* bytes = value)
        {
            LibvirtRuntime.Check(
                NativeMethods.virSecretSetValue(handle, bytes, (nuint)value.Length, 0), "virSecretSetValue");
        }
    }

    /// <summary>Removes the secret and its value (<c>virSecretUndefine</c>).</summary>
    public void Undefine()
    {
        ThrowIfDisposed();
        LibvirtRuntime.Check(NativeMethods.virSecretUndefine(handle), "virSecretUndefine");
    }

    /// <summary>Releases this object's libvirt reference (<c>virSecretFree</c>).</summary>
    public void Dispose() => handle.Dispose();

    public override string ToString() => Uuid.ToString();

    /// <summary>Wraps a handle that libvirt just returned; on failure the handle is released.</summary>
    internal static LibvirtSecret Adopt(SecretHandle handle)
    {
        try
        {
            byte* buffer = stackalloc byte[NativeMethods.UuidStringBufferLength];
            LibvirtRuntime.Check(NativeMethods.virSecretGetUUIDString(handle, buffer), "virSecretGetUUIDString");
            return new LibvirtSecret(handle, Guid.Parse(NativeMethods.CopyString(buffer)!));
        }
        catch
        {
            handle.Dispose();
            throw;
        }
    }

    private void ThrowIfDisposed() => ObjectDisposedException.ThrowIf(handle.IsClosed, this);
}
