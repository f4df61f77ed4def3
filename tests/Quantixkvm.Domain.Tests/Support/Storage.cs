using Quantixkvm.Domain.Storage;
using Quantixkvm.Domain.Vms;

namespace Quantixkvm.Domain.Tests.Support;

/// <summary>The fixed pool and volume of the storage tests, their deadlines, and the ids of their operations.</summary>
internal static class Store
{
    public const string PoolCommandId = "create-pool-1";
    public const string PoolName = "fast-ssd";
    public const string VolumeCommandId = "create-volume-1";
    public const string VolumeName = "web-1-root";

    public const long GiB = 1L << 30;
    public const long VolumeSize = 10 * GiB;

    /// <summary>SHA-256 of the empty string: any 64 hex digits will do.</summary>
    public const string Sha256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

    public static readonly Guid PoolId = PoolDecider.PoolIdForCreate(PoolCommandId);
    public static readonly Guid VolumeId = VolumeDecider.VolumeIdForCreate(VolumeCommandId);
    public static readonly Guid BaseVolume = new("0b0070a1-0000-4000-8000-0000000000ba");

    /// <summary>Different quick and copy deadlines, so the wrong one shows.</summary>
    public static readonly StorageTimeouts Timeouts = new(Quick: TimeSpan.FromMinutes(3), Copy: TimeSpan.FromMinutes(40));

    public static readonly PoolLocation DirLocation = new(PoolKind.Dir, Fixed.HostId, "/var/lib/quantixkvm/pools/fast-ssd");

    public static Guid PoolOperation(string commandId) => StorageOperations.OperationIdFor(PoolId, commandId);

    public static Guid VolumeOperation(string commandId) => StorageOperations.OperationIdFor(VolumeId, commandId);

    public static StorageOperationRequested Requested(
        Guid targetId, StorageOperationKind kind, string commandId, string? name = null, long? sizeBytes = null, DateTimeOffset? at = null,
        TimeSpan? timeout = null)
    {
        var when = at ?? Fixed.Earlier;
        return new StorageOperationRequested(
            targetId, StorageOperations.OperationIdFor(targetId, commandId), commandId, kind, Fixed.HostId, name, sizeBytes, Fixed.Actor, when,
            when + (timeout ?? Timeouts.Quick));
    }

    public static StorageOperationSucceeded Succeeded(Guid targetId, string commandId) =>
        new(targetId, StorageOperations.OperationIdFor(targetId, commandId), Fixed.Earlier);

    public static StorageOperationFailed Failed(Guid targetId, string commandId, string message = "cannot create directory: Permission denied") =>
        new(targetId, StorageOperations.OperationIdFor(targetId, commandId), "VIR_ERR_OPERATION_FAILED", message, Fixed.Earlier);

    public static StorageOperationTimedOut TimedOut(Guid targetId, string commandId) =>
        new(targetId, StorageOperations.OperationIdFor(targetId, commandId), Fixed.Earlier);
}

/// <summary>Histories of the fixed pool.</summary>
internal static class Pool
{
    public static StoragePoolDefined Defined(PoolLocation? location = null) =>
        new(Store.PoolId, Store.PoolName, location ?? Store.DirLocation, Fixed.Earlier);

    /// <summary>A pool whose create is recorded and not yet done.</summary>
    public static StorageEvent[] BeingCreated() => [Defined(), Store.Requested(Store.PoolId, StorageOperationKind.CreatePool, Store.PoolCommandId)];

    public static StorageEvent[] Ready() => [.. BeingCreated(), Store.Succeeded(Store.PoolId, Store.PoolCommandId)];

    /// <summary>A ready pool with one more operation asked for under <paramref name="commandId"/>.</summary>
    public static StorageEvent[] Busy(StorageOperationKind kind, string commandId) =>
        [.. Ready(), Store.Requested(Store.PoolId, kind, commandId)];

    public static StorageEvent[] Gone() =>
    [
        .. Busy(StorageOperationKind.DeletePool, "delete-pool-1"),
        Store.Succeeded(Store.PoolId, "delete-pool-1"),
        new StoragePoolDeleted(Store.PoolId, Fixed.Earlier),
    ];
}

/// <summary>Histories of the fixed volume: a blank qcow2 volume of <see cref="Store.VolumeSize"/> bytes.</summary>
internal static class Volume
{
    public static VolumeCreated Created(VolumeSource? source = null, long size = Store.VolumeSize) =>
        new(Store.VolumeId, Store.PoolId, Store.VolumeName, VolumeFormat.Qcow2, size, source ?? VolumeSource.Blank, IsImage: false, Fixed.Earlier);

    public static StorageEvent[] BeingCreated() =>
        [Created(), Store.Requested(Store.VolumeId, StorageOperationKind.CreateVolume, Store.VolumeCommandId)];

