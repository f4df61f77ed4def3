namespace Quantixkvm.Libvirt;

/// <summary>
/// What <see cref="DomainXml.Disk"/> needs to describe one disk or CD-ROM drive. The source is a pool
/// volume (<see cref="SourcePool"/> and <see cref="SourceVolume"/>, so libvirt resolves the path), a host
/// file (<see cref="SourceFile"/>) or a Ceph RBD image (<see cref="SourceRbd"/>, a network disk: libvirt 9
/// cannot start a domain whose volume disk is in an rbd pool); a CD-ROM may have none (an empty drive).
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
/// <param name="SourceRbd">A Ceph RBD image QEMU opens itself (a raw network disk), instead of a pool volume or a file.</param>
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
    string? Serial = null,
    RbdDiskSource? SourceRbd = null);

/// <summary>
/// A Ceph RBD image as the source of a network disk (<c>&lt;disk type='network'&gt;&lt;source protocol='rbd'&gt;</c>):
/// QEMU's rbd driver connects to the monitors itself and authenticates as <see cref="AuthUser"/> with the
/// cephx key held in the libvirt secret <see cref="SecretUuid"/> (see <see cref="SecretXml.Ceph"/>).
/// </summary>
/// <param name="CephPool">The Ceph pool holding the image.</param>
/// <param name="Image">The RBD image's name in <paramref name="CephPool"/>.</param>
/// <param name="Monitors">The Ceph monitors, at least one.</param>
/// <param name="AuthUser">The Ceph client id without the <c>client.</c> prefix.</param>
/// <param name="SecretUuid">The libvirt secret (usage type <c>ceph</c>) holding the user's key.</param>
public sealed record RbdDiskSource(
    string CephPool,
    string Image,
    IReadOnlyList<(string Host, int Port)> Monitors,
    string AuthUser,
    Guid SecretUuid)
{
    /// <summary>The image as libvirt and QEMU name it, <c>POOL/IMAGE</c> (the source's <c>name</c>).</summary>
    public string Name => $"{CephPool}/{Image}";
}

/// <summary>A disk as a domain's XML describes it (see <see cref="LibvirtDomain.ListDisks"/>).</summary>
/// <param name="TargetDev">The device name the domain sees, e.g. <c>vdb</c>.</param>
/// <param name="Device"><c>disk</c>, <c>cdrom</c>, or another libvirt disk device kind.</param>
/// <param name="SourcePool">The storage pool, for a volume disk (<c>type='volume'</c>).</param>
/// <param name="SourceVolume">The volume in <paramref name="SourcePool"/>, for a volume disk.</param>
/// <param name="SourceFile">The host file, for a file disk (<c>type='file'</c>).</param>
/// <param name="Serial">The disk's serial number, or null when it has none.</param>
/// <param name="SourceProtocol">The protocol of a network disk (<c>type='network'</c>), e.g. <c>rbd</c>.</param>
/// <param name="SourceName">What a network disk opens, e.g. <c>POOL/IMAGE</c> for RBD.</param>
public sealed record DomainDisk(
    string TargetDev,
    string Device,
    string? SourcePool,
    string? SourceVolume,
    string? SourceFile,
    string? Serial,
    string? SourceProtocol = null,
    string? SourceName = null);
