using System.Text.Json.Serialization;
using JasperFx.Events;
using Marten.Events.Aggregation;
using Quantixkvm.Domain.Vms;

namespace Quantixkvm.ControlPlane.ReadModels;

/// <summary>A VM as the API shows it: desired, in-flight and observed state side by side.</summary>
public sealed record VmView
{
    public Guid Id { get; init; }
    public string Name { get; init; } = "";
    public int Vcpus { get; init; }
    public int MemoryMiB { get; init; }
    public Guid HostId { get; init; }
    public PowerState PowerState { get; init; } = PowerState.Unknown;
    public PowerState DesiredPowerState { get; init; } = PowerState.Stopped;
    public Guid? CurrentOperationId { get; init; }

    /// <summary>The stream version: what a client passes back as <c>expectedVersion</c>.</summary>
    public long Version { get; init; }
    public DateTimeOffset CreatedAt { get; init; }
    public DateTimeOffset UpdatedAt { get; init; }
    public DateTimeOffset? DeletedAt { get; init; }

    /// <summary>
    /// The current operation as it was at this view's version; set only on change-feed snapshots, so a
    /// subscriber sees the operation as of the event, not as it is when the message is resolved. Never stored.
    /// </summary>
    [JsonIgnore]
    public OperationView? CurrentOperationSnapshot { get; init; }

    /// <summary>Pure: the view after one more event. Shared by the projection and the change feed.</summary>
    public static VmView? After(VmView? view, IEvent @event)
    {
        var updated = (@event.Data, view) switch
        {
            (VmCreated e, _) => new VmView
            {
                Id = e.VmId, Name = e.Name, Vcpus = e.Vcpus, MemoryMiB = e.MemoryMiB, HostId = e.HostId, CreatedAt = e.CreatedAt,
            },
            (_, null) => null,
            (VmOperationRequested e, _) => view with { DesiredPowerState = e.DesiredPowerState, CurrentOperationId = e.OperationId },
            (VmOperationSucceeded e, _) => Finished(view, e.OperationId) with { PowerState = e.ObservedPowerState },
            (VmOperationFailed e, _) => Finished(view, e.OperationId) with { PowerState = e.ObservedPowerState },
            (VmOperationTimedOut e, _) => Finished(view, e.OperationId),
            (VmPowerStateObserved e, _) => view with { PowerState = e.ObservedPowerState },
            (VmDeleted e, _) => view with { DeletedAt = e.DeletedAt, CurrentOperationId = null },
            _ => view,
        };
        return updated is null ? null : updated with { Version = @event.Version, UpdatedAt = @event.Timestamp };
    }

    private static VmView Finished(VmView view, Guid operationId) =>
        view.CurrentOperationId == operationId ? view with { CurrentOperationId = null } : view;
}

public sealed class VmViewProjection : SingleStreamProjection<VmView, Guid>
{
    public override VmView? Evolve(VmView? snapshot, Guid id, IEvent e) => VmView.After(snapshot, e);
}
