using System.Text;
using Quantixkvm.Libvirt.Native;

namespace Quantixkvm.Libvirt;

/// <summary>
/// How <see cref="LibvirtDomain.MigrateLive"/> moves a running domain. The migration is always live, persistent on
/// the target, undefines the source's definition once it succeeded, and is aborted on an I/O error
/// (<c>VIR_MIGRATE_LIVE | PERSIST_DEST | UNDEFINE_SOURCE | ABORT_ON_ERROR</c>).
/// </summary>
/// <param name="MigrateUri">Where QEMU sends the migration stream (<c>migrate_uri</c>), e.g. from <see cref="TcpUri"/>; null: libvirt's choice (the target's hostname).</param>
/// <param name="ListenAddress">The address the target's QEMU listens on for the stream (<c>listen_address</c>); null: libvirt's default.</param>
/// <param name="BandwidthMiBs">A cap on the stream in MiB/s (<c>bandwidth</c>); null: no cap.</param>
/// <param name="Unsafe">
/// <c>VIR_MIGRATE_UNSAFE</c>: migrate although libvirt cannot tell that the local disks are shared (a file both hosts
/// see at the same path on storage libvirt does not recognise as shared, e.g. two daemons on one machine).
/// </param>
public sealed record MigrationOptions(string? MigrateUri = null, string? ListenAddress = null, long? BandwidthMiBs = null, bool Unsafe = false)
{
    /// <summary>A <c>tcp://</c> migration URI for an address (an IPv6 address is bracketed); libvirt picks the port.</summary>
    public static string TcpUri(string address)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(address);
        return address.Contains(':', StringComparison.Ordinal) && !address.StartsWith('[') ? $"tcp://[{address}]" : $"tcp://{address}";
    }
}

/// <summary>What kind of job a domain runs (<c>virDomainJobType</c>).</summary>
public enum DomainJobType
{
    None = 0,
    Bounded = 1,
    Unbounded = 2,
    Completed = 3,
    Failed = 4,
    Cancelled = 5,
}

/// <summary>
/// A domain's current job as <c>virDomainGetJobInfo</c> reports it: for a migration, the data to move in all (memory
/// and disks), moved so far and still to move, and the time since the job began.
/// </summary>
public sealed record DomainJobInfo(
    DomainJobType Type, TimeSpan Elapsed, long DataTotalBytes, long DataProcessedBytes, long DataRemainingBytes,
    long MemoryTotalBytes, long MemoryProcessedBytes, long MemoryRemainingBytes)
{
    /// <summary>Whether a job is under way (bounded or not).</summary>
    public bool IsActive => Type is DomainJobType.Bounded or DomainJobType.Unbounded;
}

/// <summary>A hand-built <c>virTypedParameter</c> array for one call; frees its strings when disposed.</summary>
internal sealed unsafe class TypedParameters : IDisposable
{
    private readonly List<VirTypedParameter> _parameters = [];
    private readonly List<nint> _strings = [];

    public int Count => _parameters.Count;

    public void AddString(string field, string value)
    {
        var parameter = Named(field, VirTypedParameter.TypeString);
        var bytes = Encoding.UTF8.GetBytes(value);
        var copy = (byte*)System.Runtime.InteropServices.NativeMemory.Alloc((nuint)bytes.Length + 1);
        bytes.CopyTo(new Span<byte>(copy, bytes.Length));
        copy[bytes.Length] = 0;
        _strings.Add((nint)copy);
        parameter.String = copy;
        _parameters.Add(parameter);
    }

    public void AddULongLong(string field, ulong value)
    {
        var parameter = Named(field, VirTypedParameter.TypeULongLong);
        parameter.ULongLong = value;
        _parameters.Add(parameter);
    }

    /// <summary>Calls <paramref name="call"/> with a pinned copy of the array (NULL when empty) and its length.</summary>
    public T With<T>(Func<nint, uint, T> call)
    {
        var array = _parameters.ToArray();
        fixed (VirTypedParameter* first = array)
        {
            return call(array.Length == 0 ? 0 : (nint)first, (uint)array.Length);
        }
    }

    public void Dispose()
    {
        foreach (var pointer in _strings)
        {
            System.Runtime.InteropServices.NativeMemory.Free((void*)pointer);
        }

        _strings.Clear();
    }

    private static VirTypedParameter Named(string field, int type)
    {
        var name = Encoding.ASCII.GetBytes(field);
        if (name.Length >= VirTypedParameter.FieldLength)
        {
            throw new ArgumentException($"typed parameter name '{field}' is too long", nameof(field));
        }

        var parameter = default(VirTypedParameter);
        name.CopyTo(new Span<byte>(parameter.Field, VirTypedParameter.FieldLength));
        parameter.Type = type;
        return parameter;
    }
}
