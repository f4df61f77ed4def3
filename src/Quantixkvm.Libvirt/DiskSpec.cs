namespace Quantixkvm.Libvirt;

/// <summary>
/// What <see cref="DomainXml.Disk"/> needs to describe one disk or CD-ROM drive. The source is either a
/// pool volume (<see cref="SourcePool"/> and <see cref="SourceVolume"/>, so libvirt resolves the path
/// and any Ceph authentication) or a host file (<see cref="SourceFile"/>); a CD-ROM may have neither
/// (an empty drive).
/// </summary>
/// <param name="TargetDev">The device name the domain sees, e.g. <c>vda</c> (virtio) or <c>sda</c> (sata, scsi).</param>
/// <param name="Bus"><c>virtio</c>, <c>sata</c> or <c>scsi</c>.</param>
/// <param name="Device"><c>disk</c> or <c>cdrom</c>.</param>
/// <param name="DriverFormat">The image format QEMU opens it as, <c>raw</c> or <c>qcow2</c>; never probed.</param>
/// <param name="SourcePool">The storage pool holding the volume.</param>
/// <param name="SourceVolume">The volume's name in <paramref name="SourcePool"/>.</param>
/// <param name="SourceFile">An absolute host path, instead of a pool volume.</param>
/// <param name="BootOrder">The disk's place in the boot order (1 first); null for a disk not booted from.</param>
/// <param name="ReadOnly">Whether the guest may only read it.</param>
/// <param name="Serial">
/// The serial number the guest sees, so that a guest or inventory can tell disks apart; at most 20
/// characters (what virtio-blk and ATA carry) of letters, digits and <c>_ . + -</c>.
/// </param>
public sealed record DiskSpec(
    string TargetDev,
    string Bus = "virtio",
    string Device = "disk",
    string DriverFormat = "raw",
    string? SourcePool = null,
    string? SourceVolume = null,
    string? SourceFile = null,
    int? BootOrder = null,
    bool ReadOnly = false,
    string? Serial = null);

/// <summary>A disk as a domain's XML describes it (see <see cref="LibvirtDomain.ListDisks"/>).</summary>
/// <param name="TargetDev">The device name the domain sees, e.g. <c>vdb</c>.</param>
/// <param name="Device"><c>disk</c>, <c>cdrom</c>, or another libvirt disk device kind.</param>
/// <param name="SourcePool">The storage pool, for a volume disk (<c>type='volume'</c>).</param>
/// <param name="SourceVolume">The volume in <paramref name="SourcePool"/>, for a volume disk.</param>
/// <param name="SourceFile">The host file, for a file disk (<c>type='file'</c>).</param>
/// <param name="Serial">The disk's serial number, or null when it has none.</param>
public sealed record DomainDisk(
    string TargetDev,
    string Device,
    string? SourcePool,
    string? SourceVolume,
    string? SourceFile,
    string? Serial);
