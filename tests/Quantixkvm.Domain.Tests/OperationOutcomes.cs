using Quantixkvm.Domain.Tests.Support;
using Quantixkvm.Domain.Vms;

namespace Quantixkvm.Domain.Tests;

/// <summary>What the host's agent reports about an operation: it began, it succeeded, or the hypervisor failed it.</summary>
public class OperationOutcomes
{
    private static readonly Guid StartOperation = Fixed.OperationId("start-1");

    private static VmEvent[] StartRequested() =>
        [.. Vm.IdleIn(PowerState.Stopped), Vm.Requested(OperationKind.Start, "start-1")];

    [Fact]
    public void an_agent_beginning_a_pending_operation_marks_it_started()
    {
        VmSpec.Given(StartRequested())
            .When(Cmd.MarkStarted("start-1"))
            .ThenEvents(new VmOperationStarted(Fixed.VmId, StartOperation, Fixed.Now))
            .WithOperationId(StartOperation);
    }

    [Fact]
    public void a_started_operation_is_running_and_still_current()
    {
        var state = VmSpec.Given(StartRequested()).When(Cmd.MarkStarted("start-1")).ThenState();

        state.CurrentOperation!.Status.ShouldBe(OperationStatus.Running);
        state.Operations[StartOperation].ShouldBe((OperationKind.Start, false, OperationStatus.Running));
        state.Describe().ShouldBe("STARTING");
    }

    [Fact]
    public void marking_an_operation_started_twice_changes_nothing()
    {
        VmSpec.Given([.. StartRequested(), Vm.Started("start-1")])
            .When(Cmd.MarkStarted("start-1"))
            .ThenNothingChanges(StartOperation);
    }

    [Fact]
    public void a_started_report_arriving_after_the_outcome_is_recorded_once_and_moves_no_status_back()
    {
        // The agent's two reports travel separately: "finished" can overtake "started".
        var late = VmSpec.Given([.. StartRequested(), Vm.Succeeded("start-1", PowerState.Running)])
            .When(Cmd.MarkStarted("start-1"))
            .ThenEvents(new VmOperationStarted(Fixed.VmId, StartOperation, Fixed.Now));
        var state = late.ThenState();
        state.Operations[StartOperation].Status.ShouldBe(OperationStatus.Succeeded);
        state.CurrentOperation.ShouldBeNull();

        VmSpec.Given([.. StartRequested(), Vm.Succeeded("start-1", PowerState.Running), Vm.Started("start-1")])
            .When(Cmd.MarkStarted("start-1"))
            .ThenNothingChanges(StartOperation);
    }

    [Fact]
    public void a_completed_operation_succeeds_with_the_state_the_agent_observed()
    {
        VmSpec.Given([.. StartRequested(), Vm.Started("start-1")])
            .When(Cmd.Complete("start-1", PowerState.Running))
            .ThenEvents(new VmOperationSucceeded(Fixed.VmId, StartOperation, PowerState.Running, Fixed.Now))
            .WithOperationId(StartOperation);
    }

    [Fact]
    public void an_operation_can_complete_straight_from_pending()
    {
        VmSpec.Given(StartRequested())
            .When(Cmd.Complete("start-1", PowerState.Running))
            .ThenEvents(new VmOperationSucceeded(Fixed.VmId, StartOperation, PowerState.Running, Fixed.Now));
    }

    [Fact]
    public void a_completed_create_records_what_the_host_sees()
    {
        var state = VmSpec.Given(Vm.BeingCreated())
            .When(Cmd.Complete(Fixed.CreateCommandId, PowerState.Stopped))
            .ThenEvents(new VmOperationSucceeded(Fixed.VmId, Fixed.OperationId(Fixed.CreateCommandId), PowerState.Stopped, Fixed.Now))
            .ThenState();

        state.ObservedPowerState.ShouldBe(PowerState.Stopped);
        state.Describe().ShouldBe("STOPPED");
    }

