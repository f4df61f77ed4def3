namespace Quantixkvm.Domain.Vms;

using VmDecision = Decision<VmEvent>;

/// <summary>
/// Moves between hosts, as steps of the VM's own operations (so each step has a deadline and one runs at a time):
/// live = one Migrate operation on the source; cold = a Recover operation on the target, preceded by a forced stop on the
/// source when a running VM may be restarted; HA = relocation and a Recover operation once the old host is fenced.
/// </summary>
public static partial class VmDecider
{
    /// <summary>The id of the Recover step that follows the power-off of a cold move with restart.</summary>
    public static Guid RecoverStepIdFor(Guid vmId, Guid migrationId) => DeterministicId.From("vm-migration-recover", vmId.ToString(), migrationId.ToString());

    /// <summary>The id of the Recover operation HA starts for a VM after its host was fenced (one per host failure and VM).</summary>
    public static Guid HaRecoverIdFor(Guid vmId, string commandId) => DeterministicId.From("vm-ha-recover", vmId.ToString(), commandId);

    private static VmDecision DecideMigrate(MigrateVm command, VmState state)
    {
        const string name = "migrate";
        var migrationId = OperationIdFor(state.VmId, command.Context.CommandId);
        if (Missing(state, name) is { } missing)
        {
            return missing;
        }

        if (state.Operations.ContainsKey(migrationId))
        {
            return VmDecision.Accept(migrationId);
        }

        if (state.CurrentOperation is { } current)
        {
            return VmDecision.Reject(RejectionCode.InvalidState,
                $"cannot migrate VM '{state.Name}': its {VmPreconditions.CommandName(current.Kind, current.Force)} operation {current.OperationId} is still under way",
                state.Describe(), name);
        }

        if (command.BandwidthMiBs is <= 0)
        {
            return VmDecision.Reject(RejectionCode.Validation, $"a migration's bandwidth must be positive (got {command.BandwidthMiBs} MiB/s)", state.Describe(), name);
        }

        if (command.TargetHostId == state.HostId)
        {
            return VmDecision.Reject(RejectionCode.Validation, $"VM '{state.Name}' is already on host {state.HostId}", state.Describe(), name);
        }

        var now = command.Context.Now;
        var requested = new VmMigrationRequested(
            state.VmId, migrationId, state.HostId, command.TargetHostId, command.Mode, command.RestartOnTarget, command.Reason,
            command.Context.Actor, now, command.BandwidthMiBs);
        var running = state.ObservedPowerState is PowerState.Running or PowerState.Paused;
        var decision = MigrateSteps(command, state, migrationId, requested, running);
        return command.Placement is { } placement && decision is VmDecision.Accepted accepted
            ? new VmDecision.Accepted([.. accepted.Events, new VmPlaced(state.VmId, "migrate", placement, now)], accepted.OperationId)
            : decision;
    }

    private static VmDecision MigrateSteps(MigrateVm command, VmState state, Guid migrationId, VmMigrationRequested requested, bool running)
    {
        const string name = "migrate";
        var now = command.Context.Now;
        if (command.Mode == MigrationMode.Live)
        {
            return running
                ? VmDecision.Accept(migrationId, requested, Request(state, command.Context, migrationId, OperationKind.Migrate, false,
                    state.DesiredPowerState, state.HostId, command.Timeouts))
                : VmDecision.Reject(RejectionCode.InvalidState,
                    $"a live migration needs VM '{state.Name}' RUNNING or PAUSED; it is {state.Describe()} (use a cold migration)", state.Describe(), name);
        }

        if (state.ObservedPowerState == PowerState.Stopped)
        {
            return VmDecision.Accept(
                migrationId, requested,
                new VmRelocated(state.VmId, state.HostId, command.TargetHostId, $"cold migration: {command.Reason}", migrationId, now),
                Request(state, command.Context, migrationId, OperationKind.Recover, false,
                    command.RestartOnTarget ? PowerState.Running : PowerState.Stopped, command.TargetHostId, command.Timeouts));
        }

        return running && command.RestartOnTarget
            ? VmDecision.Accept(migrationId, requested, Request(state, command.Context, migrationId, OperationKind.Stop, true,
                PowerState.Stopped, state.HostId, command.Timeouts))
            : VmDecision.Reject(RejectionCode.InvalidState,
                $"VM '{state.Name}' is {state.Describe()}: a cold migration needs it STOPPED, or RUNNING with restartOnTarget (it is powered off, then started on the target)",
                state.Describe(), name);
    }

    private static VmDecision DecideCancelMigration(CancelMigration command, VmState state)
    {
        if (Missing(state, "cancel-migration") is { } missing)
        {
            return missing;
        }

        return state is { PendingMigration: { } pending, CurrentOperation: { Kind: OperationKind.Migrate } current }
               && current.OperationId == pending.MigrationId
            ? VmDecision.Accept(pending.MigrationId, new VmMigrationCancelRequested(state.VmId, pending.MigrationId, command.Context.Actor, command.Context.Now))
            : VmDecision.Reject(RejectionCode.InvalidState, $"VM '{state.Name}' has no live migration under way to cancel", state.Describe(), "cancel-migration");
    }

