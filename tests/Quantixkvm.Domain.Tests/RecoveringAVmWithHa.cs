using Quantixkvm.Domain.Tests.Support;
using Quantixkvm.Domain.Vms;

namespace Quantixkvm.Domain.Tests;

/// <summary>
/// HA: once a VM's host is fenced, the VM is relocated and recovered on another host (decided once, so it never starts twice);
/// an operation the fenced host left unfinished fails; when no host can take it, that is recorded once per reason.
/// </summary>
public class RecoveringAVmWithHa
{
    private static readonly Guid Fenced = Fixed.HostId;
    private static readonly Guid NewHost = Host.Target;
    private const string HaCommandId = "ha-kvm-01-1";
    private const string Reason = "host kvm-01 was fenced";

    private static readonly Guid Recovery = VmDecider.HaRecoverIdFor(Fixed.VmId, HaCommandId);

    private static RecoverVm Recover(string commandId = HaCommandId, Guid? from = null, Guid? to = null) =>
        new(Fixed.Context(commandId), Fixed.Timeouts, from ?? Fenced, to ?? NewHost, Reason);

    private static VmRelocated Relocated(DateTimeOffset? at = null) => new(Fixed.VmId, Fenced, NewHost, Reason, null, at ?? Fixed.Now);

    private static VmOperationRequested RecoverRequested(PowerState desired, DateTimeOffset? at = null, long sequence = 0) =>
        Move.Step(Recovery, HaCommandId, OperationKind.Recover, false, desired, NewHost, at, sequence: sequence);

    private static VmOperationFailed FailedByFencing(Guid operationId) =>
        new(Fixed.VmId, operationId, "HOST_FENCED", $"host {Fenced} was fenced before the operation finished", PowerState.Stopped, Fixed.Now);

    private static BlockRecovery Block(string reason, Guid? fencedHost = null) => new(Fixed.Context("ha-block-1"), fencedHost ?? Fenced, reason);

    [Fact]
    public void a_running_vm_of_a_fenced_host_is_relocated_and_recovered_running_on_another()
    {
        VmSpec.Given(Move.Running())
            .When(Recover())
            .ThenEvents(Relocated(), RecoverRequested(PowerState.Running, sequence: 2))
            .WithOperationId(Recovery);
    }

    [Fact]
    public void a_vm_being_recovered_belongs_to_its_new_host()
    {
        var state = VmSpec.Given(Move.Running()).When(Recover()).ThenState();

        state.HostId.ShouldBe(NewHost);
        state.Describe().ShouldBe("RECOVERING");
        state.DesiredPowerState.ShouldBe(PowerState.Running);
        state.PendingMigration.ShouldBeNull();
        state.ObservedPowerState.ShouldBe(PowerState.Unknown, "nothing has been reported from the new host yet");
    }

    [Fact]
    public void a_paused_vm_comes_back_running()
    {
        VmSpec.Given(Move.Paused()).When(Recover()).ThenEvents(Relocated(), RecoverRequested(PowerState.Running, sequence: 3));
    }

    [Fact]
    public void a_stopped_vm_is_only_defined_on_its_new_host()
    {
        VmSpec.Given(Move.Stopped()).When(Recover()).ThenEvents(Relocated(), RecoverRequested(PowerState.Stopped, sequence: 2));
    }

    [Fact]
    public void a_vm_that_should_run_comes_back_running_even_if_its_fenced_host_last_saw_it_stopped()
    {
        VmSpec.Given([.. Move.Running(), Vm.Observed(PowerState.Stopped)])
            .When(Recover())
            .ThenEvents(Relocated(), RecoverRequested(PowerState.Running, sequence: 2));
    }

    [Fact]
    public void a_recovered_vm_is_done_when_its_new_host_reports_and_that_is_not_a_migration()
    {
        var state = VmSpec.Given([.. Move.Running(), Relocated(Fixed.Earlier), RecoverRequested(PowerState.Running, Fixed.Earlier)])
            .When(Move.Complete(Recovery, PowerState.Running))
            .ThenEvents(new VmOperationSucceeded(Fixed.VmId, Recovery, PowerState.Running, Fixed.Now))
            .ThenState();

        state.HostId.ShouldBe(NewHost);
        state.Describe().ShouldBe("RUNNING");
    }

    [Fact]
    public void a_vm_already_recovered_is_left_alone_so_it_never_starts_twice()
    {
        var recovered = (VmEvent[])[.. Move.Running(), Relocated(Fixed.Earlier), RecoverRequested(PowerState.Running, Fixed.Earlier)];

        VmSpec.Given(recovered).When(Recover()).ThenNothingChanges(null);
        VmSpec.Given(recovered).When(Recover(commandId: "ha-kvm-01-2", to: Host.Third)).ThenNothingChanges(null);
        VmSpec.Given([.. recovered, new VmOperationSucceeded(Fixed.VmId, Recovery, PowerState.Running, Fixed.Earlier)])
            .When(Recover(commandId: "ha-kvm-01-3"))
            .ThenNothingChanges(null);
    }

