namespace Quantixkvm.Domain.Vms;

/// <summary>A VM's power state as a host reports it (or as it was asked for).</summary>
public enum PowerState
{
    Stopped,
    Running,
    Paused,
    Unknown,
}

public enum OperationKind
{
    Create,
    Start,
    Stop,
    Reboot,
    Pause,
    Resume,
    Delete,
    AttachDisk,
    DetachDisk,
    CreateSnapshot,
    RevertSnapshot,
    DeleteSnapshot,

    /// <summary>Live migration, run by the source host.</summary>
    Migrate,

    /// <summary>Define the VM's domain on its (new) host and bring it to the desired state: cold moves, HA restarts.</summary>
    Recover,

    /// <summary>Adds a NIC (a port already allocated on its network): hot-plugged when the VM runs.</summary>
    AttachNic,
    DetachNic,
}

public enum MigrationMode
{
    Live,
    Cold,
}

/// <summary>HA restart order after a host failure; Disabled VMs are left on the failed host.</summary>
public enum HaPriority
{
    Disabled,
    Low,
    Medium,
    High,
}

public enum OperationStatus
{
    /// <summary>Recorded; not yet picked up by the host's agent.</summary>
    Pending,

    /// <summary>The agent has begun to act on the hypervisor.</summary>
    Running,
    Succeeded,
    Failed,
    TimedOut,
}

/// <summary>How long each kind of operation may take before it is declared timed out.</summary>
public sealed record OperationTimeouts(
    TimeSpan Create,
    TimeSpan Start,
    TimeSpan Stop,
    TimeSpan ForceStop,
    TimeSpan Reboot,
    TimeSpan Pause,
    TimeSpan Resume,
    TimeSpan Delete,
    TimeSpan Disk,
    TimeSpan Snapshot)
{
    /// <summary>Graceful shutdown waits on the guest OS, so it gets the longest deadline.</summary>
    public static OperationTimeouts Default { get; } = new(
        Create: TimeSpan.FromMinutes(2),
        Start: TimeSpan.FromMinutes(1),
        Stop: TimeSpan.FromMinutes(3),
        ForceStop: TimeSpan.FromSeconds(30),
        Reboot: TimeSpan.FromMinutes(3),
        Pause: TimeSpan.FromSeconds(30),
        Resume: TimeSpan.FromSeconds(30),
        Delete: TimeSpan.FromMinutes(1),
        Disk: TimeSpan.FromMinutes(1),
        // A snapshot with memory writes the guest's RAM out: minutes for a large guest.
        Snapshot: TimeSpan.FromMinutes(5));

    /// <summary>A live migration copies the guest's memory while it keeps writing to it: minutes for a large, busy guest.</summary>
    public TimeSpan Migrate { get; init; } = TimeSpan.FromMinutes(10);

    public static OperationTimeouts All(TimeSpan timeout) =>
        new(timeout, timeout, timeout, timeout, timeout, timeout, timeout, timeout, timeout, timeout) { Migrate = timeout };

    public TimeSpan For(OperationKind kind, bool force) => kind switch
    {
        OperationKind.Create => Create,
        OperationKind.Start => Start,
        OperationKind.Stop => force ? ForceStop : Stop,
        OperationKind.Reboot => Reboot,
        OperationKind.Pause => Pause,
        OperationKind.Resume => Resume,
        OperationKind.Delete => Delete,
        // A NIC hot-plug is a device change like a disk's: it gets the same deadline.
        OperationKind.AttachDisk or OperationKind.DetachDisk or OperationKind.AttachNic or OperationKind.DetachNic => Disk,
        OperationKind.CreateSnapshot or OperationKind.RevertSnapshot or OperationKind.DeleteSnapshot => Snapshot,
        OperationKind.Migrate => Migrate,
        OperationKind.Recover => Create,
        _ => throw new ArgumentOutOfRangeException(nameof(kind), kind, "unknown operation kind"),
    };
}

public enum DiskBus
{
    Virtio,
    Sata,
    Scsi,
}

/// <summary>
/// A volume in a VM's definition. <c>TargetDev</c> (vda, vdb, …) is chosen by the decider when the disk is
/// added and kept for the disk's life, so the guest sees a stable device name.
/// </summary>
public sealed record VmDisk(Guid VolumeId, string TargetDev, DiskBus Bus, int? BootOrder, bool ReadOnly);

/// <summary>A disk as the client asks for it; the decider gives it its device name.</summary>
public sealed record DiskRequest(Guid VolumeId, DiskBus Bus = DiskBus.Virtio, int? BootOrder = null, bool ReadOnly = false);

public enum NicModel
{
    Virtio,
    E1000,
    Rtl8139,
}

/// <summary>
/// A NIC of a VM: the network port it plugs into (allocated on <c>NetworkId</c> before the NIC is asked for), with that
/// port's MAC and addresses, the device model the guest sees, and whether its link is up.
/// </summary>
public sealed record VmNic(Guid PortId, Guid NetworkId, string Mac, NicModel Model, IReadOnlyList<string> Addresses, bool LinkUp = true);

/// <summary>NoCloud cloud-init data: the agent builds a <c>cidata</c> seed disk from it.</summary>
public sealed record CloudInitConfig(string? UserData, string MetaData, string? NetworkConfig);

/// <summary>
/// One snapshot of a VM: with memory when it was taken while the guest ran, disk-only otherwise.
/// <c>VolumeIds</c> are the disks it holds: reverting brings back exactly those.
/// </summary>
public sealed record VmSnapshot(
    string Name, string? Parent, string Description, bool WithMemory, PowerState PowerState, DateTimeOffset TakenAt,
    IReadOnlyList<Guid>? VolumeIds = null);
