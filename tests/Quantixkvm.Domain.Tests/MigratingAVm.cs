using Quantixkvm.Domain.Tests.Support;
using Quantixkvm.Domain.Vms;

namespace Quantixkvm.Domain.Tests;

/// <summary>
/// Moving a VM to another host as steps of its own operations: live (one Migrate operation on the source), cold of a stopped
/// VM (relocated, then a Recover operation on the target), cold with restart of a running one (powered off on the source first).
/// </summary>
public class MigratingAVm
{
    private static readonly Guid Source = Fixed.HostId;
    private static readonly Guid Target = Host.Target;
    private static readonly Guid Migration = Move.MigrationId;

    private static VmRelocated ColdRelocation(DateTimeOffset at) =>
        new(Fixed.VmId, Source, Target, "cold migration: " + Move.Reason, Migration, at);

    // Live.

    [Fact]
    public void a_live_migration_runs_on_the_source_host()
    {
        VmSpec.Given(Move.Running())
            .When(Move.Live())
            .ThenEvents(
                Move.Requested(MigrationMode.Live),
                Move.Step(Migration, Move.CommandId, OperationKind.Migrate, false, PowerState.Running, Source, sequence: 2))
            .WithOperationId(Migration);
    }

    [Fact]
    public void a_live_migration_gets_the_migrate_deadline()
    {
        var requested = VmSpec.Given(Move.Running()).When(Move.Live()).ThenAccepted().Events.OfType<VmOperationRequested>().Single();

        requested.Deadline.ShouldBe(Fixed.Now + Fixed.Timeouts.Migrate);
    }

    [Fact]
    public void a_vm_being_migrated_live_is_migrating_and_still_on_its_source()
    {
        var state = VmSpec.Given(Move.Running()).When(Move.Live()).ThenState();

        state.Describe().ShouldBe("MIGRATING");
        state.HostId.ShouldBe(Source);
        state.PendingMigration.ShouldBe(Move.Requested(MigrationMode.Live));
        state.DesiredPowerState.ShouldBe(PowerState.Running);
    }

    [Fact]
    public void a_paused_vm_migrates_live_and_stays_paused()
    {
        VmSpec.Given(Move.Paused())
            .When(Move.Live())
            .ThenEvents(
                Move.Requested(MigrationMode.Live),
                Move.Step(Migration, Move.CommandId, OperationKind.Migrate, false, PowerState.Paused, Source, sequence: 3));
    }

    [Theory]
    [InlineData(PowerState.Stopped, "STOPPED")]
    [InlineData(PowerState.Unknown, "UNKNOWN")]
    public void a_live_migration_of_a_vm_that_does_not_run_is_refused(PowerState observed, string described)
    {
        var rejection = VmSpec.Given(Vm.IdleIn(observed))
            .When(Move.Live())
            .ThenRejected(RejectionCode.InvalidState, containing: $"a live migration needs VM 'web-1' RUNNING or PAUSED; it is {described} (use a cold migration)");

        rejection.State.ShouldBe(described);
        rejection.Command.ShouldBe("migrate");
    }

    [Fact]
    public void a_successful_live_migration_puts_the_vm_on_its_target()
    {
        var state = VmSpec.Given(Move.LiveUnderWay())
            .When(Move.Complete(Migration, PowerState.Running))
            .ThenEvents(
                new VmOperationSucceeded(Fixed.VmId, Migration, PowerState.Running, Fixed.Now),
                new VmMigrated(Fixed.VmId, Migration, Source, Target, Fixed.Now))
            .WithOperationId(Migration)
            .ThenState();

        state.HostId.ShouldBe(Target);
        state.PendingMigration.ShouldBeNull();
        state.CurrentOperation.ShouldBeNull();
        state.Describe().ShouldBe("RUNNING");
    }

    [Fact]
    public void a_failed_live_migration_leaves_the_vm_on_its_source()
    {
        var state = VmSpec.Given([.. Move.LiveUnderWay(), Vm.Started(Move.CommandId)])
            .When(Move.Fail(Migration, "VIR_ERR_OPERATION_FAILED", "migration failed: target CPU lacks avx512f", PowerState.Running))
            .ThenEvents(
                new VmOperationFailed(Fixed.VmId, Migration, "VIR_ERR_OPERATION_FAILED", "migration failed: target CPU lacks avx512f", PowerState.Running, Fixed.Now),
                new VmMigrationFailed(Fixed.VmId, Migration, "VIR_ERR_OPERATION_FAILED: migration failed: target CPU lacks avx512f", Fixed.Now))
            .ThenState();

        state.HostId.ShouldBe(Source);
        state.PendingMigration.ShouldBeNull();
        state.Describe().ShouldBe("RUNNING");
    }

