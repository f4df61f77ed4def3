namespace Quantixkvm.Domain.Storage;

using StorageDecision = Decision<StorageEvent>;

public sealed record PoolState(Guid PoolId, StorageStatus? Status, string Name, PoolLocation? Location, StorageOperations Operations)
{
    /// <summary>The capacity last recorded (capacity, allocation, available), to record only changes.</summary>
    public (long Capacity, long Allocation, long Available)? LastCapacity { get; init; }

    public static PoolState Initial { get; } = new(Guid.Empty, null, "", null, StorageOperations.Empty);

    public string Describe() => Status is { } status
        ? Operations.Current is { } op ? StorageOperations.Name(op.Kind).ToUpperInvariant() : status.ToString().ToUpperInvariant()
        : "NONEXISTENT";
}

/// <summary>The storage pool aggregate: define, refresh and delete (only when empty), each carried out by an agent.</summary>
public static class PoolDecider
{
    /// <summary>A pool's id follows from the command that creates it, so a repeated create finds the same pool.</summary>
    public static Guid PoolIdForCreate(string commandId) => DeterministicId.From("storage-pool", commandId);

    public static StorageDecision Decide(StorageCommand command, PoolState state)
    {
        if (StorageOperations.IsOutcome(command))
        {
            return state.Status is null
                ? StorageDecision.Reject(RejectionCode.NotFound, "the pool does not exist", state.Describe())
                : state.Operations.DecideOutcome(state.PoolId, command, state.Describe(), (op, completed) => OnSuccess(state, op, completed));
        }

        return command switch
        {
            CreatePool create => DecideCreate(create, state),
            ObservePoolCapacity observed => DecideCapacity(observed, state),
            RefreshPool refresh => Existing(state, refresh.Context, StorageOperationKind.RefreshPool)
                ?? Ready(state, "refresh")
                ?? Accept(state, refresh.Context, StorageOperationKind.RefreshPool, refresh.HostId, refresh.Timeouts),
            DeletePool delete => Existing(state, delete.Context, StorageOperationKind.DeletePool)
                ?? (delete.VolumeCount > 0
                    ? StorageDecision.Reject(RejectionCode.InvalidState,
                        $"pool '{state.Name}' still holds {delete.VolumeCount} volume(s); delete them first", state.Describe(), "delete-pool")
                    : Accept(state, delete.Context, StorageOperationKind.DeletePool, delete.HostId, delete.Timeouts)),
            _ => throw new ArgumentOutOfRangeException(nameof(command), command.GetType().Name, "not a pool command"),
        };
    }

    public static PoolState Evolve(PoolState state, StorageEvent @event) => @event switch
    {
        StoragePoolDefined e => state with { PoolId = e.PoolId, Status = StorageStatus.Creating, Name = e.Name, Location = e.Location },
        StorageOperationSucceeded e when state.Operations.All.TryGetValue(e.OperationId, out var op) && op.Kind == StorageOperationKind.CreatePool =>
            state with { Status = StorageStatus.Ready, Operations = state.Operations.Apply(e) },
        StorageOperationFailed e when state.Operations.All.TryGetValue(e.OperationId, out var op) && op.Kind == StorageOperationKind.CreatePool =>
            state with { Status = StorageStatus.Failed, Operations = state.Operations.Apply(e) },
        StorageOperationTimedOut e when state.Operations.All.TryGetValue(e.OperationId, out var op) && op.Kind == StorageOperationKind.CreatePool =>
            state with { Status = StorageStatus.Failed, Operations = state.Operations.Apply(e) },
        StoragePoolDeleted => state with { Status = StorageStatus.Deleted },
        StoragePoolCapacityObserved e => state with { LastCapacity = (e.CapacityBytes, e.AllocationBytes, e.AvailableBytes) },
        _ => state with { Operations = state.Operations.Apply(@event) },
    };

