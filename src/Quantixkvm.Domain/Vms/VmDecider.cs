namespace Quantixkvm.Domain.Vms;

using VmDecision = Decision<VmEvent>;

/// <summary>The VM aggregate: <see cref="Decide"/> turns a command into events or a rejection; <see cref="Evolve"/> folds them.</summary>
public static class VmDecider
{
    /// <summary>The id of the VM that a create command with this idempotency key makes.</summary>
    public static Guid VmIdForCreate(string commandId) => DeterministicId.From("vm", commandId);

    /// <summary>The id of the operation that this command id starts on this VM: a repeat finds the same one.</summary>
    public static Guid OperationIdFor(Guid vmId, string commandId) => DeterministicId.From("vm-operation", vmId.ToString(), commandId);

    public static VmDecision Decide(VmCommand command, VmState state) => command switch
    {
        CreateVm create => DecideCreate(create, state),
        VmLifecycleCommand lifecycle => DecideLifecycle(lifecycle, state),
        MarkOperationStarted started => DecideStarted(started, state),
        CompleteOperation completed => DecideCompleted(completed, state),
        FailOperation failed => DecideFailed(failed, state),
        TimeOutOperation timeout => DecideTimeout(timeout, state),
        ObservePowerState observed => DecideObserved(observed, state),
        _ => throw new ArgumentOutOfRangeException(nameof(command), command.GetType().Name, "unknown VM command"),
    };

    public static VmState Evolve(VmState state, VmEvent @event) => @event switch
    {
        VmCreated e => state with
        {
            VmId = e.VmId,
            Lifecycle = VmLifecycle.Active,
            Name = e.Name,
            Vcpus = e.Vcpus,
            MemoryMiB = e.MemoryMiB,
            HostId = e.HostId,
            DesiredPowerState = PowerState.Stopped,
            ObservedPowerState = PowerState.Unknown,
        },
        VmOperationRequested e => state with
        {
            DesiredPowerState = e.DesiredPowerState,
            CurrentOperation = new VmOperation(e.OperationId, e.CommandId, e.Kind, e.Force, OperationStatus.Pending, e.Deadline),
            Operations = state.Operations.SetItem(e.OperationId, (e.Kind, e.Force, OperationStatus.Pending)),
        },
        VmOperationStarted e => WithStatus(state, e.OperationId, OperationStatus.Running) with
        {
            CurrentOperation = state.CurrentOperation is { } op && op.OperationId == e.OperationId
                ? op with { Status = OperationStatus.Running }
                : state.CurrentOperation,
        },
        VmOperationSucceeded e => Finish(state, e.OperationId, OperationStatus.Succeeded).Reported(e.HostReportedAt) with
        {
            ObservedPowerState = e.ObservedPowerState,
        },
        VmOperationFailed e => Finish(state, e.OperationId, OperationStatus.Failed).Reported(e.HostReportedAt) with
        {
            ObservedPowerState = e.ObservedPowerState,
        },
        VmOperationTimedOut e => Finish(state, e.OperationId, OperationStatus.TimedOut),
        VmPowerStateObserved e => state.Reported(e.HostReportedAt) with { ObservedPowerState = e.ObservedPowerState },
        VmDeleted => state with { Lifecycle = VmLifecycle.Deleted, CurrentOperation = null },
        _ => state,
    };

    public static VmState Fold(IEnumerable<VmEvent> events) => events.Aggregate(VmState.Initial, Evolve);

    private static VmState WithStatus(VmState state, Guid operationId, OperationStatus status) =>
        state.Operations.TryGetValue(operationId, out var known)
            ? state with { Operations = state.Operations.SetItem(operationId, (known.Kind, known.Force, status)) }
            : state;

    private static VmState Finish(VmState state, Guid operationId, OperationStatus status) =>
        WithStatus(state, operationId, status) with
        {
            CurrentOperation = state.CurrentOperation?.OperationId == operationId ? null : state.CurrentOperation,
        };