    private static VmDecision DecideRecover(RecoverVm command, VmState state)
    {
        // Not on the fenced host any more (already restarted, moved, or deleted): nothing to do, and never a second start.
        if (state.Lifecycle != VmLifecycle.Active || state.HostId != command.FromHostId || command.TargetHostId == command.FromHostId)
        {
            return VmDecision.Accept(null);
        }

        var now = command.Context.Now;
        var operationId = HaRecoverIdFor(state.VmId, command.Context.CommandId);
        var events = new List<VmEvent>();
        if (state.CurrentOperation is { } current)
        {
            events.Add(new VmOperationFailed(state.VmId, current.OperationId, "HOST_FENCED",
                $"host {command.FromHostId} was fenced before the operation finished", PowerState.Stopped, now));
            events.AddRange(Released(state, current.OperationId, _ => "the VM's host was fenced", now));
            events.AddRange(MigrationFailed(state, "the VM's host was fenced", now));
        }

        // A VM that should run comes back running; one that was stopped is only defined on its new host. One powered off for a
        // cold move with restart was meant to run on (its power-off step asks for STOPPED only on the way).
        var restarting = state.PendingMigration is { Mode: MigrationMode.Cold, RestartOnTarget: true };
        var desired = state.DesiredPowerState == PowerState.Stopped && !restarting ? PowerState.Stopped : PowerState.Running;
        events.Add(new VmRelocated(state.VmId, command.FromHostId, command.TargetHostId, command.Reason, null, now));
        events.Add(Request(state, command.Context, operationId, OperationKind.Recover, false, desired, command.TargetHostId, command.Timeouts));
        if (command.Placement is { } placement)
        {
            events.Add(new VmPlaced(state.VmId, "ha-restart", placement, now));
        }

        return new VmDecision.Accepted(events, operationId);
    }

    private static VmDecision DecideRecoveryBlocked(BlockRecovery command, VmState state) =>
        state.Lifecycle != VmLifecycle.Active || state.HostId != command.FencedHostId || state.RecoveryBlockedReason == command.Reason
            ? VmDecision.Accept(null)
            : VmDecision.Accept(null, new VmRecoveryBlocked(state.VmId, command.FencedHostId, command.Reason, command.Context.Now));

    private static VmDecision DecideHaPriority(SetHaPriority command, VmState state)
    {
        if (Missing(state, "set-ha-priority") is { } missing)
        {
            return missing;
        }

        return state.HaPriority == command.Priority
            ? VmDecision.Accept(null)
            : VmDecision.Accept(null, new VmHaPrioritySet(state.VmId, command.Priority, command.Context.Now));
    }

    /// <summary>What follows a finished step of a move: the cold move's Recover after its power-off, or the end of the move.</summary>
    private static IEnumerable<VmEvent> MigrationStepDone(VmState state, CompleteOperation command, DateTimeOffset now)
    {
        if (state.PendingMigration is not { } move || state.CurrentOperation is not { } step)
        {
            yield break;
        }

        if (step.Kind == OperationKind.Stop && step.OperationId == move.MigrationId)
        {
            // Off on the source: now it may be defined and started on the target, and never runs on both.
            var recoverId = RecoverStepIdFor(state.VmId, move.MigrationId);
            yield return new VmRelocated(state.VmId, move.FromHostId, move.ToHostId, $"cold migration: {move.Reason}", move.MigrationId, now);
            yield return new VmOperationRequested(
                state.VmId, recoverId, step.CommandId + ":recover", OperationKind.Recover, false, PowerState.Running, move.ToHostId,
                "system:migration", now, now + OperationTimeouts.Default.Create, state.NextOperationSequence);
        }
        else if (step.Kind is OperationKind.Migrate or OperationKind.Recover)
        {
            yield return new VmMigrated(state.VmId, move.MigrationId, move.FromHostId, move.ToHostId, now);
        }
    }

    private static IEnumerable<VmEvent> MigrationFailed(VmState state, string reason, DateTimeOffset now) =>
        state.PendingMigration is { } move ? [new VmMigrationFailed(state.VmId, move.MigrationId, reason, now)] : [];

    private static VmOperationRequested Request(
        VmState state, CommandContext context, Guid operationId, OperationKind kind, bool force, PowerState desired, Guid hostId, OperationTimeouts timeouts) =>
        new(state.VmId, operationId, context.CommandId, kind, force, desired, hostId, context.Actor, context.Now, context.Now + timeouts.For(kind, force),
            state.NextOperationSequence);

    private static VmDecision? Missing(VmState state, string name) => state.Lifecycle switch
    {
        VmLifecycle.None => VmDecision.Reject(RejectionCode.NotFound, "the VM does not exist", state.Describe(), name),
        VmLifecycle.Deleted => VmDecision.Reject(RejectionCode.NotFound, $"VM {state.VmId} was deleted", state.Describe(), name),
        _ => null,
    };
}
