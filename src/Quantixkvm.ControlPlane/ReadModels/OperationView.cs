using JasperFx.Events;
using Marten.Events.Projections;
using Quantixkvm.Domain.Vms;

namespace Quantixkvm.ControlPlane.ReadModels;

/// <summary>One operation on a VM, from request to its end (succeeded, failed with the hypervisor's error, or timed out).</summary>
public sealed record OperationView : ITrackedOperation
{
    public Guid Id { get; init; }
    public Guid VmId { get; init; }
    public Guid HostId { get; init; }
    public OperationKind Kind { get; init; }
    public bool Force { get; init; }
    public OperationStatus Status { get; init; }
    public string CommandId { get; init; } = "";
    public string Actor { get; init; } = "";

    /// <summary>The correlation id of the request, carried by every message and log line of the operation.</summary>
    public string? CorrelationId { get; init; }
    public string? ErrorCode { get; init; }
    public string? ErrorMessage { get; init; }
    public DateTimeOffset RequestedAt { get; init; }
    public DateTimeOffset? AgentStartedAt { get; init; }
    public DateTimeOffset? FinishedAt { get; init; }
    public DateTimeOffset Deadline { get; init; }

    public bool IsFinished => Status is OperationStatus.Succeeded or OperationStatus.Failed or OperationStatus.TimedOut;

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
        // A "started" may arrive after the outcome: it adds when the host began, never moves the status back.
        (VmOperationStarted e, _) => view with
        {
            Status = view.Status == OperationStatus.Pending ? OperationStatus.Running : view.Status, AgentStartedAt = e.StartedAt,
        },
        (VmOperationSucceeded e, _) => view with { Status = OperationStatus.Succeeded, FinishedAt = e.FinishedAt },
        (VmOperationFailed e, _) => view with
        {
            Status = OperationStatus.Failed, ErrorCode = e.ErrorCode, ErrorMessage = e.ErrorMessage, FinishedAt = e.FinishedAt,
        },
        (VmOperationTimedOut e, _) => view with
        {
            Status = OperationStatus.TimedOut, ErrorCode = "TIMED_OUT",
            ErrorMessage = $"the host did not report an outcome before the deadline {view.Deadline:O}", FinishedAt = e.FinishedAt,
        },
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

/// <summary>What VM and storage operations share: an id and a status that always ends.</summary>
public interface ITrackedOperation
{
    Guid Id { get; }
    OperationStatus Status { get; }
    bool IsFinished { get; }
}