    private static VmDecision DecideCreate(CreateVm command, VmState state)
    {
        var operationId = OperationIdFor(command.VmId, command.Context.CommandId);
        if (state.Lifecycle != VmLifecycle.None)
        {
            if (!state.Operations.ContainsKey(operationId))
            {
                return VmDecision.Reject(RejectionCode.Conflict, $"VM {command.VmId} already exists", state.Describe(), "create");
            }

            // A repeat must be the same command: a reused key with another spec is a client bug, not a retry.
            return (command.Name, command.Vcpus, command.MemoryMiB) == (state.Name, state.Vcpus, state.MemoryMiB)
                ? VmDecision.Accept(operationId)
                : VmDecision.Reject(
                    RejectionCode.Validation,
                    $"command id '{command.Context.CommandId}' already created VM '{state.Name}' ({state.Vcpus} vCPUs, {state.MemoryMiB} MiB); "
                    + "a different spec needs a new command id",
                    state.Describe(), "create");
        }

        var problems = VmLimits.Check(command.Name, command.Vcpus, command.MemoryMiB);
        if (problems.Count > 0)
        {
            return VmDecision.Reject(RejectionCode.Validation, string.Join("; ", problems), command: "create");
        }

        if (command.HostId == Guid.Empty)
        {
            return VmDecision.Reject(RejectionCode.NoHostAvailable, "no host was chosen for the VM", command: "create");
        }

        var now = command.Context.Now;
        return VmDecision.Accept(
            operationId,
            new VmCreated(command.VmId, command.Name, command.Vcpus, command.MemoryMiB, command.HostId, now),
            new VmOperationRequested(
                command.VmId, operationId, command.Context.CommandId, OperationKind.Create, Force: false,
                command.Start ? PowerState.Running : PowerState.Stopped, command.HostId, command.Context.Actor, now,
                now + command.Timeouts.For(OperationKind.Create, force: false)));
    }

    private static VmDecision DecideLifecycle(VmLifecycleCommand command, VmState state)
    {
        var force = command is StopVm { Force: true };
        var name = VmPreconditions.CommandName(command.Kind, force);
        if (state.Lifecycle == VmLifecycle.None)
        {
            return VmDecision.Reject(RejectionCode.NotFound, "the VM does not exist", state.Describe(), name);
        }

        // A repeat is recognised before anything else, so retrying a delete that has finished is still a no-op.
        var operationId = OperationIdFor(state.VmId, command.Context.CommandId);
        if (state.Operations.TryGetValue(operationId, out var earlier))
        {
            return earlier.Kind == command.Kind && earlier.Force == force
                ? VmDecision.Accept(operationId)
                : VmDecision.Reject(
                    RejectionCode.Validation,
                    $"command id '{command.Context.CommandId}' was already used for a {VmPreconditions.CommandName(earlier.Kind, earlier.Force)} operation on this VM",
                    state.Describe(), name);
        }

        if (state.Lifecycle == VmLifecycle.Deleted)
        {
            return VmDecision.Reject(RejectionCode.NotFound, $"VM {state.VmId} was deleted", state.Describe(), name);
        }

        var events = new List<VmEvent>();
        var now = command.Context.Now;
        if (state.CurrentOperation is { } current)
        {
            if (!VmPreconditions.CanSupersede(current, command.Kind, force))
            {
                return VmDecision.Reject(
                    RejectionCode.InvalidState,
                    $"cannot {name} VM '{state.Name}': its {current.Kind.ToString().ToLowerInvariant()} operation {current.OperationId} "
                    + $"is still under way (deadline {current.Deadline:O})",
                    state.Describe(), name);
            }

            events.Add(new VmOperationFailed(
                state.VmId, current.OperationId, "SUPERSEDED", $"superseded by forced stop {operationId}",
                state.ObservedPowerState, now));
        }
        else
        {
            var allowed = VmPreconditions.AllowedFrom(command.Kind, force);
            if (!allowed.Contains(state.ObservedPowerState))
            {
                return VmDecision.Reject(
                    RejectionCode.InvalidState,
                    $"cannot {name} VM '{state.Name}' while it is {state.Describe()}; allowed only when "
                    + string.Join(" or ", allowed.Select(s => s.ToString().ToUpperInvariant())),
                    state.Describe(), name);
            }
        }

        events.Add(new VmOperationRequested(
            state.VmId, operationId, command.Context.CommandId, command.Kind, force,
            VmPreconditions.DesiredAfter(command.Kind, state.DesiredPowerState), state.HostId, command.Context.Actor, now,
            now + command.Timeouts.For(command.Kind, force)));
        return new VmDecision.Accepted(events, operationId);
    }

