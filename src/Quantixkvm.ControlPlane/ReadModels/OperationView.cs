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

    /// <summary>The operation an event belongs to, if any.</summary>
    public static Guid? OperationIdOf(object data) => data switch
    {
        VmOperationRequested e => e.OperationId,
        VmOperationStarted e => e.OperationId,
        VmOperationSucceeded e => e.OperationId,
        VmOperationFailed e => e.OperationId,
        VmOperationTimedOut e => e.OperationId,
        _ => null,
    };

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

public sealed class OperationViewProjection : MultiStreamProjection<OperationView, Guid>
{
    public OperationViewProjection()
    {
        Identity<VmOperationRequested>(e => e.OperationId);
        Identity<VmOperationStarted>(e => e.OperationId);
        Identity<VmOperationSucceeded>(e => e.OperationId);
        Identity<VmOperationFailed>(e => e.OperationId);
        Identity<VmOperationTimedOut>(e => e.OperationId);
    }

    public override OperationView? Evolve(OperationView? snapshot, Guid id, IEvent e) => OperationView.After(snapshot, e);
}
