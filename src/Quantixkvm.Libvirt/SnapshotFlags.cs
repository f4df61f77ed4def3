namespace Quantixkvm.Libvirt;

/// <summary>libvirt's <c>virDomainSnapshotCreateFlags</c> (libvirt-domain-snapshot.h), with libvirt's numbers.</summary>
[Flags]
public enum SnapshotCreateFlags : uint
{
    None = 0,

    /// <summary>VIR_DOMAIN_SNAPSHOT_CREATE_DISK_ONLY: external disk snapshots only, no memory.</summary>
    DiskOnly = 1 << 4,

    /// <summary>VIR_DOMAIN_SNAPSHOT_CREATE_ATOMIC: all disks or none, never a partial snapshot.</summary>
    Atomic = 1 << 7,

    /// <summary>VIR_DOMAIN_SNAPSHOT_CREATE_LIVE: keep the guest running while its memory is saved.</summary>
    Live = 1 << 8,
}

/// <summary>libvirt's <c>virDomainSnapshotRevertFlags</c> (libvirt-domain-snapshot.h), with libvirt's numbers.</summary>
[Flags]
public enum SnapshotRevertFlags : uint
{
    None = 0,

    /// <summary>VIR_DOMAIN_SNAPSHOT_REVERT_RUNNING: run the domain after the revert, whatever the snapshot's state.</summary>
    Running = 1 << 0,

    /// <summary>VIR_DOMAIN_SNAPSHOT_REVERT_PAUSED: leave the domain paused after the revert.</summary>
    Paused = 1 << 1,

    /// <summary>VIR_DOMAIN_SNAPSHOT_REVERT_FORCE: allow reverts libvirt considers risky.</summary>
    Force = 1 << 2,
}