    public static StorageEvent[] Ready() => [.. BeingCreated(), Store.Succeeded(Store.VolumeId, Store.VolumeCommandId)];

    public static StorageEvent[] Busy(StorageOperationKind kind, string commandId, string? name = null, long? sizeBytes = null) =>
        [.. Ready(), Store.Requested(Store.VolumeId, kind, commandId, name, sizeBytes)];

    /// <summary>A ready volume with a snapshot taken by "snapshot-volume-0".</summary>
    public static StorageEvent[] WithSnapshot(string name) =>
    [
        .. Busy(StorageOperationKind.SnapshotVolume, "snapshot-volume-0", name),
        Store.Succeeded(Store.VolumeId, "snapshot-volume-0"),
        new VolumeSnapshotTaken(Store.VolumeId, name, Fixed.Earlier),
    ];

    public static StorageEvent[] Gone() =>
    [
        .. Busy(StorageOperationKind.DeleteVolume, "delete-volume-1"),
        Store.Succeeded(Store.VolumeId, "delete-volume-1"),
        new VolumeDeleted(Store.VolumeId, Fixed.Earlier),
    ];
}

/// <summary>Storage commands, issued at <see cref="Fixed.Now"/> by <see cref="Fixed.Actor"/> for <see cref="Fixed.HostId"/>'s agent.</summary>
internal static class StorageCmd
{
    public static CreatePool CreatePool(PoolLocation? location = null, string name = Store.PoolName, string commandId = Store.PoolCommandId) =>
        new(Fixed.Context(commandId), Store.Timeouts, PoolDecider.PoolIdForCreate(commandId), name, location ?? Store.DirLocation, Fixed.HostId);

    public static RefreshPool RefreshPool(string commandId = "refresh-pool-1") => new(Fixed.Context(commandId), Store.Timeouts, Fixed.HostId);

    public static DeletePool DeletePool(string commandId = "delete-pool-1", int volumeCount = 0) =>
        new(Fixed.Context(commandId), Store.Timeouts, Fixed.HostId, volumeCount);

    public static CreateVolume CreateVolume(
        long size = Store.VolumeSize, VolumeSource? source = null, VolumeFormat format = VolumeFormat.Qcow2, string name = Store.VolumeName,
        long? poolAvailable = null, string commandId = Store.VolumeCommandId, bool isImage = false) =>
        new(Fixed.Context(commandId), Store.Timeouts, VolumeDecider.VolumeIdForCreate(commandId), Store.PoolId, name, format, size,
            source ?? VolumeSource.Blank, isImage, Fixed.HostId, poolAvailable);

    public static ResizeVolume Resize(long size, string commandId = "resize-1", Guid? attachedTo = null) =>
        new(Fixed.Context(commandId), Store.Timeouts, size, Fixed.HostId, attachedTo);

    public static DeleteVolume DeleteVolume(string commandId = "delete-volume-1", Guid? attachedTo = null, int linkedClones = 0) =>
        new(Fixed.Context(commandId), Store.Timeouts, Fixed.HostId, attachedTo, linkedClones);

    public static SnapshotVolume Snapshot(string name, string commandId = "snapshot-volume-1", Guid? attachedTo = null) =>
        new(Fixed.Context(commandId), Store.Timeouts, name, Fixed.HostId, attachedTo);

    public static RevertVolume Revert(string name, string commandId = "revert-volume-1", Guid? attachedTo = null) =>
        new(Fixed.Context(commandId), Store.Timeouts, name, Fixed.HostId, attachedTo);

    public static DeleteVolumeSnapshot DeleteSnapshot(string name, string commandId = "delete-volume-snapshot-1", Guid? attachedTo = null) =>
        new(Fixed.Context(commandId), Store.Timeouts, name, Fixed.HostId, attachedTo);

    // What agents report (and the deadline watcher decides), by the target and the command id that started the operation.
    public static MarkStorageOperationStarted MarkStarted(Guid targetId, string commandId) =>
        new(Fixed.Context("agent-started-" + commandId), StorageOperations.OperationIdFor(targetId, commandId));

    public static CompleteStorageOperation Complete(Guid targetId, string commandId, StorageObservation? observed = null) =>
        new(Fixed.Context("agent-done-" + commandId), StorageOperations.OperationIdFor(targetId, commandId), Fixed.HostId, observed);

    public static FailStorageOperation Fail(Guid targetId, string commandId, string message = "Permission denied") =>
        new(Fixed.Context("agent-failed-" + commandId), StorageOperations.OperationIdFor(targetId, commandId), "VIR_ERR_OPERATION_FAILED", message);

    public static TimeOutStorageOperation TimeOut(Guid targetId, string commandId, DateTimeOffset now) =>
        new(Fixed.Context("deadline-" + commandId, now), StorageOperations.OperationIdFor(targetId, commandId));
}
