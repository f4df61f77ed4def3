using Quantixkvm.Domain.Vms;

namespace Quantixkvm.Domain.Tests.Support;

/// <summary>Commands to the fixed VM, issued at <see cref="Fixed.Now"/> by <see cref="Fixed.Actor"/> unless told otherwise.</summary>
internal static class Cmd
{
    public static CreateVm Create(
        string commandId = Fixed.CreateCommandId, string name = Fixed.VmName, int vcpus = Fixed.Vcpus,
        int memoryMiB = Fixed.MemoryMiB, Guid? hostId = null, bool start = false, Guid? vmId = null,
        OperationTimeouts? timeouts = null, IReadOnlyList<DiskRequest>? disks = null, CloudInitConfig? cloudInit = null,
        IReadOnlyList<VmNic>? nics = null) =>
        new(Fixed.Context(commandId), timeouts ?? Fixed.Timeouts, vmId ?? Fixed.VmId, name, vcpus, memoryMiB,
            hostId ?? Fixed.HostId, start, disks, cloudInit, Nics: nics);

    public static StartVm Start(string commandId = "start-1") => new(Fixed.Context(commandId), Fixed.Timeouts);

    public static StopVm Stop(string commandId = "stop-1") => new(Fixed.Context(commandId), Fixed.Timeouts, Force: false);

    public static StopVm ForceStop(string commandId = "force-stop-1") => new(Fixed.Context(commandId), Fixed.Timeouts, Force: true);

    public static RebootVm Reboot(string commandId = "reboot-1") => new(Fixed.Context(commandId), Fixed.Timeouts);

    public static PauseVm Pause(string commandId = "pause-1") => new(Fixed.Context(commandId), Fixed.Timeouts);

    public static ResumeVm Resume(string commandId = "resume-1") => new(Fixed.Context(commandId), Fixed.Timeouts);

    public static DeleteVm Delete(string commandId = "delete-1") => new(Fixed.Context(commandId), Fixed.Timeouts);

    public static AttachDisk Attach(string commandId = "attach-1", Guid? volumeId = null, DiskBus bus = DiskBus.Virtio, int? bootOrder = null) =>
        new(Fixed.Context(commandId), Fixed.Timeouts, new DiskRequest(volumeId ?? Fixed.SpareVolume, bus, bootOrder));

    public static DetachDisk Detach(string commandId = "detach-1", Guid? volumeId = null) =>
        new(Fixed.Context(commandId), Fixed.Timeouts, volumeId ?? Fixed.DataVolume);

    public static AttachNic AttachNic(string commandId = "attach-nic-1", VmNic? nic = null) =>
        new(Fixed.Context(commandId), Fixed.Timeouts, nic ?? Nic.Spare);

    public static DetachNic DetachNic(string commandId = "detach-nic-1", Guid? portId = null) =>
        new(Fixed.Context(commandId), Fixed.Timeouts, portId ?? Nic.Primary.PortId);

    public static CreateSnapshot Snapshot(string commandId = "snapshot-1", string name = "snap-1", string description = Fixed.SnapshotDescription) =>
        new(Fixed.Context(commandId), Fixed.Timeouts, name, description);

    public static RevertSnapshot Revert(string commandId = "revert-1", string name = "snap-1") => new(Fixed.Context(commandId), Fixed.Timeouts, name);

    public static DeleteSnapshot DeleteSnapshot(string commandId = "delete-snapshot-1", string name = "snap-1") =>
        new(Fixed.Context(commandId), Fixed.Timeouts, name);

    /// <summary>The lifecycle command for an operation of this kind (and force).</summary>
    public static VmLifecycleCommand For(OperationKind kind, bool force, string commandId) => kind switch
    {
        OperationKind.Create => Create(commandId),
        OperationKind.Start => Start(commandId),
        OperationKind.Stop => force ? ForceStop(commandId) : Stop(commandId),
        OperationKind.Reboot => Reboot(commandId),
        OperationKind.Pause => Pause(commandId),
        OperationKind.Resume => Resume(commandId),
        OperationKind.Delete => Delete(commandId),
        OperationKind.AttachDisk => Attach(commandId),
        OperationKind.DetachDisk => Detach(commandId),
        OperationKind.CreateSnapshot => Snapshot(commandId),
        OperationKind.RevertSnapshot => Revert(commandId),
        OperationKind.DeleteSnapshot => DeleteSnapshot(commandId),
        OperationKind.AttachNic => AttachNic(commandId),
        OperationKind.DetachNic => DetachNic(commandId),
        _ => throw new ArgumentOutOfRangeException(nameof(kind), kind, "the tests know no command for this kind"),
    };

    // What the host's agent reports, by the command id that started the operation.
    public static MarkOperationStarted MarkStarted(string commandId, DateTimeOffset? now = null) =>
        new(Fixed.Context("agent-started-" + commandId, now), Fixed.OperationId(commandId));

    public static CompleteOperation Complete(string commandId, PowerState observed, DateTimeOffset? now = null) =>
        new(Fixed.Context("agent-done-" + commandId, now), Fixed.OperationId(commandId), observed);

    public static FailOperation Fail(
        string commandId, string errorCode, string errorMessage, PowerState observed, DateTimeOffset? now = null) =>
        new(Fixed.Context("agent-failed-" + commandId, now), Fixed.OperationId(commandId), errorCode, errorMessage, observed);

    public static TimeOutOperation TimeOut(string commandId, DateTimeOffset now) =>
        new(Fixed.Context("deadline-" + commandId, now), Fixed.OperationId(commandId));

    public static ObservePowerState Observe(PowerState observed, string source = "inventory") =>
        new(Fixed.Context("observe-" + observed), observed, source);
}
