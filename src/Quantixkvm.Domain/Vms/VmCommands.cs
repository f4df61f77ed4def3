namespace Quantixkvm.Domain.Vms;

/// <summary>Commands a VM decides. Lifecycle commands come from users; the rest are what host reports turn into.</summary>
public abstract record VmCommand(CommandContext Context);

/// <summary>Commands that start an operation on the VM's host and so carry its deadline policy.</summary>
public abstract record VmLifecycleCommand(CommandContext Context, OperationTimeouts Timeouts) : VmCommand(Context)
{
    public abstract OperationKind Kind { get; }
}

/// <summary>
/// A new VM. <c>Disks</c> are volumes the control plane has checked and reserved for it (see
/// <c>StorageCommands</c>); <c>CloudInit</c>, when set, becomes a NoCloud seed disk built by the agent. <c>Nics</c> are
/// ports the control plane has already added to their networks for this VM.
/// </summary>
public sealed record CreateVm(
    CommandContext Context, OperationTimeouts Timeouts,
    Guid VmId, string Name, int Vcpus, int MemoryMiB, Guid HostId, bool Start,
    IReadOnlyList<DiskRequest>? Disks = null, CloudInitConfig? CloudInit = null, Placement.PlacementRecord? Placement = null,
    IReadOnlyList<VmNic>? Nics = null)
    : VmLifecycleCommand(Context, Timeouts)
{
    public override OperationKind Kind => OperationKind.Create;
}

public sealed record StartVm(CommandContext Context, OperationTimeouts Timeouts) : VmLifecycleCommand(Context, Timeouts)
{
    public override OperationKind Kind => OperationKind.Start;
}

/// <summary>Graceful shutdown through the guest, or with <c>Force</c> an immediate power-off.</summary>
public sealed record StopVm(CommandContext Context, OperationTimeouts Timeouts, bool Force) : VmLifecycleCommand(Context, Timeouts)
{
    public override OperationKind Kind => OperationKind.Stop;
}

public sealed record RebootVm(CommandContext Context, OperationTimeouts Timeouts) : VmLifecycleCommand(Context, Timeouts)
{
    public override OperationKind Kind => OperationKind.Reboot;
}

public sealed record PauseVm(CommandContext Context, OperationTimeouts Timeouts) : VmLifecycleCommand(Context, Timeouts)
{
    public override OperationKind Kind => OperationKind.Pause;
}

public sealed record ResumeVm(CommandContext Context, OperationTimeouts Timeouts) : VmLifecycleCommand(Context, Timeouts)
{
    public override OperationKind Kind => OperationKind.Resume;
}

public sealed record DeleteVm(CommandContext Context, OperationTimeouts Timeouts) : VmLifecycleCommand(Context, Timeouts)
{
    public override OperationKind Kind => OperationKind.Delete;
}

/// <summary>Adds a volume to the VM: hot-plugged when it runs, and kept in its definition either way.</summary>
public sealed record AttachDisk(CommandContext Context, OperationTimeouts Timeouts, DiskRequest Disk) : VmLifecycleCommand(Context, Timeouts)
{
    public override OperationKind Kind => OperationKind.AttachDisk;
}

public sealed record DetachDisk(CommandContext Context, OperationTimeouts Timeouts, Guid VolumeId) : VmLifecycleCommand(Context, Timeouts)
{
    public override OperationKind Kind => OperationKind.DetachDisk;
}

/// <summary>Adds a NIC on a port already added to its network: hot-plugged when the VM runs, and kept in its definition either way.</summary>
public sealed record AttachNic(CommandContext Context, OperationTimeouts Timeouts, VmNic Nic) : VmLifecycleCommand(Context, Timeouts)
{
    public override OperationKind Kind => OperationKind.AttachNic;
}

/// <summary>Removes the NIC on <c>PortId</c>; the control plane then releases the port on its network.</summary>
public sealed record DetachNic(CommandContext Context, OperationTimeouts Timeouts, Guid PortId) : VmLifecycleCommand(Context, Timeouts)
{
    public override OperationKind Kind => OperationKind.DetachNic;
}

