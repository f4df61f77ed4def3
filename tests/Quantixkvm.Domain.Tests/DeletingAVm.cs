using Quantixkvm.Domain.Tests.Support;
using Quantixkvm.Domain.Vms;

namespace Quantixkvm.Domain.Tests;

public class DeletingAVm
{
    [Fact]
    public void deleting_a_stopped_vm_asks_its_host_to_remove_it_within_the_delete_deadline()
    {
        VmSpec.Given(Vm.IdleIn(PowerState.Stopped))
            .When(Cmd.Delete("delete-1"))
            .ThenEvents(new VmOperationRequested(
                Fixed.VmId, Fixed.OperationId("delete-1"), "delete-1", OperationKind.Delete, Force: false, PowerState.Stopped,
                Fixed.HostId, Fixed.Actor, Fixed.Now, Fixed.Now + Fixed.Timeouts.Delete, Sequence: 2));
    }

    [Fact]
    public void deleting_a_running_vm_is_refused_until_it_is_stopped()
    {
        VmSpec.Given(Vm.IdleIn(PowerState.Running))
            .When(Cmd.Delete())
            .ThenRejected(RejectionCode.InvalidState, containing: "cannot delete VM 'web-1' while it is RUNNING; allowed only when STOPPED or UNKNOWN")
            .Command.ShouldBe("delete");
    }

    [Fact]
    public void a_vm_whose_create_timed_out_can_still_be_deleted()
    {
        VmSpec.Given([.. Vm.BeingCreated(), Vm.TimedOut(Fixed.CreateCommandId)])
            .When(Cmd.Delete("delete-1"))
            .ThenAccepted().Events.ShouldHaveSingleItem().ShouldBeOfType<VmOperationRequested>().Kind.ShouldBe(OperationKind.Delete);
    }

    [Fact]
    public void a_completed_delete_succeeds_and_the_vm_is_deleted()
    {
        VmSpec.Given([.. Vm.IdleIn(PowerState.Stopped), Vm.Requested(OperationKind.Delete, "delete-1")])
            .When(Cmd.Complete("delete-1", PowerState.Stopped))
            .ThenEvents(
                new VmOperationSucceeded(Fixed.VmId, Fixed.OperationId("delete-1"), PowerState.Stopped, Fixed.Now),
                new VmDeleted(Fixed.VmId, Fixed.Now))
            .WithOperationId(Fixed.OperationId("delete-1"));
    }

    [Fact]
    public void a_deleted_vm_is_deleted_with_nothing_under_way()
    {
        var state = VmSpec.Given([.. Vm.IdleIn(PowerState.Stopped), Vm.Requested(OperationKind.Delete, "delete-1")])
            .When(Cmd.Complete("delete-1", PowerState.Stopped))
            .ThenState();

        state.Lifecycle.ShouldBe(VmLifecycle.Deleted);
        state.CurrentOperation.ShouldBeNull();
        state.Describe().ShouldBe("DELETED");
        state.Operations[Fixed.OperationId("delete-1")].ShouldBe((OperationKind.Delete, false, OperationStatus.Succeeded));
    }

    [Fact]
    public void a_failed_delete_leaves_the_vm_in_place()
    {
        var state = VmSpec.Given([.. Vm.IdleIn(PowerState.Stopped), Vm.Requested(OperationKind.Delete, "delete-1")])
            .When(Cmd.Fail("delete-1", "VIR_ERR_OPERATION_INVALID", "cannot undefine domain with nvram", PowerState.Stopped))
            .ThenState();

        state.Lifecycle.ShouldBe(VmLifecycle.Active);
        state.Describe().ShouldBe("STOPPED");
    }

    [Fact]
    public void deleting_a_vm_whose_delete_is_under_way_under_another_command_id_is_refused()
    {
        VmSpec.Given([.. Vm.IdleIn(PowerState.Stopped), Vm.Requested(OperationKind.Delete, "delete-1")])
            .When(Cmd.Delete("delete-2"))
            .ThenRejected(RejectionCode.InvalidState, containing: $"its delete operation {Fixed.OperationId("delete-1")} is still under way")
            .State.ShouldBe("DELETING");
    }

    [Fact]
    public void deleting_a_deleted_vm_under_a_new_command_id_is_not_found()
    {
        VmSpec.Given(Vm.Gone())
            .When(Cmd.Delete("delete-2"))
            .ThenRejected(RejectionCode.NotFound, containing: "was deleted");
    }

    [Fact]
    public void repeating_a_delete_after_the_vm_is_gone_changes_nothing()
    {
        VmSpec.Given(Vm.Gone())
            .When(Cmd.Delete("delete-1"))
            .ThenNothingChanges(Fixed.OperationId("delete-1"));
    }
}
