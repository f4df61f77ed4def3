using Quantixkvm.Domain.Tests.Support;
using Quantixkvm.Domain.Vms;

namespace Quantixkvm.Domain.Tests;

public class StoppingAVm
{
    [Fact]
    public void stopping_a_running_vm_asks_for_a_graceful_shutdown_within_the_stop_deadline()
    {
        VmSpec.Given(Vm.IdleIn(PowerState.Running))
            .When(Cmd.Stop("stop-1"))
            .ThenEvents(new VmOperationRequested(
                Fixed.VmId, Fixed.OperationId("stop-1"), "stop-1", OperationKind.Stop, Force: false, PowerState.Stopped,
                Fixed.HostId, Fixed.Actor, Fixed.Now, Fixed.Now + Fixed.Timeouts.Stop, Sequence: 2));
    }

    [Fact]
    public void a_forced_stop_gets_the_force_stop_deadline()
    {
        VmSpec.Given(Vm.IdleIn(PowerState.Running))
            .When(Cmd.ForceStop("force-1"))
            .ThenEvents(new VmOperationRequested(
                Fixed.VmId, Fixed.OperationId("force-1"), "force-1", OperationKind.Stop, Force: true, PowerState.Stopped,
                Fixed.HostId, Fixed.Actor, Fixed.Now, Fixed.Now + Fixed.Timeouts.ForceStop, Sequence: 2));
    }

    [Fact]
    public void stopping_a_stopped_vm_is_refused()
    {
        var rejection = VmSpec.Given(Vm.IdleIn(PowerState.Stopped))
            .When(Cmd.Stop())
            .ThenRejected(RejectionCode.InvalidState, containing: "cannot stop VM 'web-1' while it is STOPPED; allowed only when RUNNING");

        rejection.State.ShouldBe("STOPPED");
        rejection.Command.ShouldBe("stop");
    }

    [Fact]
    public void force_stopping_a_stopped_vm_is_refused()
    {
        VmSpec.Given(Vm.IdleIn(PowerState.Stopped))
            .When(Cmd.ForceStop())
            .ThenRejected(RejectionCode.InvalidState, containing: "allowed only when RUNNING or PAUSED or UNKNOWN")
            .Command.ShouldBe("stop --force");
    }

    [Fact]
    public void a_graceful_stop_cannot_reach_a_vm_whose_state_is_unknown_but_a_forced_one_can()
    {
        VmSpec.Given(Vm.IdleIn(PowerState.Unknown)).When(Cmd.Stop()).ThenRejected(RejectionCode.InvalidState);
        VmSpec.Given(Vm.IdleIn(PowerState.Unknown)).When(Cmd.ForceStop()).ThenAccepted().Events.ShouldHaveSingleItem();
    }

    public static TheoryData<OperationKind, bool, PowerState> Supersedable => new()
    {
        { OperationKind.Start, false, PowerState.Stopped },
        { OperationKind.Stop, false, PowerState.Running },
        { OperationKind.Reboot, false, PowerState.Running },
        { OperationKind.Pause, false, PowerState.Running },
        { OperationKind.Resume, false, PowerState.Paused },
    };

    [Theory]
    [MemberData(nameof(Supersedable))]
    public void a_forced_stop_supersedes_a_hung_operation(OperationKind inFlight, bool force, PowerState observed)
    {
        var newOperation = Fixed.OperationId("force-1");

        VmSpec.Given(Vm.Busy(inFlight, force, observed, "hung-1"))
            .When(Cmd.ForceStop("force-1"))
            .ThenEvents(
                new VmOperationFailed(
                    Fixed.VmId, Fixed.OperationId("hung-1"), "SUPERSEDED", $"superseded by forced stop {newOperation}", observed,
                    Fixed.Now),
                new VmOperationRequested(
                    Fixed.VmId, newOperation, "force-1", OperationKind.Stop, Force: true, PowerState.Stopped, Fixed.HostId,
                    Fixed.Actor, Fixed.Now, Fixed.Now + Fixed.Timeouts.ForceStop, Sequence: 3))
            .WithOperationId(newOperation);
    }

    [Fact]
    public void a_forced_stop_supersedes_a_start_the_agent_has_already_begun()
    {
        var state = VmSpec.Given([.. Vm.Busy(OperationKind.Start, false, PowerState.Stopped, "start-1"), Vm.Started("start-1")])
            .When(Cmd.ForceStop("force-1"))
            .ThenState();

        state.CurrentOperation!.OperationId.ShouldBe(Fixed.OperationId("force-1"));
        state.Operations[Fixed.OperationId("start-1")].Status.ShouldBe(OperationStatus.Failed);
        state.DesiredPowerState.ShouldBe(PowerState.Stopped);
        state.Describe().ShouldBe("POWERING_OFF");
    }

    public static TheoryData<OperationKind, bool, string> NotSupersedable => new()
    {
        { OperationKind.Create, false, "create" },
        { OperationKind.Delete, false, "delete" },
        { OperationKind.Stop, true, "stop" },
    };

    [Theory]
    [MemberData(nameof(NotSupersedable))]
    public void a_forced_stop_does_not_supersede_a_create_a_delete_or_another_forced_stop(
        OperationKind inFlight, bool force, string kindName)
    {
        var observed = inFlight == OperationKind.Delete ? PowerState.Stopped : PowerState.Running;
        var rejection = VmSpec.Given(Vm.Busy(inFlight, force, observed, "busy-1"))
            .When(Cmd.ForceStop("force-2"))
            .ThenRejected(
                RejectionCode.InvalidState,
                containing: $"its {kindName} operation {Fixed.OperationId(inFlight == OperationKind.Create ? Fixed.CreateCommandId : "busy-1")} is still under way");

        rejection.Command.ShouldBe("stop --force");
        rejection.State.ShouldBe(VmPreconditions.TransitionName(inFlight, force));
    }

    [Fact]
    public void a_graceful_stop_does_not_supersede_a_start()
    {
        VmSpec.Given(Vm.Busy(OperationKind.Start, false, PowerState.Stopped, "start-1"))
            .When(Cmd.Stop("stop-1"))
            .ThenRejected(RejectionCode.InvalidState, containing: "its start operation")
            .State.ShouldBe("STARTING");
    }

    [Fact]
    public void the_report_of_a_superseded_operation_changes_nothing_while_the_forced_stop_is_under_way()
    {
        VmSpec.Given(
            [
                .. Vm.Busy(OperationKind.Start, false, PowerState.Stopped, "start-1"),
                Vm.Failed("start-1", PowerState.Stopped, "SUPERSEDED", "superseded by forced stop"),
                Vm.Requested(OperationKind.Stop, "force-1", force: true),
            ])
            .When(Cmd.Complete("start-1", PowerState.Running))
            .ThenNothingChanges(Fixed.OperationId("start-1"));
    }
}