    [Fact]
    public void a_live_migration_that_times_out_fails_and_leaves_the_vm_on_its_source()
    {
        var deadline = Fixed.Earlier + Fixed.Timeouts.Migrate;

        var state = VmSpec.Given(Move.LiveUnderWay())
            .When(Move.TimeOut(Migration, deadline))
            .ThenEvents(
                new VmOperationTimedOut(Fixed.VmId, Migration, deadline),
                new VmMigrationFailed(Fixed.VmId, Migration, "timed out; the hosts' next inventories show where the VM is", deadline))
            .ThenState();

        state.HostId.ShouldBe(Source);
        state.PendingMigration.ShouldBeNull();
        state.CurrentOperation.ShouldBeNull();
    }

    [Fact]
    public void a_live_migration_does_not_time_out_before_its_deadline()
    {
        VmSpec.Given(Move.LiveUnderWay())
            .When(Move.TimeOut(Migration, Fixed.Earlier + Fixed.Timeouts.Migrate - TimeSpan.FromSeconds(1)))
            .ThenRejected(RejectionCode.InvalidState, containing: "has not reached its deadline");
    }

    [Fact]
    public void after_a_failed_migration_the_next_one_is_not_blocked()
    {
        VmSpec.Given([.. Move.LiveUnderWay(), Vm.Failed(Move.CommandId, PowerState.Running), new VmMigrationFailed(Fixed.VmId, Migration, "failed", Fixed.Earlier)])
            .When(Move.Live(commandId: "migrate-2", target: Host.Third))
            .ThenAccepted().OperationId.ShouldBe(Fixed.OperationId("migrate-2"));
    }

    [Fact]
    public void after_a_timed_out_migration_the_next_one_is_not_blocked()
    {
        VmSpec.Given([.. Move.LiveUnderWay(), Vm.TimedOut(Move.CommandId), new VmMigrationFailed(Fixed.VmId, Migration, "timed out", Fixed.Earlier)])
            .When(Move.Live(commandId: "migrate-2"))
            .ThenAccepted().Events.OfType<VmMigrationRequested>().ShouldHaveSingleItem().MigrationId.ShouldBe(Fixed.OperationId("migrate-2"));
    }

    // Cancelling.

    [Fact]
    public void a_live_migration_under_way_can_be_cancelled()
    {
        VmSpec.Given([.. Move.LiveUnderWay(), Vm.Started(Move.CommandId)])
            .When(new CancelMigration(Fixed.Context("cancel-1")))
            .ThenEvents(new VmMigrationCancelRequested(Fixed.VmId, Migration, Fixed.Actor, Fixed.Now))
            .WithOperationId(Migration);
    }

    [Fact]
    public void a_cancelled_migration_that_the_source_aborts_fails_and_the_vm_stays()
    {
        VmSpec.Given([.. Move.LiveUnderWay(), new VmMigrationCancelRequested(Fixed.VmId, Migration, Fixed.Actor, Fixed.Earlier)])
            .When(Move.Fail(Migration, "VIR_ERR_OPERATION_ABORTED", "migration job: canceled by client", PowerState.Running))
            .ThenState().HostId.ShouldBe(Source);
    }

    public static TheoryData<string> NothingToCancel => new() { "idle", "starting", "powering off for a cold move", "recovering on the target", "moved" };

    [Theory]
    [MemberData(nameof(NothingToCancel))]
    public void only_a_live_migration_under_way_can_be_cancelled(string history)
    {
        VmEvent[] given = history switch
        {
            "idle" => Move.Running(),
            "starting" => [.. Move.Stopped(), Vm.Requested(OperationKind.Start, "start-1")],
            "powering off for a cold move" => Move.PoweringOffForColdMove(),
            "recovering on the target" => Move.ColdUnderWay(),
            _ => [.. Move.LiveUnderWay(), Vm.Succeeded(Move.CommandId, PowerState.Running), new VmMigrated(Fixed.VmId, Migration, Source, Target, Fixed.Earlier)],
        };

        VmSpec.Given(given)
            .When(new CancelMigration(Fixed.Context("cancel-1")))
            .ThenRejected(RejectionCode.InvalidState, containing: "VM 'web-1' has no live migration under way to cancel")
            .Command.ShouldBe("cancel-migration");
    }

