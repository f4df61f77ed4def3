using Quantixkvm.Domain.Tests.Support;
using Quantixkvm.Domain.Vms;

namespace Quantixkvm.Domain.Tests;

/// <summary>What a host reports outside any operation: drift is recorded, the known state is not repeated.</summary>
public class DriftAndLateReports
{
    [Fact]
    public void a_vm_seen_in_another_state_than_recorded_has_drifted()
    {
        VmSpec.Given(Vm.IdleIn(PowerState.Running))
            .When(Cmd.Observe(PowerState.Stopped, source: "inventory"))
            .ThenEvents(new VmPowerStateObserved(Fixed.VmId, PowerState.Stopped, "inventory", Fixed.Now))
            .WithOperationId(null);
    }

    [Fact]
    public void the_source_of_an_observation_is_kept()
    {
        VmSpec.Given(Vm.IdleIn(PowerState.Running))
            .When(Cmd.Observe(PowerState.Paused, source: "libvirt-event"))
            .ThenAccepted().Events.ShouldHaveSingleItem().ShouldBeOfType<VmPowerStateObserved>().Source.ShouldBe("libvirt-event");
    }

    [Fact]
    public void drift_changes_what_is_seen_but_not_what_is_wanted()
    {
        var state = VmSpec.Given(Vm.IdleIn(PowerState.Running))
            .When(Cmd.Observe(PowerState.Stopped))
            .ThenState();

        state.ObservedPowerState.ShouldBe(PowerState.Stopped);
        state.DesiredPowerState.ShouldBe(PowerState.Stopped);
        state.Describe().ShouldBe("STOPPED");
    }

    [Fact]
    public void seeing_the_state_already_recorded_changes_nothing()
    {
        VmSpec.Given(Vm.IdleIn(PowerState.Running))
            .When(Cmd.Observe(PowerState.Running))
            .ThenNothingChanges(null);
    }

    [Fact]
    public void an_observation_while_an_operation_is_under_way_changes_nothing()
    {
        VmSpec.Given([.. Vm.IdleIn(PowerState.Stopped), Vm.Requested(OperationKind.Start, "start-1")])
            .When(Cmd.Observe(PowerState.Running))
            .ThenNothingChanges(null);
    }

    [Fact]
    public void an_observation_while_the_vm_is_being_created_changes_nothing()
    {
        VmSpec.Given(Vm.BeingCreated())
            .When(Cmd.Observe(PowerState.Stopped))
            .ThenNothingChanges(null);
    }

    [Fact]
    public void an_observation_of_a_deleted_vm_is_not_found()
    {
        var rejection = VmSpec.Given(Vm.Gone())
            .When(Cmd.Observe(PowerState.Running))
            .ThenRejected(RejectionCode.NotFound);

        rejection.State.ShouldBe("DELETED");
        rejection.Command.ShouldBe("observe");
    }

    [Fact]
    public void an_observation_of_a_vm_that_does_not_exist_is_not_found()
    {
        VmSpec.Given()
            .When(Cmd.Observe(PowerState.Running))
            .ThenRejected(RejectionCode.NotFound, containing: "does not exist");
    }

    [Fact]
    public void a_late_report_after_drift_is_compared_with_the_drifted_state()
    {
        VmSpec.Given(
            [
                .. Vm.IdleIn(PowerState.Stopped),
                Vm.Requested(OperationKind.Start, "start-1"),
                Vm.TimedOut("start-1"),
                Vm.Observed(PowerState.Running),
            ])
            .When(Cmd.Complete("start-1", PowerState.Running))
            .ThenNothingChanges(Fixed.OperationId("start-1"));
    }
}