    [Fact]
    public void a_failed_operation_carries_the_hypervisors_error_code_and_message_verbatim()
    {
        const string code = "VIR_ERR_INTERNAL_ERROR";
        const string message = "internal error: qemu unexpectedly closed the monitor: 2025-06-01T11:59:59 <html> & \"quotes\"\n";

        VmSpec.Given([.. StartRequested(), Vm.Started("start-1")])
            .When(Cmd.Fail("start-1", code, message, PowerState.Stopped))
            .ThenEvents(new VmOperationFailed(Fixed.VmId, StartOperation, code, message, PowerState.Stopped, Fixed.Now))
            .WithOperationId(StartOperation);
    }

    [Fact]
    public void after_a_failure_the_vm_keeps_what_was_asked_apart_from_what_is_seen()
    {
        var state = VmSpec.Given(StartRequested())
            .When(Cmd.Fail("start-1", "VIR_ERR_NO_MEMORY", "cannot allocate memory", PowerState.Stopped))
            .ThenState();

        state.CurrentOperation.ShouldBeNull();
        state.DesiredPowerState.ShouldBe(PowerState.Running);
        state.ObservedPowerState.ShouldBe(PowerState.Stopped);
        state.Operations[StartOperation].Status.ShouldBe(OperationStatus.Failed);
        state.Describe().ShouldBe("STOPPED");
    }

    [Fact]
    public void a_failure_records_the_state_the_host_saw_afterwards()
    {
        var state = VmSpec.Given([.. Vm.IdleIn(PowerState.Running), Vm.Requested(OperationKind.Reboot, "reboot-1")])
            .When(Cmd.Fail("reboot-1", "VIR_ERR_INTERNAL_ERROR", "guest crashed during reboot", PowerState.Stopped))
            .ThenState();

        state.ObservedPowerState.ShouldBe(PowerState.Stopped);
        state.DesiredPowerState.ShouldBe(PowerState.Running);
        state.Describe().ShouldBe("STOPPED");
    }

    public static TheoryData<string> AgentReports => new() { "started", "completed", "failed" };

    [Theory]
    [MemberData(nameof(AgentReports))]
    public void a_report_about_an_unknown_operation_is_not_found(string report)
    {
        var unknown = Fixed.OperationId("never-issued");
        VmCommand command = report switch
        {
            "started" => Cmd.MarkStarted("never-issued"),
            "completed" => Cmd.Complete("never-issued", PowerState.Running),
            _ => Cmd.Fail("never-issued", "VIR_ERR_NO_DOMAIN", "no domain", PowerState.Unknown),
        };

        VmSpec.Given(StartRequested())
            .When(command)
            .ThenRejected(RejectionCode.NotFound, containing: $"operation {unknown} is not known on VM {Fixed.VmId}");
    }

    [Fact]
    public void a_report_about_a_vm_that_does_not_exist_is_not_found()
    {
        VmSpec.Given()
            .When(Cmd.Complete("start-1", PowerState.Running))
            .ThenRejected(RejectionCode.NotFound)
            .State.ShouldBe("NONEXISTENT");
    }

    [Fact]
    public void a_duplicate_completion_changes_nothing()
    {
        VmSpec.Given([.. StartRequested(), Vm.Succeeded("start-1", PowerState.Running)])
            .When(Cmd.Complete("start-1", PowerState.Running))
            .ThenNothingChanges(StartOperation);
    }

    [Fact]
    public void a_duplicate_failure_changes_nothing()
    {
        VmSpec.Given([.. StartRequested(), Vm.Failed("start-1", PowerState.Stopped)])
            .When(Cmd.Fail("start-1", "VIR_ERR_OPERATION_FAILED", "operation failed", PowerState.Stopped))
            .ThenNothingChanges(StartOperation);
    }

    [Fact]
    public void a_duplicate_completion_of_a_delete_changes_nothing()
    {
        VmSpec.Given(Vm.Gone())
            .When(Cmd.Complete("delete-1", PowerState.Stopped))
            .ThenNothingChanges(Fixed.OperationId("delete-1"));
    }

    [Fact]
    public void a_duplicate_completion_after_newer_drift_does_not_bring_back_the_old_state()
    {
        VmSpec.Given([.. StartRequested(), Vm.Succeeded("start-1", PowerState.Running), Vm.Observed(PowerState.Stopped)])
            .When(Cmd.Complete("start-1", PowerState.Running))
            .ThenNothingChanges(StartOperation);
    }
}
