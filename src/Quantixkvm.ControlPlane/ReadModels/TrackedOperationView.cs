using Quantixkvm.Domain.Vms;

namespace Quantixkvm.ControlPlane.ReadModels;

/// <summary>
/// What VM and storage operations share: who asked, when, the deadline, and how the operation went after its request
/// (started, then succeeded, failed with the host's error, or timed out). One set of transitions for both read models.
/// </summary>
public abstract record TrackedOperationView
{
    public Guid Id { get; init; }
    public Guid HostId { get; init; }
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

    /// <summary>A "started" may arrive after the outcome (the reports travel separately): it adds when the host began, never moves the status back.</summary>
    protected static T Started<T>(T view, DateTimeOffset at) where T : TrackedOperationView =>
        (T)((TrackedOperationView)view with
        {
            Status = view.Status == OperationStatus.Pending ? OperationStatus.Running : view.Status, AgentStartedAt = at,
        });

    protected static T Succeeded<T>(T view, DateTimeOffset at) where T : TrackedOperationView =>
        (T)((TrackedOperationView)view with { Status = OperationStatus.Succeeded, FinishedAt = at });

    protected static T Failed<T>(T view, string code, string message, DateTimeOffset at) where T : TrackedOperationView =>
        (T)((TrackedOperationView)view with { Status = OperationStatus.Failed, ErrorCode = code, ErrorMessage = message, FinishedAt = at });

    protected static T TimedOut<T>(T view, DateTimeOffset at) where T : TrackedOperationView =>
        (T)((TrackedOperationView)view with
        {
            Status = OperationStatus.TimedOut, ErrorCode = "TIMED_OUT",
            ErrorMessage = $"the host did not report an outcome before the deadline {view.Deadline:O}", FinishedAt = at,
        });
}