    [Fact]
    public void cancelling_a_migration_of_a_vm_that_does_not_exist_is_not_found()
    {
        VmSpec.Given().When(new CancelMigration(Fixed.Context("cancel-1"))).ThenRejected(RejectionCode.NotFound);
    }

    // Cold, stopped.

    [Fact]
    public void a_cold_migration_of_a_stopped_vm_relocates_it_and_defines_it_on_the_target()
    {
        VmSpec.Given(Move.Stopped())
            .When(Move.Cold())
            .ThenEvents(
                Move.Requested(MigrationMode.Cold),
                ColdRelocation(Fixed.Now),
                Move.Step(Migration, Move.CommandId, OperationKind.Recover, false, PowerState.Stopped, Target, sequence: 2))
            .WithOperationId(Migration);
    }

    [Fact]
    public void a_stopped_vm_moved_cold_with_restart_is_started_on_the_target()
    {
        VmSpec.Given(Move.Stopped())
            .When(Move.Cold(restartOnTarget: true))
            .ThenEvents(
                Move.Requested(MigrationMode.Cold, restartOnTarget: true),
                ColdRelocation(Fixed.Now),
                Move.Step(Migration, Move.CommandId, OperationKind.Recover, false, PowerState.Running, Target, sequence: 2));
    }

    [Fact]
    public void a_vm_moved_cold_belongs_to_its_target_while_it_is_defined_there()
    {
        var state = VmSpec.Given(Move.Stopped()).When(Move.Cold()).ThenState();

        state.HostId.ShouldBe(Target);
        state.Describe().ShouldBe("RECOVERING");
        state.PendingMigration.ShouldNotBeNull();
    }

    [Fact]
    public void a_cold_migration_is_done_when_the_target_has_defined_the_vm()
    {
        var state = VmSpec.Given(Move.ColdUnderWay())
            .When(Move.Complete(Migration, PowerState.Stopped))
            .ThenEvents(
                new VmOperationSucceeded(Fixed.VmId, Migration, PowerState.Stopped, Fixed.Now),
                new VmMigrated(Fixed.VmId, Migration, Source, Target, Fixed.Now))
            .ThenState();

        state.HostId.ShouldBe(Target);
        state.PendingMigration.ShouldBeNull();
        state.Describe().ShouldBe("STOPPED");
    }

    [Fact]
    public void a_cold_migration_whose_definition_on_the_target_fails_ends_the_move()
    {
        var state = VmSpec.Given(Move.ColdUnderWay())
            .When(Move.Fail(Migration, "VIR_ERR_STORAGE_PROBE_FAILED", "cannot open volume", PowerState.Unknown))
            .ThenEvents(
                new VmOperationFailed(Fixed.VmId, Migration, "VIR_ERR_STORAGE_PROBE_FAILED", "cannot open volume", PowerState.Unknown, Fixed.Now),
                new VmMigrationFailed(Fixed.VmId, Migration, "VIR_ERR_STORAGE_PROBE_FAILED: cannot open volume", Fixed.Now))
            .ThenState();

        state.PendingMigration.ShouldBeNull();
        state.CurrentOperation.ShouldBeNull();
    }

    // Cold, running, with restart.

    [Fact]
    public void a_running_vm_moved_cold_with_restart_is_first_powered_off_on_its_source()
    {
        var state = VmSpec.Given(Move.Running())
            .When(Move.Cold(restartOnTarget: true))
            .ThenEvents(
                Move.Requested(MigrationMode.Cold, restartOnTarget: true),
                Move.Step(Migration, Move.CommandId, OperationKind.Stop, true, PowerState.Stopped, Source, sequence: 2))
            .WithOperationId(Migration)
            .ThenState();

        state.HostId.ShouldBe(Source);
        state.Describe().ShouldBe("POWERING_OFF");
    }

    [Fact]
    public void a_paused_vm_moved_cold_with_restart_is_powered_off_first_too()
    {
        VmSpec.Given(Move.Paused())
            .When(Move.Cold(restartOnTarget: true))
            .ThenAccepted().Events.OfType<VmOperationRequested>().ShouldHaveSingleItem().ShouldSatisfyAllConditions(
                r => r.Kind.ShouldBe(OperationKind.Stop),
                r => r.Force.ShouldBeTrue(),
                r => r.HostId.ShouldBe(Source));
    }