    [Fact]
    public void a_vm_on_another_host_is_left_alone()
    {
        VmSpec.Given(Move.Running()).When(Recover(from: Host.Third, to: NewHost)).ThenNothingChanges(null);
    }

    [Fact]
    public void a_vm_that_moved_away_before_its_old_host_was_fenced_is_left_alone()
    {
        VmSpec.Given([.. Move.LiveUnderWay(), Vm.Succeeded(Move.CommandId, PowerState.Running), new VmMigrated(Fixed.VmId, Move.MigrationId, Fenced, NewHost, Fixed.Earlier)])
            .When(Recover(to: Host.Third))
            .ThenNothingChanges(null);
    }

    [Fact]
    public void a_recovery_onto_the_fenced_host_itself_does_nothing()
    {
        VmSpec.Given(Move.Running()).When(Recover(to: Fenced)).ThenNothingChanges(null);
    }

    [Fact]
    public void a_deleted_vm_or_one_that_never_existed_is_not_recovered()
    {
        VmSpec.Given(Vm.Gone()).When(Recover()).ThenNothingChanges(null);
        VmSpec.Given().When(Recover()).ThenNothingChanges(null);
    }

    [Fact]
    public void an_operation_the_fenced_host_left_unfinished_fails_with_host_fenced()
    {
        var reboot = Fixed.OperationId("reboot-1");

        var state = VmSpec.Given([.. Move.Running(), Vm.Requested(OperationKind.Reboot, "reboot-1", desired: PowerState.Running), Vm.Started("reboot-1")])
            .When(Recover())
            .ThenEvents(FailedByFencing(reboot), Relocated(), RecoverRequested(PowerState.Running, sequence: 3))
            .WithOperationId(Recovery)
            .ThenState();

        state.Operations[reboot].Status.ShouldBe(OperationStatus.Failed);
        state.CurrentOperation!.OperationId.ShouldBe(Recovery);
    }

    [Fact]
    public void a_vm_whose_stop_was_unfinished_comes_back_only_defined()
    {
        VmSpec.Given([.. Move.Running(), Vm.Requested(OperationKind.Stop, "stop-1")])
            .When(Recover())
            .ThenEvents(FailedByFencing(Fixed.OperationId("stop-1")), Relocated(), RecoverRequested(PowerState.Stopped, sequence: 3));
    }

    [Fact]
    public void a_disk_being_attached_on_the_fenced_host_is_released()
    {
        var attach = Fixed.OperationId("attach-1");
        var disk = new VmDisk(Fixed.SpareVolume, "vda", DiskBus.Virtio, null, false);

        VmSpec.Given([.. Move.Running(), Vm.Requested(OperationKind.AttachDisk, "attach-1", desired: PowerState.Running), new VmDiskAttachRequested(Fixed.VmId, attach, disk)])
            .When(Recover())
            .ThenEvents(
                FailedByFencing(attach),
                new VmDiskDetached(Fixed.VmId, attach, Fixed.SpareVolume, "the VM's host was fenced", Fixed.Now),
                Relocated(),
                RecoverRequested(PowerState.Running, sequence: 3));
    }

    [Fact]
    public void a_live_migration_away_from_the_fenced_host_fails_and_the_vm_is_recovered_elsewhere()
    {
        var state = VmSpec.Given([.. Move.LiveUnderWay(), Vm.Started(Move.CommandId)])
            .When(Recover(to: Host.Third))
            .ThenEvents(
                FailedByFencing(Move.MigrationId),
                new VmMigrationFailed(Fixed.VmId, Move.MigrationId, "the VM's host was fenced", Fixed.Now),
                new VmRelocated(Fixed.VmId, Fenced, Host.Third, Reason, null, Fixed.Now),
                RecoverRequested(PowerState.Running, sequence: 3) with { HostId = Host.Third })
            .ThenState();

        state.HostId.ShouldBe(Host.Third);
        state.PendingMigration.ShouldBeNull();
    }

    [Fact]
    public void a_vm_fenced_while_powered_off_for_a_cold_move_with_restart_comes_back_running()
    {
        VmSpec.Given(Move.PoweringOffForColdMove())
            .When(Recover())
            .ThenEvents(
                FailedByFencing(Move.MigrationId),
                new VmMigrationFailed(Fixed.VmId, Move.MigrationId, "the VM's host was fenced", Fixed.Now),
                Relocated(),
                RecoverRequested(PowerState.Running, sequence: 3));
    }

    [Fact]
    public void a_vm_whose_move_target_is_fenced_while_it_is_recovered_there_is_recovered_elsewhere()
    {
        VmSpec.Given(Move.RecoveringOnTargetAfterPowerOff())
            .When(new RecoverVm(Fixed.Context(HaCommandId), Fixed.Timeouts, Host.Target, Host.Third, "host kvm-02 was fenced"))
            .ThenEvents(
                new VmOperationFailed(Fixed.VmId, Move.RecoverStep, "HOST_FENCED", $"host {Host.Target} was fenced before the operation finished", PowerState.Stopped, Fixed.Now),
                new VmMigrationFailed(Fixed.VmId, Move.MigrationId, "the VM's host was fenced", Fixed.Now),
                new VmRelocated(Fixed.VmId, Host.Target, Host.Third, "host kvm-02 was fenced", null, Fixed.Now),
                RecoverRequested(PowerState.Running, sequence: 4) with { HostId = Host.Third })
            .ThenState().HostId.ShouldBe(Host.Third);
    }

