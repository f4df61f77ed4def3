namespace Quantixkvm.Libvirt;

/// <summary>What <see cref="DomainXml.Build"/> needs to describe a domain.</summary>
/// <param name="Uuid">The domain's UUID; libvirt identifies the domain by it.</param>
/// <param name="Name">The libvirt domain name (unique per host).</param>
/// <param name="Title">A human-readable title, one line; empty for none.</param>
/// <param name="Vcpus">Number of virtual CPUs.</param>
/// <param name="MemoryMiB">Memory in MiB (both the maximum and the current allocation).</param>
/// <param name="DomainType">libvirt's domain type: <c>test</c>, <c>qemu</c> or <c>kvm</c> (see <see cref="DomainXml.DomainTypeFor(string)"/>).</param>
/// <param name="Metadata">Key/value pairs stored as attributes of the Quantixkvm metadata element; keys must be XML names without a colon.</param>
/// <param name="Disks">The domain's disks and CD-ROM drives; none when null.</param>
/// <param name="SerialLogPath">
/// An absolute host file the serial console writes to (kept after the guest stops, readable without
/// a console client); null for a pseudo-terminal.
/// </param>
public sealed record DomainSpec(
    Guid Uuid,
    string Name,
    string Title,
    int Vcpus,
    int MemoryMiB,
    string DomainType,
    IReadOnlyDictionary<string, string>? Metadata = null,
    IReadOnlyList<DiskSpec>? Disks = null,
    string? SerialLogPath = null,
    IReadOnlyList<NicSpec>? Nics = null);