    [Fact]
    public void once_off_on_its_source_the_vm_is_relocated_and_started_on_the_target()
    {
        var state = VmSpec.Given([.. Move.PoweringOffForColdMove(), Vm.Started(Move.CommandId)])
            .When(Move.Complete(Migration, PowerState.Stopped))
            .ThenEvents(
                new VmOperationSucceeded(Fixed.VmId, Migration, PowerState.Stopped, Fixed.Now),
                ColdRelocation(Fixed.Now),
                Move.Step(Move.RecoverStep, Move.CommandId + ":recover", OperationKind.Recover, false, PowerState.Running, Target,
                    actor: "system:migration", timeout: OperationTimeouts.Default.Create, sequence: 3))
            .WithOperationId(Migration)
            .ThenState();

        state.HostId.ShouldBe(Target);
        state.DesiredPowerState.ShouldBe(PowerState.Running);
        state.CurrentOperation!.OperationId.ShouldBe(VmDecider.RecoverStepIdFor(Fixed.VmId, Migration));
        state.PendingMigration.ShouldNotBeNull();
    }

    [Fact]
    public void a_cold_migration_with_restart_is_done_when_the_vm_runs_on_the_target()
    {
        var state = VmSpec.Given(Move.RecoveringOnTargetAfterPowerOff())
            .When(Move.Complete(Move.RecoverStep, PowerState.Running))
            .ThenEvents(
                new VmOperationSucceeded(Fixed.VmId, Move.RecoverStep, PowerState.Running, Fixed.Now),
                new VmMigrated(Fixed.VmId, Migration, Source, Target, Fixed.Now))
            .WithOperationId(Move.RecoverStep)
            .ThenState();

        state.HostId.ShouldBe(Target);
        state.PendingMigration.ShouldBeNull();
        state.Describe().ShouldBe("RUNNING");
    }

    [Fact]
    public void a_cold_migration_whose_power_off_fails_leaves_the_vm_running_on_its_source()
    {
        var state = VmSpec.Given(Move.PoweringOffForColdMove())
            .When(Move.Fail(Migration, "VIR_ERR_OPERATION_TIMEOUT", "cannot acquire state change lock", PowerState.Running))
            .ThenEvents(
                new VmOperationFailed(Fixed.VmId, Migration, "VIR_ERR_OPERATION_TIMEOUT", "cannot acquire state change lock", PowerState.Running, Fixed.Now),
                new VmMigrationFailed(Fixed.VmId, Migration, "VIR_ERR_OPERATION_TIMEOUT: cannot acquire state change lock", Fixed.Now))
            .ThenState();

        state.HostId.ShouldBe(Source);
        state.PendingMigration.ShouldBeNull();
        state.ObservedPowerState.ShouldBe(PowerState.Running);
    }

    [Fact]
    public void a_cold_migration_whose_power_off_times_out_is_not_relocated()
    {
        var deadline = Fixed.Earlier + Fixed.Timeouts.ForceStop;

        var state = VmSpec.Given(Move.PoweringOffForColdMove())
            .When(Move.TimeOut(Migration, deadline))
            .ThenEvents(
                new VmOperationTimedOut(Fixed.VmId, Migration, deadline),
                new VmMigrationFailed(Fixed.VmId, Migration, "timed out; the hosts' next inventories show where the VM is", deadline))
            .ThenState();

        state.HostId.ShouldBe(Source);
    }

    [Fact]
    public void a_cold_migration_of_a_running_vm_without_restart_is_refused()
    {
        var rejection = VmSpec.Given(Move.Running())
            .When(Move.Cold(restartOnTarget: false))
            .ThenRejected(RejectionCode.InvalidState,
                containing: "VM 'web-1' is RUNNING: a cold migration needs it STOPPED, or RUNNING with restartOnTarget");

        rejection.Command.ShouldBe("migrate");
    }

    [Fact]
    public void a_cold_migration_of_a_vm_in_an_unknown_state_is_refused_even_with_restart()
    {
        VmSpec.Given(Vm.IdleIn(PowerState.Unknown))
            .When(Move.Cold(restartOnTarget: true))
            .ThenRejected(RejectionCode.InvalidState, containing: "VM 'web-1' is UNKNOWN: a cold migration needs it STOPPED");
    }