    [Fact]
    public void an_ha_recoverys_id_follows_from_the_vm_and_the_command()
    {
        Recovery.ShouldBe(VmDecider.HaRecoverIdFor(Fixed.VmId, HaCommandId));
        Recovery.ShouldNotBe(VmDecider.HaRecoverIdFor(Fixed.VmId, "ha-kvm-01-2"));
        Recovery.ShouldNotBe(VmDecider.HaRecoverIdFor(Cluster.VmA, HaCommandId));
        Recovery.ShouldNotBe(Fixed.OperationId(HaCommandId));
    }

    // When no host can take it.

    [Fact]
    public void a_vm_no_host_can_take_is_recorded_as_blocked()
    {
        var state = VmSpec.Given(Move.Running())
            .When(Block("no host has 2048 MiB free"))
            .ThenEvents(new VmRecoveryBlocked(Fixed.VmId, Fenced, "no host has 2048 MiB free", Fixed.Now))
            .WithOperationId(null)
            .ThenState();

        state.RecoveryBlockedReason.ShouldBe("no host has 2048 MiB free");
        state.HostId.ShouldBe(Fenced);
    }

    [Fact]
    public void the_same_reason_again_is_not_recorded_twice()
    {
        VmSpec.Given([.. Move.Running(), new VmRecoveryBlocked(Fixed.VmId, Fenced, "no host has 2048 MiB free", Fixed.Earlier)])
            .When(Block("no host has 2048 MiB free"))
            .ThenNothingChanges(null);
    }

    [Fact]
    public void a_new_reason_is_recorded()
    {
        VmSpec.Given([.. Move.Running(), new VmRecoveryBlocked(Fixed.VmId, Fenced, "no host has 2048 MiB free", Fixed.Earlier)])
            .When(Block("anti-affinity rule 'web-apart' leaves no host"))
            .ThenEvents(new VmRecoveryBlocked(Fixed.VmId, Fenced, "anti-affinity rule 'web-apart' leaves no host", Fixed.Now));
    }

    [Fact]
    public void a_block_for_a_host_the_vm_is_not_on_changes_nothing()
    {
        VmSpec.Given(Move.Running()).When(Block("no host has 2048 MiB free", fencedHost: Host.Third)).ThenNothingChanges(null);
        VmSpec.Given(Vm.Gone()).When(Block("no host has 2048 MiB free")).ThenNothingChanges(null);
    }

    [Fact]
    public void a_blocked_vm_that_is_finally_recovered_forgets_why_it_was_blocked()
    {
        var state = VmSpec.Given([.. Move.Running(), new VmRecoveryBlocked(Fixed.VmId, Fenced, "no host has 2048 MiB free", Fixed.Earlier)])
            .When(Recover())
            .ThenEvents(Relocated(), RecoverRequested(PowerState.Running, sequence: 2))
            .ThenState();

        state.RecoveryBlockedReason.ShouldBeNull();
    }

    // Priority.

    [Fact]
    public void every_vm_is_protected_with_medium_priority_unless_told()
    {
        VmSpec.Given(Move.Running()).State.HaPriority.ShouldBe(HaPriority.Medium);
    }

    [Fact]
    public void a_vms_ha_priority_is_set()
    {
        VmSpec.Given(Move.Running())
            .When(new SetHaPriority(Fixed.Context("ha-priority-1"), HaPriority.High))
            .ThenEvents(new VmHaPrioritySet(Fixed.VmId, HaPriority.High, Fixed.Now))
            .ThenState().HaPriority.ShouldBe(HaPriority.High);
    }

    [Fact]
    public void setting_the_priority_it_has_changes_nothing()
    {
        VmSpec.Given(Move.Running()).When(new SetHaPriority(Fixed.Context("ha-priority-1"), HaPriority.Medium)).ThenNothingChanges(null);
        VmSpec.Given([.. Move.Running(), new VmHaPrioritySet(Fixed.VmId, HaPriority.Disabled, Fixed.Earlier)])
            .When(new SetHaPriority(Fixed.Context("ha-priority-2"), HaPriority.Disabled))
            .ThenNothingChanges(null);
    }

    [Fact]
    public void setting_the_priority_of_a_vm_that_does_not_exist_is_not_found()
    {
        VmSpec.Given().When(new SetHaPriority(Fixed.Context("ha-priority-1"), HaPriority.High)).ThenRejected(RejectionCode.NotFound);
        VmSpec.Given(Vm.Gone()).When(new SetHaPriority(Fixed.Context("ha-priority-1"), HaPriority.High))
            .ThenRejected(RejectionCode.NotFound, containing: "was deleted")
            .Command.ShouldBe("set-ha-priority");
    }
}
