using JasperFx.Events;
using Marten.Events.Aggregation;
using Marten.Events.Projections;
using Quantixkvm.Domain.Storage;
using Quantixkvm.Domain.Templates;
using Quantixkvm.Domain.Vms;

namespace Quantixkvm.ControlPlane.ReadModels;

/// <summary>A storage pool: where it lives, its state, and the capacity its host last reported.</summary>
public sealed record StoragePoolView
{
    public Guid Id { get; init; }
    public string Name { get; init; } = "";
    public PoolLocation Location { get; init; } = new(PoolKind.Dir, null, null);
    public StorageStatus Status { get; init; }
    public long? CapacityBytes { get; init; }
    public long? AllocationBytes { get; init; }
    public long? AvailableBytes { get; init; }
    public DateTimeOffset? CapacityObservedAt { get; init; }
    public Guid? CurrentOperationId { get; init; }
    public string? LastError { get; init; }
    public long Version { get; init; }
    public DateTimeOffset CreatedAt { get; init; }

    public static StoragePoolView? After(StoragePoolView? view, IEvent @event)
    {
        var updated = (@event.Data, view) switch
        {
            (StoragePoolDefined e, _) => new StoragePoolView { Id = e.PoolId, Name = e.Name, Location = e.Location, CreatedAt = e.DefinedAt },
            (_, null) => null,
            (StoragePoolCapacityObserved e, _) => view with
            {
                CapacityBytes = e.CapacityBytes, AllocationBytes = e.AllocationBytes, AvailableBytes = e.AvailableBytes, CapacityObservedAt = e.ObservedAt,
            },
            (StoragePoolDeleted, _) => view with { Status = StorageStatus.Deleted },
            (StorageOperationRequested e, _) => view with { CurrentOperationId = e.OperationId },
            (StorageOperationSucceeded e, _) => Finished(view, e.OperationId) is var v && v.Status == StorageStatus.Creating
                ? v with { Status = StorageStatus.Ready, LastError = null } : v with { LastError = null },
            (StorageOperationFailed e, _) => Finished(view, e.OperationId) is var v && v.Status == StorageStatus.Creating
                ? v with { Status = StorageStatus.Failed, LastError = e.ErrorMessage } : v with { LastError = e.ErrorMessage },
            (StorageOperationTimedOut e, _) => Finished(view, e.OperationId) is var v && v.Status == StorageStatus.Creating
                ? v with { Status = StorageStatus.Failed, LastError = TimedOut } : v with { LastError = TimedOut },
            _ => view,
        };
        return updated is null ? null : updated with { Version = @event.Version };
    }

    internal const string TimedOut = "the host did not report before the deadline";

    private static StoragePoolView Finished(StoragePoolView view, Guid operationId) =>
        view.CurrentOperationId == operationId ? view with { CurrentOperationId = null } : view;
}

public sealed class StoragePoolViewProjection : SingleStreamProjection<StoragePoolView, Guid>
{
    public override StoragePoolView? Evolve(StoragePoolView? snapshot, Guid id, IEvent e) => StoragePoolView.After(snapshot, e);
}

public enum AttachmentState
{
    Attaching,
    Attached,
    Detaching,
}

/// <summary>
/// A volume, with the VM it belongs to. The attachment comes from the VM's events (same projection), so
/// the volume's read model can never disagree with the VM's disk list.
/// </summary>
public sealed record VolumeView
{
    public Guid Id { get; init; }
    public Guid PoolId { get; init; }
    public string Name { get; init; } = "";
    public VolumeFormat Format { get; init; }
    public bool IsImage { get; init; }
    public VolumeSource Source { get; init; } = VolumeSource.Blank;
    public StorageStatus Status { get; init; }

