using System.Collections.Immutable;
using Quantixkvm.Domain.Vms;

namespace Quantixkvm.Domain.Storage;

using StorageDecision = Decision<StorageEvent>;

public sealed record StorageOperation(
    Guid OperationId, string CommandId, StorageOperationKind Kind, OperationStatus Status, DateTimeOffset Deadline, string? Name, long? SizeBytes)
{
    /// <summary>Whether the agent's "started" report is recorded (it may arrive after the outcome: reports travel separately).</summary>
    public bool Started { get; init; }
}

/// <summary>
/// The operations of one pool or volume: every one ever asked (for idempotent repeats) and the one
/// under way (at most one at a time). Pools and volumes share it, and share how outcomes are decided.
/// </summary>
public sealed record StorageOperations(ImmutableDictionary<Guid, StorageOperation> All, Guid? CurrentId)
{
    public static StorageOperations Empty { get; } = new(ImmutableDictionary<Guid, StorageOperation>.Empty, null);

    public StorageOperation? Current => CurrentId is { } id ? All[id] : null;

    public static Guid OperationIdFor(Guid targetId, string commandId) => DeterministicId.From("storage-operation", targetId.ToString(), commandId);

    public StorageOperations Apply(StorageEvent @event) => @event switch
    {
        StorageOperationRequested e => new(
            All.SetItem(e.OperationId, new StorageOperation(e.OperationId, e.CommandId, e.Kind, OperationStatus.Pending, e.Deadline, e.Name, e.SizeBytes)),
            e.OperationId),
        StorageOperationStarted e => All.TryGetValue(e.OperationId, out var op)
            ? new(All.SetItem(e.OperationId, op with
            {
                Started = true,
                // A "started" that arrives after the outcome records when the host began, and changes nothing else.
                Status = op.Status == OperationStatus.Pending ? OperationStatus.Running : op.Status,
            }), CurrentId)
            : this,
        StorageOperationSucceeded e => With(e.OperationId, OperationStatus.Succeeded, finished: true),
        StorageOperationFailed e => With(e.OperationId, OperationStatus.Failed, finished: true),
        StorageOperationTimedOut e => With(e.OperationId, OperationStatus.TimedOut, finished: true),
        _ => this,
    };

    private StorageOperations With(Guid operationId, OperationStatus status, bool finished) =>
        All.TryGetValue(operationId, out var op)
            ? new(All.SetItem(operationId, op with { Status = status }), finished && CurrentId == operationId ? null : CurrentId)
            : this;

    /// <summary>
    /// The common start of every request: a repeated command id returns its operation (or is refused
    /// if it was used for something else); a busy target refuses. Null means: go on and decide.
    /// </summary>
    public StorageDecision? Precheck(Guid targetId, string commandId, StorageOperationKind kind, string describe, string what)
    {
        var operationId = OperationIdFor(targetId, commandId);
        if (All.TryGetValue(operationId, out var earlier))
        {
            return earlier.Kind == kind
                ? StorageDecision.Accept(operationId)
                : StorageDecision.Reject(RejectionCode.Validation,
                    $"command id '{commandId}' was already used for a {Name(earlier.Kind)} operation on this {what}", describe, Name(kind));
        }

        return Current is { } current
            ? StorageDecision.Reject(RejectionCode.InvalidState,
                $"{what} {targetId} is busy: its {Name(current.Kind)} operation {current.OperationId} is still under way (deadline {current.Deadline:O})",
                describe, Name(kind))
            : null;
    }

    public StorageOperationRequested Request(
        Guid targetId, CommandContext context, StorageOperationKind kind, Guid hostId, TimeSpan timeout, string? name = null, long? sizeBytes = null) =>
        new(targetId, OperationIdFor(targetId, context.CommandId), context.CommandId, kind, hostId, name, sizeBytes, context.Actor, context.Now,
            context.Now + timeout);

    /// <summary>
    /// Started / completed / failed / timed out, for any storage target. <paramref name="onSuccess"/> adds what a
    /// success means for the target (a size observed, a snapshot taken, a deletion).
    /// </summary>
    public StorageDecision DecideOutcome(
        Guid targetId, StorageCommand command, string describe, Func<StorageOperation, CompleteStorageOperation, IEnumerable<StorageEvent>> onSuccess)
    {
        var (operationId, now) = command switch
        {
            MarkStorageOperationStarted c => (c.OperationId, c.Context.Now),
            CompleteStorageOperation c => (c.OperationId, c.Context.Now),
            FailStorageOperation c => (c.OperationId, c.Context.Now),
            TimeOutStorageOperation c => (c.OperationId, c.Context.Now),
            _ => throw new ArgumentOutOfRangeException(nameof(command), command.GetType().Name, "not an outcome command"),
        };

        if (!All.TryGetValue(operationId, out var operation))
        {
            return StorageDecision.Reject(RejectionCode.NotFound, $"operation {operationId} is not known on {targetId}", describe);
        }

        // "Started" and the outcome travel separately and may arrive in either order: the start is recorded once, whenever it comes.
        if (command is MarkStorageOperationStarted)
        {
            return operation.Started
                ? StorageDecision.Accept(operationId)
                : StorageDecision.Accept(operationId, new StorageOperationStarted(targetId, operationId, now));
        }

        // A report for an operation that already ended is a duplicate delivery (or arrived after the deadline): nothing new.
        if (CurrentId != operationId)
        {
            return StorageDecision.Accept(operationId);
        }

        switch (command)
        {
            case CompleteStorageOperation completed:
                return new StorageDecision.Accepted(
                    [new StorageOperationSucceeded(targetId, operationId, now), .. onSuccess(operation, completed)], operationId);
            case FailStorageOperation failed:
                return StorageDecision.Accept(operationId, new StorageOperationFailed(targetId, operationId, failed.ErrorCode, failed.ErrorMessage, now));
            default:
                return now < operation.Deadline
                    ? StorageDecision.Reject(RejectionCode.InvalidState, $"operation {operationId} has not reached its deadline {operation.Deadline:O}",
                        describe, "time-out")
                    : StorageDecision.Accept(operationId, new StorageOperationTimedOut(targetId, operationId, now));
        }
    }

    public static bool IsOutcome(StorageCommand command) =>
        command is MarkStorageOperationStarted or CompleteStorageOperation or FailStorageOperation or TimeOutStorageOperation;

    public static string Name(StorageOperationKind kind) => kind switch
    {
        StorageOperationKind.CreatePool => "create-pool",
        StorageOperationKind.RefreshPool => "refresh-pool",
        StorageOperationKind.DeletePool => "delete-pool",
        StorageOperationKind.CreateVolume => "create-volume",
        StorageOperationKind.ResizeVolume => "resize-volume",
        StorageOperationKind.DeleteVolume => "delete-volume",
        StorageOperationKind.SnapshotVolume => "snapshot-volume",
        StorageOperationKind.RevertVolume => "revert-volume",
        StorageOperationKind.DeleteVolumeSnapshot => "delete-volume-snapshot",
        _ => kind.ToString(),
    };
}