/// <summary>A snapshot: with the guest's memory when it runs or is paused, of its disks only when it is stopped.</summary>
public sealed record CreateSnapshot(CommandContext Context, OperationTimeouts Timeouts, string Name, string Description)
    : VmLifecycleCommand(Context, Timeouts)
{
    public override OperationKind Kind => OperationKind.CreateSnapshot;
}

public sealed record RevertSnapshot(CommandContext Context, OperationTimeouts Timeouts, string Name) : VmLifecycleCommand(Context, Timeouts)
{
    public override OperationKind Kind => OperationKind.RevertSnapshot;
}

public sealed record DeleteSnapshot(CommandContext Context, OperationTimeouts Timeouts, string Name) : VmLifecycleCommand(Context, Timeouts)
{
    public override OperationKind Kind => OperationKind.DeleteSnapshot;
}

/// <summary>The host's agent has begun the operation.</summary>
public sealed record MarkOperationStarted(CommandContext Context, Guid OperationId) : VmCommand(Context);

/// <summary>
/// The host's agent finished the operation; <c>Observed</c> is the state it read afterwards, at <c>ReportedAt</c>
/// by the host's clock (orders it against other reports from that host).
/// </summary>
public sealed record CompleteOperation(CommandContext Context, Guid OperationId, PowerState Observed, DateTimeOffset? ReportedAt = null)
    : VmCommand(Context);

/// <summary>The hypervisor refused or failed the operation; the message is the hypervisor's own.</summary>
public sealed record FailOperation(
    CommandContext Context, Guid OperationId, string ErrorCode, string ErrorMessage, PowerState Observed, DateTimeOffset? ReportedAt = null)
    : VmCommand(Context);

/// <summary>Issued by the deadline watcher once <c>Context.Now</c> has passed the operation's deadline.</summary>
public sealed record TimeOutOperation(CommandContext Context, Guid OperationId) : VmCommand(Context);

/// <summary>
/// A state read from the host outside any operation (inventory): drift if it differs. A reading older
/// (by the host's clock) than the last report already applied is stale and changes nothing.
/// </summary>
public sealed record ObservePowerState(CommandContext Context, PowerState Observed, string Source, DateTimeOffset? ReportedAt = null)
    : VmCommand(Context);

/// <summary>
/// The volumes a host's inventory shows in the VM's domain (<c>Present</c>), and disk serials it shows that belong to
/// none of the VM's volumes (<c>Unknown</c>): drift if they differ from the VM's disk list.
/// </summary>
public sealed record ObserveDisks(CommandContext Context, IReadOnlyList<Guid> Present, IReadOnlyList<string> Unknown, DateTimeOffset? ReportedAt = null)
    : VmCommand(Context);

/// <summary>
/// Moves the VM to <c>TargetHostId</c>, which the caller has checked with placement. Live needs the VM running or paused;
/// Cold needs it stopped, or running with <c>RestartOnTarget</c> (powered off here, started there).
/// </summary>
public sealed record MigrateVm(
    CommandContext Context, OperationTimeouts Timeouts, Guid TargetHostId, MigrationMode Mode, bool RestartOnTarget, string Reason,
    Placement.PlacementRecord? Placement = null, long? BandwidthMiBs = null)
    : VmCommand(Context);

/// <summary>Asks the source host to abort a live migration under way; its outcome then reports the cancellation.</summary>
public sealed record CancelMigration(CommandContext Context) : VmCommand(Context);

/// <summary>
/// HA: the VM's host <c>FromHostId</c> has been fenced; define and start the VM on <c>TargetHostId</c>. Decided once: a VM
/// no longer on <c>FromHostId</c> is left alone, so a repeat (or a second coordinator) cannot start it twice.
/// </summary>
public sealed record RecoverVm(
    CommandContext Context, OperationTimeouts Timeouts, Guid FromHostId, Guid TargetHostId, string Reason, Placement.PlacementRecord? Placement = null)
    : VmCommand(Context);

/// <summary>HA found no host for the VM; recorded when the reason is new.</summary>
public sealed record BlockRecovery(CommandContext Context, Guid FencedHostId, string Reason) : VmCommand(Context);

public sealed record SetHaPriority(CommandContext Context, HaPriority Priority) : VmCommand(Context);
