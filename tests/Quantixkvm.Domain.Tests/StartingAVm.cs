using Quantixkvm.Domain.Tests.Support;
using Quantixkvm.Domain.Vms;

namespace Quantixkvm.Domain.Tests;

public class StartingAVm
{
    [Fact]
    public void starting_a_stopped_vm_asks_its_host_to_run_it_within_the_start_deadline()
    {
        VmSpec.Given(Vm.IdleIn(PowerState.Stopped))
            .When(Cmd.Start("start-1"))
            .ThenEvents(new VmOperationRequested(
                Fixed.VmId, Fixed.OperationId("start-1"), "start-1", OperationKind.Start, Force: false, PowerState.Running,
                Fixed.HostId, Fixed.Actor, Fixed.Now, Fixed.Now + Fixed.Timeouts.Start, Sequence: 2))
            .WithOperationId(Fixed.OperationId("start-1"));
    }

    [Fact]
    public void a_started_vm_is_starting_and_wants_to_run_but_is_still_seen_stopped()
    {
        var state = VmSpec.Given(Vm.IdleIn(PowerState.Stopped)).When(Cmd.Start()).ThenState();

        state.Describe().ShouldBe("STARTING");
        state.DesiredPowerState.ShouldBe(PowerState.Running);
        state.ObservedPowerState.ShouldBe(PowerState.Stopped);
        state.CurrentOperation.ShouldBe(new VmOperation(
            Fixed.OperationId("start-1"), "start-1", OperationKind.Start, false, OperationStatus.Pending,
            Fixed.Now + Fixed.Timeouts.Start));
    }

    [Fact]
    public void starting_a_running_vm_is_refused()
    {
        var rejection = VmSpec.Given(Vm.IdleIn(PowerState.Running))
            .When(Cmd.Start())
            .ThenRejected(RejectionCode.InvalidState, containing: "cannot start VM 'web-1' while it is RUNNING; allowed only when STOPPED");

        rejection.State.ShouldBe("RUNNING");
        rejection.Command.ShouldBe("start");
    }

    [Fact]
    public void starting_a_vm_whose_state_is_unknown_is_refused()
    {
        VmSpec.Given(Vm.IdleIn(PowerState.Unknown))
            .When(Cmd.Start())
            .ThenRejected(RejectionCode.InvalidState)
            .State.ShouldBe("UNKNOWN");
    }

    [Fact]
    public void starting_a_vm_that_does_not_exist_is_not_found()
    {
        VmSpec.Given()
            .When(Cmd.Start())
            .ThenRejected(RejectionCode.NotFound, containing: "the VM does not exist");
    }

    [Fact]
    public void starting_a_deleted_vm_is_not_found()
    {
        VmSpec.Given(Vm.Gone())
            .When(Cmd.Start())
            .ThenRejected(RejectionCode.NotFound, containing: "was deleted");
    }

    [Fact]
    public void starting_a_vm_that_drifted_to_stopped_is_allowed()
    {
        VmSpec.Given([.. Vm.IdleIn(PowerState.Running), Vm.Observed(PowerState.Stopped)])
            .When(Cmd.Start("start-2"))
            .ThenAccepted().Events.ShouldHaveSingleItem().ShouldBeOfType<VmOperationRequested>().Kind.ShouldBe(OperationKind.Start);
    }
}
