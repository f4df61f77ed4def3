using Quantixkvm.Domain.Vms;

namespace Quantixkvm.Domain.Tests.Support;

/// <summary>Histories of the fixed VM, built from the events themselves.</summary>
internal static class Vm
{
    public static VmCreated Created(DateTimeOffset? at = null) =>
        new(Fixed.VmId, Fixed.VmName, Fixed.Vcpus, Fixed.MemoryMiB, Fixed.HostId, at ?? Fixed.Earlier);

    public static VmOperationRequested Requested(
        OperationKind kind, string commandId, bool force = false, PowerState? desired = null, DateTimeOffset? at = null, long sequence = 0)
    {
        var when = at ?? Fixed.Earlier;
        return new VmOperationRequested(
            Fixed.VmId, Fixed.OperationId(commandId), commandId, kind, force,
            desired ?? VmPreconditions.DesiredAfter(kind, PowerState.Stopped), Fixed.HostId, Fixed.Actor, when,
            when + Fixed.Timeouts.For(kind, force), sequence);
    }

    public static VmOperationStarted Started(string commandId, DateTimeOffset? at = null) =>
        new(Fixed.VmId, Fixed.OperationId(commandId), at ?? Fixed.Earlier);

    public static VmOperationSucceeded Succeeded(string commandId, PowerState observed, DateTimeOffset? at = null) =>
        new(Fixed.VmId, Fixed.OperationId(commandId), observed, at ?? Fixed.Earlier);

    public static VmOperationFailed Failed(
        string commandId, PowerState observed, string code = "VIR_ERR_OPERATION_FAILED", string message = "operation failed",
        DateTimeOffset? at = null) =>
        new(Fixed.VmId, Fixed.OperationId(commandId), code, message, observed, at ?? Fixed.Earlier);

    public static VmOperationTimedOut TimedOut(string commandId, DateTimeOffset? at = null) =>
        new(Fixed.VmId, Fixed.OperationId(commandId), at ?? Fixed.Earlier);

    public static VmPowerStateObserved Observed(PowerState observed, string source = "inventory", DateTimeOffset? at = null) =>
        new(Fixed.VmId, observed, source, at ?? Fixed.Earlier);

    public static VmDeleted Deleted(DateTimeOffset? at = null) => new(Fixed.VmId, at ?? Fixed.Earlier);

    /// <summary>A disk that became the VM's when it was created (so under the create's operation id).</summary>
    public static VmDiskAttached DiskAttached(Guid volumeId, string targetDev, DiskBus bus = DiskBus.Virtio, int? bootOrder = null) =>
        new(Fixed.VmId, Fixed.OperationId(Fixed.CreateCommandId), new VmDisk(volumeId, targetDev, bus, bootOrder, ReadOnly: false), Fixed.Earlier);

    /// <summary>
    /// A whole snapshot operation, requested and succeeded under <paramref name="commandId"/>, with the VM seen in
    /// <paramref name="observed"/> before and after.
    /// </summary>
    public static VmEvent[] SnapshotTaken(string commandId, string name, string? parent, PowerState observed)
    {
        var withMemory = observed is PowerState.Running or PowerState.Paused;
        var operationId = Fixed.OperationId(commandId);
        return
        [
            Requested(OperationKind.CreateSnapshot, commandId),
            new VmSnapshotRequested(Fixed.VmId, operationId, OperationKind.CreateSnapshot, name, Fixed.SnapshotDescription, withMemory),
            Succeeded(commandId, observed),
            new VmSnapshotTaken(Fixed.VmId, operationId, new VmSnapshot(name, parent, Fixed.SnapshotDescription, withMemory, observed, Fixed.Earlier)),
        ];
    }

    /// <summary>A VM whose create is recorded but not yet done: observed UNKNOWN, CREATING.</summary>
    public static VmEvent[] BeingCreated() => [Created(), Requested(OperationKind.Create, Fixed.CreateCommandId)];

    /// <summary>A VM with no operation under way that its host last saw in <paramref name="observed"/>.</summary>
    public static VmEvent[] IdleIn(PowerState observed) =>
        [.. BeingCreated(), Succeeded(Fixed.CreateCommandId, observed)];

    /// <summary>A VM last seen in <paramref name="observed"/> with one operation recorded and not finished.</summary>
    public static VmEvent[] Busy(OperationKind kind, bool force, PowerState observed, string commandId) =>
        kind == OperationKind.Create
            ? BeingCreated()
            : [.. IdleIn(observed), Requested(kind, commandId, force)];

    /// <summary>A VM that was deleted by the command "delete-1".</summary>
    public static VmEvent[] Gone() =>
    [
        .. IdleIn(PowerState.Stopped),
        Requested(OperationKind.Delete, "delete-1"),
        Succeeded("delete-1", PowerState.Stopped),
        Deleted(),
    ];
}
