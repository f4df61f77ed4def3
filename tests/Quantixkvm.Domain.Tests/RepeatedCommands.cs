using Quantixkvm.Domain.Tests.Support;
using Quantixkvm.Domain.Vms;

namespace Quantixkvm.Domain.Tests;

/// <summary>A command id is an idempotency key: a repeat answers with the operation it started and changes nothing.</summary>
public class RepeatedCommands
{
    private static readonly Guid StartOperation = Fixed.OperationId("start-1");

    private static VmEvent[] StartRequested() =>
        [.. Vm.IdleIn(PowerState.Stopped), Vm.Requested(OperationKind.Start, "start-1")];

    [Fact]
    public void repeating_a_start_while_it_is_pending_changes_nothing()
    {
        VmSpec.Given(StartRequested())
            .When(Cmd.Start("start-1"))
            .ThenNothingChanges(StartOperation);
    }

    [Fact]
    public void repeating_a_start_while_the_agent_is_running_it_changes_nothing()
    {
        VmSpec.Given([.. StartRequested(), Vm.Started("start-1")])
            .When(Cmd.Start("start-1"))
            .ThenNothingChanges(StartOperation);
    }

    [Fact]
    public void repeating_a_start_after_it_succeeded_changes_nothing()
    {
        VmSpec.Given([.. StartRequested(), Vm.Succeeded("start-1", PowerState.Running)])
            .When(Cmd.Start("start-1"))
            .ThenNothingChanges(StartOperation);
    }

    [Fact]
    public void repeating_a_start_after_it_failed_does_not_try_again()
    {
        VmSpec.Given([.. StartRequested(), Vm.Failed("start-1", PowerState.Stopped)])
            .When(Cmd.Start("start-1"))
            .ThenNothingChanges(StartOperation);
    }

    [Fact]
    public void repeating_a_start_after_it_timed_out_does_not_try_again()
    {
        VmSpec.Given([.. StartRequested(), Vm.TimedOut("start-1")])
            .When(Cmd.Start("start-1"))
            .ThenNothingChanges(StartOperation);
    }

    [Fact]
    public void repeating_a_start_does_not_run_it_twice_even_when_a_start_would_be_allowed_again()
    {
        VmSpec.Given(
            [
                .. StartRequested(), Vm.Succeeded("start-1", PowerState.Running),
                Vm.Requested(OperationKind.Stop, "stop-1"), Vm.Succeeded("stop-1", PowerState.Stopped),
            ])
            .When(Cmd.Start("start-1"))
            .ThenNothingChanges(StartOperation);
    }

    [Fact]
    public void repeating_a_forced_stop_that_superseded_a_start_changes_nothing()
    {
        VmSpec.Given(
            [
                .. StartRequested(),
                Vm.Failed("start-1", PowerState.Stopped, "SUPERSEDED", "superseded"),
                Vm.Requested(OperationKind.Stop, "force-1", force: true),
            ])
            .When(Cmd.ForceStop("force-1"))
            .ThenNothingChanges(Fixed.OperationId("force-1"));
    }

    [Fact]
    public void reusing_a_command_id_for_another_kind_of_command_is_refused()
    {
        var rejection = VmSpec.Given([.. StartRequested(), Vm.Succeeded("start-1", PowerState.Running)])
            .When(Cmd.Stop("start-1"))
            .ThenRejected(RejectionCode.Validation, containing: "command id 'start-1' was already used for a start operation on this VM");

        rejection.Command.ShouldBe("stop");
    }

    [Fact]
    public void reusing_the_create_command_id_for_a_start_is_refused()
    {
        VmSpec.Given(Vm.IdleIn(PowerState.Stopped))
            .When(Cmd.Start(Fixed.CreateCommandId))
            .ThenRejected(RejectionCode.Validation, containing: "already used for a create operation");
    }

    [Fact]
    public void a_repeat_is_recognised_before_the_state_is_checked()
    {
        // The VM is running now, so a fresh start would be refused; the repeat still answers with its operation.
        VmSpec.Given([.. StartRequested(), Vm.Succeeded("start-1", PowerState.Running)])
            .When(Cmd.Start("start-1"))
            .ThenAccepted().OperationId.ShouldBe(StartOperation);
        VmSpec.Given([.. StartRequested(), Vm.Succeeded("start-1", PowerState.Running)])
            .When(Cmd.Start("start-2"))
            .ThenRejected(RejectionCode.InvalidState);
    }

    [Fact]
    public void the_same_command_id_on_two_vms_names_two_operations()
    {
        var otherVm = VmDecider.VmIdForCreate("create-web-2");

        VmDecider.OperationIdFor(otherVm, "start-1").ShouldNotBe(VmDecider.OperationIdFor(Fixed.VmId, "start-1"));
    }
}