    /// <summary>The size asked for; for imports and clones, the size the host reported once made.</summary>
    public long SizeBytes { get; init; }
    public long? AllocationBytes { get; init; }
    public string? Path { get; init; }
    public IReadOnlyList<string> Snapshots { get; init; } = [];
    public Guid? AttachedToVmId { get; init; }
    public AttachmentState? Attachment { get; init; }
    public string? TargetDev { get; init; }
    public Guid? CurrentOperationId { get; init; }
    public string? LastError { get; init; }
    public DateTimeOffset CreatedAt { get; init; }

    public static VolumeView? After(VolumeView? view, IEvent @event) => (@event.Data, view) switch
    {
        (VolumeCreated e, _) => new VolumeView
        {
            Id = e.VolumeId, PoolId = e.PoolId, Name = e.Name, Format = e.Format, IsImage = e.IsImage, Source = e.Source, SizeBytes = e.SizeBytes,
            CreatedAt = e.CreatedAt, Status = StorageStatus.Creating,
        },
        (_, null) => null,
        (VmDiskAttachRequested e, _) => view with { AttachedToVmId = e.VmId, Attachment = AttachmentState.Attaching, TargetDev = e.Disk.TargetDev },
        (VmDiskAttached e, _) => view with { AttachedToVmId = e.VmId, Attachment = AttachmentState.Attached, TargetDev = e.Disk.TargetDev },
        (VmDiskDetachRequested, _) => view with { Attachment = AttachmentState.Detaching },
        (VmDiskDetached e, _) when view.AttachedToVmId == e.VmId => view with { AttachedToVmId = null, Attachment = null, TargetDev = null },
        (VmEvent, _) => view,
        (var data, _) => OnVolumeStream(view, data),
    };

    private static VolumeView OnVolumeStream(VolumeView view, object data) => data switch
    {
        VolumeObserved e => view with { SizeBytes = e.CapacityBytes, AllocationBytes = e.AllocationBytes, Path = e.Path ?? view.Path },
        VolumeSnapshotTaken e => view with { Snapshots = [.. view.Snapshots, e.Name] },
        VolumeSnapshotDeleted e => view with { Snapshots = view.Snapshots.Where(s => s != e.Name).ToList() },
        VolumeDeleted => view with { Status = StorageStatus.Deleted },
        StorageOperationRequested e => view with { CurrentOperationId = e.OperationId },
        StorageOperationSucceeded e => Finished(view, e.OperationId) is var v && v.Status == StorageStatus.Creating
            ? v with { Status = StorageStatus.Ready, LastError = null } : v with { LastError = null },
        StorageOperationFailed e => Finished(view, e.OperationId) is var v && v.Status == StorageStatus.Creating
            ? v with { Status = StorageStatus.Failed, LastError = e.ErrorMessage } : v with { LastError = e.ErrorMessage },
        StorageOperationTimedOut e => Finished(view, e.OperationId) is var v && v.Status == StorageStatus.Creating
            ? v with { Status = StorageStatus.Failed, LastError = StoragePoolView.TimedOut } : v with { LastError = StoragePoolView.TimedOut },
        _ => view,
    };

    private static VolumeView Finished(VolumeView view, Guid operationId) =>
        view.CurrentOperationId == operationId ? view with { CurrentOperationId = null } : view;
}

public sealed class VolumeViewProjection : MultiStreamProjection<VolumeView, Guid>, IRoutedProjection
{
    /// <summary>A volume's own events, and the disk events of the VM it is attached to.</summary>
    public static IdentityRoutes Routes { get; } = new IdentityRoutes()
        .Route<VmDiskAttachRequested>(e => e.Disk.VolumeId)
        .Route<VmDiskAttached>(e => e.Disk.VolumeId)
        .Route<VmDiskDetachRequested>(e => e.VolumeId)
        .Route<VmDiskDetached>(e => e.VolumeId)
        .Route<VolumeCreated>(e => e.VolumeId)
        .Route<VolumeObserved>(e => e.VolumeId)
        .Route<VolumeSnapshotTaken>(e => e.VolumeId)
        .Route<VolumeSnapshotDeleted>(e => e.VolumeId)
        .Route<VolumeReverted>(e => e.VolumeId)
        .Route<VolumeDeleted>(e => e.VolumeId)
        // Storage operation events of pool streams name ids no volume has: they fold to nothing.
        .Route<StorageOperationRequested>(e => e.TargetId)
        .Route<StorageOperationStarted>(e => e.TargetId)
        .Route<StorageOperationSucceeded>(e => e.TargetId)
        .Route<StorageOperationFailed>(e => e.TargetId)
        .Route<StorageOperationTimedOut>(e => e.TargetId);

