using Quantixkvm.Domain.Vms;

namespace Quantixkvm.Domain.Tests.Support;

/// <summary>
/// What the tests expect of one row of <see cref="VmPreconditions.Table"/>, written out independently of the domain.
/// <c>Setup</c> is what the VM must already have for the command to make sense (a disk to detach, a snapshot to revert
/// to), appended to its history; <c>Details</c> the events the command adds after its operation request, given the
/// operation id and the observed state.
/// </summary>
internal sealed record TableCommand(
    string Name, OperationKind Kind, bool Force, PowerState DesiredAfter, TimeSpan Timeout, Func<string, VmLifecycleCommand> Make,
    VmEvent[]? Setup = null, Func<Guid, PowerState, VmEvent[]>? Details = null)
{
    public VmEvent[] History(VmEvent[] before) => [.. before, .. Setup ?? []];

    public VmEvent[] Expected(Guid operationId, PowerState observed) => Details?.Invoke(operationId, observed) ?? [];
}

internal static class TableCommands
{
    /// <summary>A VM with one disk (the data volume as vda) and one snapshot taken while it was stopped.</summary>
    private static readonly VmEvent[] DiskAndSnapshot =
    [
        Vm.DiskAttached(Fixed.DataVolume, "vda"),
        new VmSnapshotTaken(Fixed.VmId, Fixed.OperationId("snapshot-0"),
            new VmSnapshot("snap-0", null, Fixed.SnapshotDescription, WithMemory: false, PowerState.Stopped, Fixed.Earlier)),
    ];

    private static VmEvent[] SnapshotRequested(Guid operationId, OperationKind kind, string name, bool withMemory) =>
        [new VmSnapshotRequested(Fixed.VmId, operationId, kind, name, Fixed.SnapshotDescription, withMemory)];

    private static bool GuestRuns(PowerState observed) => observed is PowerState.Running or PowerState.Paused;

    // Disk and snapshot operations leave the desired power state as it was: STOPPED in Vm.IdleIn's histories.
    public static TableCommand For(string name) => name switch
    {
        "start" => new(name, OperationKind.Start, false, PowerState.Running, Fixed.Timeouts.Start, id => Cmd.Start(id)),
        "stop" => new(name, OperationKind.Stop, false, PowerState.Stopped, Fixed.Timeouts.Stop, id => Cmd.Stop(id)),
        "stop --force" => new(name, OperationKind.Stop, true, PowerState.Stopped, Fixed.Timeouts.ForceStop, id => Cmd.ForceStop(id)),
        "reboot" => new(name, OperationKind.Reboot, false, PowerState.Running, Fixed.Timeouts.Reboot, id => Cmd.Reboot(id)),
        "pause" => new(name, OperationKind.Pause, false, PowerState.Paused, Fixed.Timeouts.Pause, id => Cmd.Pause(id)),
        "resume" => new(name, OperationKind.Resume, false, PowerState.Running, Fixed.Timeouts.Resume, id => Cmd.Resume(id)),
        "delete" => new(name, OperationKind.Delete, false, PowerState.Stopped, Fixed.Timeouts.Delete, id => Cmd.Delete(id)),
        "attach-disk" => new(name, OperationKind.AttachDisk, false, PowerState.Stopped, Fixed.Timeouts.Disk,
            id => Cmd.Attach(id, Fixed.SpareVolume), DiskAndSnapshot,
            (op, _) => [new VmDiskAttachRequested(Fixed.VmId, op, new VmDisk(Fixed.SpareVolume, "vdb", DiskBus.Virtio, null, false))]),
        "detach-disk" => new(name, OperationKind.DetachDisk, false, PowerState.Stopped, Fixed.Timeouts.Disk,
            id => Cmd.Detach(id, Fixed.DataVolume), DiskAndSnapshot,
            (op, _) => [new VmDiskDetachRequested(Fixed.VmId, op, Fixed.DataVolume)]),
        "create-snapshot" => new(name, OperationKind.CreateSnapshot, false, PowerState.Stopped, Fixed.Timeouts.Snapshot,
            id => Cmd.Snapshot(id, "snap-1"), DiskAndSnapshot,
            (op, observed) => SnapshotRequested(op, OperationKind.CreateSnapshot, "snap-1", GuestRuns(observed))),
        "revert-snapshot" => new(name, OperationKind.RevertSnapshot, false, PowerState.Stopped, Fixed.Timeouts.Snapshot,
            id => Cmd.Revert(id, "snap-0"), DiskAndSnapshot,
            (op, _) => SnapshotRequested(op, OperationKind.RevertSnapshot, "snap-0", withMemory: false)),
        "delete-snapshot" => new(name, OperationKind.DeleteSnapshot, false, PowerState.Stopped, Fixed.Timeouts.Snapshot,
            id => Cmd.DeleteSnapshot(id, "snap-0"), DiskAndSnapshot,
            (op, _) => SnapshotRequested(op, OperationKind.DeleteSnapshot, "snap-0", withMemory: false)),
        "attach-nic" => new(name, OperationKind.AttachNic, false, PowerState.Stopped, Fixed.Timeouts.Disk,
            id => Cmd.AttachNic(id, Nic.Spare), [Nic.Attached(Nic.Primary)],
            (op, _) => [new VmNicAttachRequested(Fixed.VmId, op, Nic.Spare)]),
        "detach-nic" => new(name, OperationKind.DetachNic, false, PowerState.Stopped, Fixed.Timeouts.Disk,
            id => Cmd.DetachNic(id, Nic.Primary.PortId), [Nic.Attached(Nic.Primary)],
            (op, _) => [new VmNicDetachRequested(Fixed.VmId, op, Nic.Primary.PortId)]),
        _ => throw new InvalidOperationException(
            $"VmPreconditions.Table has a row '{name}' the tests do not know: add it to TableCommands"),
    };

    public static IEnumerable<string> Names => VmPreconditions.Table.Select(row => row.Command);

    public static string Upper(PowerState state) => state.ToString().ToUpperInvariant();
}
