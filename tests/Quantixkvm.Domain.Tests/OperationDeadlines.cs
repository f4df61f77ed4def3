using Quantixkvm.Domain.Tests.Support;
using Quantixkvm.Domain.Vms;

namespace Quantixkvm.Domain.Tests;

/// <summary>No operation stays under way forever: at its deadline the watcher times it out and the VM is free again.</summary>
public class OperationDeadlines
{
    private static readonly DateTimeOffset StartDeadline = Fixed.Earlier + Fixed.Timeouts.Start;
    private static readonly Guid StartOperation = Fixed.OperationId("start-1");

    private static VmEvent[] StartRequested() =>
        [.. Vm.IdleIn(PowerState.Stopped), Vm.Requested(OperationKind.Start, "start-1", at: Fixed.Earlier)];

    [Fact]
    public void an_operation_cannot_time_out_before_its_deadline()
    {
        var rejection = VmSpec.Given(StartRequested())
            .When(Cmd.TimeOut("start-1", StartDeadline.AddTicks(-1)))
            .ThenRejected(RejectionCode.InvalidState, containing: $"operation {StartOperation} has not reached its deadline {StartDeadline:O}");

        rejection.Command.ShouldBe("time-out");
        rejection.State.ShouldBe("STARTING");
    }

    [Fact]
    public void an_operation_times_out_at_its_deadline()
    {
        VmSpec.Given(StartRequested())
            .When(Cmd.TimeOut("start-1", StartDeadline))
            .ThenEvents(new VmOperationTimedOut(Fixed.VmId, StartOperation, StartDeadline))
            .WithOperationId(StartOperation);
    }

    [Fact]
    public void an_operation_the_agent_began_times_out_after_its_deadline()
    {
        var late = StartDeadline.AddMinutes(5);

        VmSpec.Given([.. StartRequested(), Vm.Started("start-1")])
            .When(Cmd.TimeOut("start-1", late))
            .ThenEvents(new VmOperationTimedOut(Fixed.VmId, StartOperation, late));
    }

    public static TheoryData<OperationKind, bool> AllKinds => new()
    {
        { OperationKind.Start, false },
        { OperationKind.Stop, false },
        { OperationKind.Stop, true },
        { OperationKind.Reboot, false },
        { OperationKind.Pause, false },
        { OperationKind.Resume, false },
        { OperationKind.Delete, false },
        { OperationKind.AttachDisk, false },
        { OperationKind.AttachNic, false },
        { OperationKind.CreateSnapshot, false },
    };

    [Theory]
    [MemberData(nameof(AllKinds))]
    public void every_kind_of_operation_times_out_at_its_own_deadline(OperationKind kind, bool force)
    {
        var issuedAt = Fixed.Now;
        var history = Vm.IdleIn(VmPreconditions.AllowedFrom(kind, force)[0]);
        var requested = VmSpec.Given(history)
            .When(Cmd.For(kind, force, "op-1"))
            .ThenAccepted().Events.OfType<VmOperationRequested>().Single();
        var deadline = issuedAt + Fixed.Timeouts.For(kind, force);
        requested.Deadline.ShouldBe(deadline);

        VmEvent[] busy = [.. history, requested];
        VmSpec.Given(busy).When(Cmd.TimeOut("op-1", deadline.AddSeconds(-1))).ThenRejected(RejectionCode.InvalidState);
        VmSpec.Given(busy).When(Cmd.TimeOut("op-1", deadline))
            .ThenEvents(new VmOperationTimedOut(Fixed.VmId, Fixed.OperationId("op-1"), deadline));
    }

    [Fact]
    public void a_create_times_out_at_its_deadline_too()
    {
        var deadline = Fixed.Earlier + Fixed.Timeouts.Create;

        VmSpec.Given(Vm.BeingCreated())
            .When(Cmd.TimeOut(Fixed.CreateCommandId, deadline))
            .ThenEvents(new VmOperationTimedOut(Fixed.VmId, Fixed.OperationId(Fixed.CreateCommandId), deadline));
    }

    [Fact]
    public void timing_out_a_succeeded_operation_changes_nothing()
    {
        VmSpec.Given([.. StartRequested(), Vm.Succeeded("start-1", PowerState.Running)])
            .When(Cmd.TimeOut("start-1", StartDeadline.AddHours(1)))
            .ThenNothingChanges(StartOperation);
    }

    [Fact]
    public void timing_out_an_operation_twice_changes_nothing()
    {
        VmSpec.Given([.. StartRequested(), Vm.TimedOut("start-1", StartDeadline)])
            .When(Cmd.TimeOut("start-1", StartDeadline.AddSeconds(30)))
            .ThenNothingChanges(StartOperation);
    }