    private static StorageDecision DecideCreate(CreatePool command, PoolState state)
    {
        var operationId = StorageOperations.OperationIdFor(command.PoolId, command.Context.CommandId);
        if (state.Status is not null)
        {
            return state.Operations.All.ContainsKey(operationId) && state.Name == command.Name
                ? StorageDecision.Accept(operationId)
                : StorageDecision.Reject(RejectionCode.Conflict, $"pool {command.PoolId} already exists", state.Describe(), "create-pool");
        }

        var problem = ResourceNames.Check("pool", command.Name) ?? StoragePaths.CheckLocation(command.Location);
        if (problem is not null)
        {
            return StorageDecision.Reject(RejectionCode.Validation, problem, command: "create-pool");
        }

        return StorageDecision.Accept(
            operationId,
            new StoragePoolDefined(command.PoolId, command.Name, command.Location, command.Context.Now),
            state.Operations.Request(command.PoolId, command.Context, StorageOperationKind.CreatePool, command.HostId,
                command.Timeouts.For(StorageOperationKind.CreatePool)));
    }

    /// <summary>Inventory readings: recorded when they differ from the last, for a ready pool with no operation under way.</summary>
    private static StorageDecision DecideCapacity(ObservePoolCapacity command, PoolState state)
    {
        if (state.Status is null or StorageStatus.Deleted)
        {
            return StorageDecision.Reject(RejectionCode.NotFound, "the pool does not exist", state.Describe(), "observe");
        }

        var reading = (command.CapacityBytes, command.AllocationBytes, command.AvailableBytes);
        return state.Status != StorageStatus.Ready || state.Operations.Current is not null || state.LastCapacity == reading
            ? StorageDecision.Accept(null)
            : StorageDecision.Accept(null, new StoragePoolCapacityObserved(
                state.PoolId, command.HostId, command.CapacityBytes, command.AllocationBytes, command.AvailableBytes, command.Context.Now));
    }

    private static StorageDecision? Existing(PoolState state, CommandContext context, StorageOperationKind kind) =>
        state.Status switch
        {
            null => StorageDecision.Reject(RejectionCode.NotFound, "the pool does not exist", state.Describe(), StorageOperations.Name(kind)),
            // Once deleted, only a repeat of an earlier command (of the same kind) is answered: with its first result.
            StorageStatus.Deleted => state.Operations.Precheck(state.PoolId, context.CommandId, kind, state.Describe(), "pool")
                ?? StorageDecision.Reject(RejectionCode.NotFound, $"pool '{state.Name}' was deleted", state.Describe(), StorageOperations.Name(kind)),
            _ => state.Operations.Precheck(state.PoolId, context.CommandId, kind, state.Describe(), "pool"),
        };

    private static StorageDecision? Ready(PoolState state, string verb) =>
        state.Status == StorageStatus.Ready
            ? null
            : StorageDecision.Reject(RejectionCode.InvalidState, $"cannot {verb} pool '{state.Name}' while it is {state.Describe()}",
                state.Describe(), $"{verb}-pool");

    private static StorageDecision Accept(PoolState state, CommandContext context, StorageOperationKind kind, Guid hostId, StorageTimeouts timeouts)
    {
        var request = state.Operations.Request(state.PoolId, context, kind, hostId, timeouts.For(kind));
        return StorageDecision.Accept(request.OperationId, request);
    }

    private static IEnumerable<StorageEvent> OnSuccess(PoolState state, StorageOperation operation, CompleteStorageOperation completed)
    {
        var now = completed.Context.Now;
        if (operation.Kind == StorageOperationKind.DeletePool)
        {
            yield return new StoragePoolDeleted(state.PoolId, now);
        }
        else if (completed.Observed is { CapacityBytes: { } capacity } observed)
        {
            yield return new StoragePoolCapacityObserved(
                state.PoolId, completed.HostId, capacity, observed.AllocationBytes ?? 0, observed.AvailableBytes ?? 0, now);
        }
    }
}