    private static VmDecision DecideStarted(MarkOperationStarted command, VmState state)
    {
        if (!state.Operations.ContainsKey(command.OperationId))
        {
            return UnknownOperation(command.OperationId, state);
        }

        return state.CurrentOperation is { Status: OperationStatus.Pending } op && op.OperationId == command.OperationId
            ? VmDecision.Accept(command.OperationId, new VmOperationStarted(state.VmId, command.OperationId, command.Context.Now))
            : VmDecision.Accept(command.OperationId);
    }

    private static VmDecision DecideCompleted(CompleteOperation command, VmState state)
    {
        if (!state.Operations.ContainsKey(command.OperationId))
        {
            return UnknownOperation(command.OperationId, state);
        }

        if (state.CurrentOperation?.OperationId != command.OperationId)
        {
            return LateReport(command.OperationId, command.Observed, command.ReportedAt, command.Context.Now, state);
        }

        var now = command.Context.Now;
        var succeeded = new VmOperationSucceeded(state.VmId, command.OperationId, command.Observed, now, command.ReportedAt);
        return state.CurrentOperation.Kind == OperationKind.Delete
            ? VmDecision.Accept(command.OperationId, succeeded, new VmDeleted(state.VmId, now))
            : VmDecision.Accept(command.OperationId, succeeded);
    }

    private static VmDecision DecideFailed(FailOperation command, VmState state)
    {
        if (!state.Operations.ContainsKey(command.OperationId))
        {
            return UnknownOperation(command.OperationId, state);
        }

        if (state.CurrentOperation?.OperationId != command.OperationId)
        {
            return LateReport(command.OperationId, command.Observed, command.ReportedAt, command.Context.Now, state);
        }

        return VmDecision.Accept(
            command.OperationId,
            new VmOperationFailed(
                state.VmId, command.OperationId, command.ErrorCode, command.ErrorMessage, command.Observed, command.Context.Now, command.ReportedAt));
    }

    private static VmDecision DecideTimeout(TimeOutOperation command, VmState state)
    {
        if (state.CurrentOperation is not { } current || current.OperationId != command.OperationId)
        {
            return state.Operations.ContainsKey(command.OperationId)
                ? VmDecision.Accept(command.OperationId)
                : UnknownOperation(command.OperationId, state);
        }

        if (command.Context.Now < current.Deadline)
        {
            return VmDecision.Reject(
                RejectionCode.InvalidState,
                $"operation {current.OperationId} has not reached its deadline {current.Deadline:O}",
                state.Describe(), "time-out");
        }

        return VmDecision.Accept(command.OperationId, new VmOperationTimedOut(state.VmId, command.OperationId, command.Context.Now));
    }

    private static VmDecision DecideObserved(ObservePowerState command, VmState state)
    {
        if (state.Lifecycle != VmLifecycle.Active)
        {
            return VmDecision.Reject(RejectionCode.NotFound, "the VM does not exist", state.Describe(), "observe");
        }

        // While an operation is under way its own outcome will say what the host did; a reading older than
        // the last report applied (inventories and outcomes travel on different queues) says nothing new.
        if (state.CurrentOperation is not null || command.Observed == state.ObservedPowerState || state.IsStale(command.ReportedAt))
        {
            return VmDecision.Accept(null);
        }

        return VmDecision.Accept(
            null, new VmPowerStateObserved(state.VmId, command.Observed, command.Source, command.Context.Now, command.ReportedAt));
    }

    /// <summary>
    /// A report for an operation that has already ended. After a timeout it is news: keep what it says
    /// of the host. After a success or failure it is a duplicate delivery, and says nothing new.
    /// </summary>
    private static VmDecision LateReport(Guid operationId, PowerState observed, DateTimeOffset? reportedAt, DateTimeOffset now, VmState state) =>
        state.Operations[operationId].Status == OperationStatus.TimedOut
        && state.Lifecycle == VmLifecycle.Active && state.CurrentOperation is null && observed != state.ObservedPowerState
        && !state.IsStale(reportedAt)
            ? VmDecision.Accept(operationId, new VmPowerStateObserved(state.VmId, observed, "late-report", now, reportedAt))
            : VmDecision.Accept(operationId);

    private static VmDecision UnknownOperation(Guid operationId, VmState state) =>
        VmDecision.Reject(RejectionCode.NotFound, $"operation {operationId} is not known on VM {state.VmId}", state.Describe());
}