    [Fact]
    public void timing_out_a_superseded_operation_changes_nothing()
    {
        VmSpec.Given(
            [
                .. StartRequested(),
                Vm.Failed("start-1", PowerState.Stopped, "SUPERSEDED", "superseded"),
                Vm.Requested(OperationKind.Stop, "force-1", force: true),
            ])
            .When(Cmd.TimeOut("start-1", StartDeadline))
            .ThenNothingChanges(StartOperation);
    }

    [Fact]
    public void timing_out_an_unknown_operation_is_not_found()
    {
        VmSpec.Given(StartRequested())
            .When(Cmd.TimeOut("never-issued", Fixed.Now))
            .ThenRejected(RejectionCode.NotFound, containing: $"operation {Fixed.OperationId("never-issued")} is not known");
    }

    [Fact]
    public void a_timed_out_vm_is_no_longer_starting_and_keeps_its_last_observed_state()
    {
        var state = VmSpec.Given(StartRequested()).When(Cmd.TimeOut("start-1", StartDeadline)).ThenState();

        state.CurrentOperation.ShouldBeNull();
        state.Describe().ShouldBe("STOPPED");
        state.ObservedPowerState.ShouldBe(PowerState.Stopped);
        state.DesiredPowerState.ShouldBe(PowerState.Running);
        state.Operations[StartOperation].Status.ShouldBe(OperationStatus.TimedOut);
    }

    [Fact]
    public void after_a_timeout_the_vm_accepts_new_commands()
    {
        VmSpec.Given([.. StartRequested(), Vm.TimedOut("start-1", StartDeadline)])
            .When(Cmd.Start("start-2"))
            .ThenEvents(new VmOperationRequested(
                Fixed.VmId, Fixed.OperationId("start-2"), "start-2", OperationKind.Start, false, PowerState.Running,
                Fixed.HostId, Fixed.Actor, Fixed.Now, Fixed.Now + Fixed.Timeouts.Start, Sequence: 3));
    }

    [Fact]
    public void after_a_forced_stop_times_out_another_forced_stop_is_accepted()
    {
        VmSpec.Given(
            [
                .. Vm.IdleIn(PowerState.Running),
                Vm.Requested(OperationKind.Stop, "force-1", force: true),
                Vm.TimedOut("force-1"),
            ])
            .When(Cmd.ForceStop("force-2"))
            .ThenAccepted().Events.ShouldHaveSingleItem().ShouldBeOfType<VmOperationRequested>().Force.ShouldBeTrue();
    }

    [Fact]
    public void a_late_success_after_the_timeout_is_recorded_as_an_observation()
    {
        VmSpec.Given([.. StartRequested(), Vm.TimedOut("start-1", StartDeadline)])
            .When(Cmd.Complete("start-1", PowerState.Running))
            .ThenEvents(new VmPowerStateObserved(Fixed.VmId, PowerState.Running, "late-report", Fixed.Now))
            .WithOperationId(StartOperation);
    }

    [Fact]
    public void a_late_failure_after_the_timeout_is_recorded_as_an_observation_when_the_state_differs()
    {
        VmSpec.Given([.. StartRequested(), Vm.TimedOut("start-1", StartDeadline)])
            .When(Cmd.Fail("start-1", "VIR_ERR_OPERATION_TIMEOUT", "cannot acquire state change lock", PowerState.Paused))
            .ThenEvents(new VmPowerStateObserved(Fixed.VmId, PowerState.Paused, "late-report", Fixed.Now));
    }

    [Fact]
    public void a_late_report_of_the_state_already_known_changes_nothing()
    {
        VmSpec.Given([.. StartRequested(), Vm.TimedOut("start-1", StartDeadline)])
            .When(Cmd.Fail("start-1", "VIR_ERR_OPERATION_FAILED", "failed", PowerState.Stopped))
            .ThenNothingChanges(StartOperation);
    }

    [Fact]
    public void a_late_report_while_a_newer_operation_is_under_way_changes_nothing()
    {
        VmSpec.Given(
            [
                .. StartRequested(), Vm.TimedOut("start-1", StartDeadline),
                Vm.Requested(OperationKind.Start, "start-2"),
            ])
            .When(Cmd.Complete("start-1", PowerState.Running))
            .ThenNothingChanges(StartOperation);
    }

    [Fact]
    public void a_late_report_does_not_finish_the_timed_out_operation_again()
    {
        var state = VmSpec.Given([.. StartRequested(), Vm.TimedOut("start-1", StartDeadline)])
            .When(Cmd.Complete("start-1", PowerState.Running))
            .ThenState();

        state.Operations[StartOperation].Status.ShouldBe(OperationStatus.TimedOut);
        state.ObservedPowerState.ShouldBe(PowerState.Running);
        state.Describe().ShouldBe("RUNNING");
    }
}