    public VolumeViewProjection() => Routes.RegisterWith(this);

    IdentityRoutes IRoutedProjection.Routes => Routes;

    public override VolumeView? Evolve(VolumeView? snapshot, Guid id, IEvent e) => VolumeView.After(snapshot, e);
}

/// <summary>One operation on a pool or volume, from request to its end.</summary>
public sealed record StorageOperationView : TrackedOperationView
{
    public Guid TargetId { get; init; }
    public StorageOperationKind Kind { get; init; }
    public string? Name { get; init; }
    public long? SizeBytes { get; init; }

    public bool IsOnPool => Kind is StorageOperationKind.CreatePool or StorageOperationKind.RefreshPool or StorageOperationKind.DeletePool;

    public static StorageOperationView? After(StorageOperationView? view, IEvent @event) => (@event.Data, view) switch
    {
        (StorageOperationRequested e, _) => new StorageOperationView
        {
            Id = e.OperationId, TargetId = e.TargetId, HostId = e.HostId, Kind = e.Kind, Status = OperationStatus.Pending, CommandId = e.CommandId,
            Actor = e.Actor, CorrelationId = @event.CorrelationId, Name = e.Name, SizeBytes = e.SizeBytes, RequestedAt = e.RequestedAt,
            Deadline = e.Deadline,
        },
        (_, null) => null,
        (StorageOperationStarted e, _) => Started(view, e.StartedAt),
        (StorageOperationSucceeded e, _) => Succeeded(view, e.FinishedAt),
        (StorageOperationFailed e, _) => Failed(view, e.ErrorCode, e.ErrorMessage, e.FinishedAt),
        (StorageOperationTimedOut e, _) => TimedOut(view, e.FinishedAt),
        _ => view,
    };
}

public sealed class StorageOperationViewProjection : MultiStreamProjection<StorageOperationView, Guid>, IRoutedProjection
{
    /// <summary>Every event of a storage operation names it.</summary>
    public static IdentityRoutes Routes { get; } = new IdentityRoutes()
        .Route<StorageOperationRequested>(e => e.OperationId)
        .Route<StorageOperationStarted>(e => e.OperationId)
        .Route<StorageOperationSucceeded>(e => e.OperationId)
        .Route<StorageOperationFailed>(e => e.OperationId)
        .Route<StorageOperationTimedOut>(e => e.OperationId);

    public StorageOperationViewProjection() => Routes.RegisterWith(this);

    IdentityRoutes IRoutedProjection.Routes => Routes;

    public override StorageOperationView? Evolve(StorageOperationView? snapshot, Guid id, IEvent e) => StorageOperationView.After(snapshot, e);
}

public sealed record TemplateView
{
    public Guid Id { get; init; }
    public TemplateSpec Spec { get; init; } = new("", "", 0, 0, Guid.Empty, null);
    public DateTimeOffset CreatedAt { get; init; }
    public DateTimeOffset? DeletedAt { get; init; }

    public static TemplateView? After(TemplateView? view, IEvent @event) => (@event.Data, view) switch
    {
        (TemplateCreated e, _) => new TemplateView { Id = e.TemplateId, Spec = e.Spec, CreatedAt = e.CreatedAt },
        (TemplateDeleted e, { } v) => v with { DeletedAt = e.DeletedAt },
        _ => view,
    };
}

public sealed class TemplateViewProjection : SingleStreamProjection<TemplateView, Guid>
{
    public override TemplateView? Evolve(TemplateView? snapshot, Guid id, IEvent e) => TemplateView.After(snapshot, e);
}