    // Refusals and repeats.

    [Theory]
    [InlineData(MigrationMode.Live)]
    [InlineData(MigrationMode.Cold)]
    public void migrating_a_vm_to_the_host_it_is_on_is_refused(MigrationMode mode)
    {
        var command = mode == MigrationMode.Live ? Move.Live(target: Source) : Move.Cold(target: Source, restartOnTarget: true);

        VmSpec.Given(Move.Running())
            .When(command)
            .ThenRejected(RejectionCode.Validation, containing: $"VM 'web-1' is already on host {Source}")
            .Command.ShouldBe("migrate");
    }

    [Fact]
    public void migrating_a_vm_while_another_operation_runs_is_refused()
    {
        VmSpec.Given([.. Move.Running(), Vm.Requested(OperationKind.Reboot, "reboot-1")])
            .When(Move.Live())
            .ThenRejected(RejectionCode.InvalidState, containing: $"cannot migrate VM 'web-1': its reboot operation {Fixed.OperationId("reboot-1")} is still under way")
            .State.ShouldBe("REBOOTING");
    }

    [Fact]
    public void a_second_migration_while_one_is_under_way_is_refused()
    {
        VmSpec.Given(Move.LiveUnderWay())
            .When(Move.Live(commandId: "migrate-2", target: Host.Third))
            .ThenRejected(RejectionCode.InvalidState, containing: $"its migrate operation {Migration} is still under way");
    }

    [Fact]
    public void a_forced_stop_does_not_supersede_a_migration()
    {
        VmSpec.Given(Move.LiveUnderWay())
            .When(Cmd.ForceStop())
            .ThenRejected(RejectionCode.InvalidState, containing: "cannot stop --force VM 'web-1'");
    }

    [Fact]
    public void a_vm_being_recovered_on_its_target_cannot_be_stopped_meanwhile()
    {
        VmSpec.Given(Move.RecoveringOnTargetAfterPowerOff())
            .When(Cmd.ForceStop())
            .ThenRejected(RejectionCode.InvalidState)
            .State.ShouldBe("RECOVERING");
    }

    public static TheoryData<string> MovesUnderWayOrDone => new()
    {
        "live under way", "live done", "cold under way", "powering off for a cold move", "recovering on the target", "failed",
    };

    [Theory]
    [MemberData(nameof(MovesUnderWayOrDone))]
    public void repeating_a_migrate_command_changes_nothing(string history)
    {
        VmEvent[] given = history switch
        {
            "live under way" => Move.LiveUnderWay(),
            "live done" => [.. Move.LiveUnderWay(), Vm.Succeeded(Move.CommandId, PowerState.Running), new VmMigrated(Fixed.VmId, Migration, Source, Target, Fixed.Earlier)],
            "cold under way" => Move.ColdUnderWay(),
            "powering off for a cold move" => Move.PoweringOffForColdMove(),
            "recovering on the target" => Move.RecoveringOnTargetAfterPowerOff(),
            _ => [.. Move.LiveUnderWay(), Vm.Failed(Move.CommandId, PowerState.Running), new VmMigrationFailed(Fixed.VmId, Migration, "failed", Fixed.Earlier)],
        };
        var command = history.Contains("cold", StringComparison.Ordinal) || history.Contains("recovering", StringComparison.Ordinal)
            ? Move.Cold(restartOnTarget: true)
            : Move.Live();

        VmSpec.Given(given).When(command).ThenNothingChanges(Migration);
    }

    [Fact]
    public void migrating_a_vm_that_does_not_exist_is_not_found()
    {
        VmSpec.Given().When(Move.Live()).ThenRejected(RejectionCode.NotFound, containing: "the VM does not exist").Command.ShouldBe("migrate");
    }

    [Fact]
    public void migrating_a_deleted_vm_is_not_found()
    {
        VmSpec.Given(Vm.Gone()).When(Move.Cold()).ThenRejected(RejectionCode.NotFound, containing: "was deleted");
    }

    [Fact]
    public void the_recover_step_of_a_move_has_an_id_of_its_own()
    {
        Move.RecoverStep.ShouldBe(VmDecider.RecoverStepIdFor(Fixed.VmId, Migration));
        Move.RecoverStep.ShouldNotBe(Migration);
        Move.RecoverStep.ShouldNotBe(VmDecider.RecoverStepIdFor(Fixed.VmId, Fixed.OperationId("migrate-2")));
    }
}
