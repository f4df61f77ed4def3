using JasperFx.Events;
using Marten.Events.Projections;
using Quantixkvm.Domain.Vms;

namespace Quantixkvm.ControlPlane.ReadModels;

/// <summary>One operation on a VM, from request to its end (succeeded, failed with the hypervisor's error, or timed out).</summary>
public sealed record OperationView : TrackedOperationView
{
    public Guid VmId { get; init; }
    public OperationKind Kind { get; init; }
    public bool Force { get; init; }

    /// <summary>Pure: the view after one more event. Shared by the projection and the change feed.</summary>
    public static OperationView? After(OperationView? view, IEvent @event) => (@event.Data, view) switch
    {
        (VmOperationRequested e, _) => new OperationView
        {
            Id = e.OperationId, VmId = e.VmId, HostId = e.HostId, Kind = e.Kind, Force = e.Force, Status = OperationStatus.Pending,
            CommandId = e.CommandId, Actor = e.Actor, CorrelationId = @event.CorrelationId, RequestedAt = e.RequestedAt, Deadline = e.Deadline,
        },
        (_, null) => null,
        (VmOperationStarted e, _) => Started(view, e.StartedAt),
        (VmOperationSucceeded e, _) => Succeeded(view, e.FinishedAt),
        (VmOperationFailed e, _) => Failed(view, e.ErrorCode, e.ErrorMessage, e.FinishedAt),
        (VmOperationTimedOut e, _) => TimedOut(view, e.FinishedAt),
        _ => view,
    };
}

public sealed class OperationViewProjection : MultiStreamProjection<OperationView, Guid>, IRoutedProjection
{
    /// <summary>Every event of an operation names it.</summary>
    public static IdentityRoutes Routes { get; } = new IdentityRoutes()
        .Route<VmOperationRequested>(e => e.OperationId)
        .Route<VmOperationStarted>(e => e.OperationId)
        .Route<VmOperationSucceeded>(e => e.OperationId)
        .Route<VmOperationFailed>(e => e.OperationId)
        .Route<VmOperationTimedOut>(e => e.OperationId);

    public OperationViewProjection() => Routes.RegisterWith(this);

    IdentityRoutes IRoutedProjection.Routes => Routes;

    public override OperationView? Evolve(OperationView? snapshot, Guid id, IEvent e) => OperationView.After(snapshot, e);
}
