using Quantixkvm.Domain.Tests.Support;
using Quantixkvm.Domain.Vms;

namespace Quantixkvm.Domain.Tests;

public class RebootingPausingResuming
{
    private static VmOperationRequested Requested(string commandId, OperationKind kind, PowerState desired, TimeSpan timeout) =>
        new(Fixed.VmId, Fixed.OperationId(commandId), commandId, kind, Force: false, desired, Fixed.HostId, Fixed.Actor,
            Fixed.Now, Fixed.Now + timeout, Sequence: 2);

    [Fact]
    public void rebooting_a_running_vm_wants_it_running_again_within_the_reboot_deadline()
    {
        VmSpec.Given(Vm.IdleIn(PowerState.Running))
            .When(Cmd.Reboot("reboot-1"))
            .ThenEvents(Requested("reboot-1", OperationKind.Reboot, PowerState.Running, Fixed.Timeouts.Reboot));
    }

    [Fact]
    public void pausing_a_running_vm_wants_it_paused_within_the_pause_deadline()
    {
        VmSpec.Given(Vm.IdleIn(PowerState.Running))
            .When(Cmd.Pause("pause-1"))
            .ThenEvents(Requested("pause-1", OperationKind.Pause, PowerState.Paused, Fixed.Timeouts.Pause));
    }

    [Fact]
    public void resuming_a_paused_vm_wants_it_running_within_the_resume_deadline()
    {
        VmSpec.Given(Vm.IdleIn(PowerState.Paused))
            .When(Cmd.Resume("resume-1"))
            .ThenEvents(Requested("resume-1", OperationKind.Resume, PowerState.Running, Fixed.Timeouts.Resume));
    }

    [Fact]
    public void rebooting_a_paused_vm_is_refused()
    {
        VmSpec.Given(Vm.IdleIn(PowerState.Paused))
            .When(Cmd.Reboot())
            .ThenRejected(RejectionCode.InvalidState, containing: "cannot reboot VM 'web-1' while it is PAUSED; allowed only when RUNNING");
    }

    [Fact]
    public void pausing_a_paused_vm_is_refused()
    {
        VmSpec.Given(Vm.IdleIn(PowerState.Paused))
            .When(Cmd.Pause())
            .ThenRejected(RejectionCode.InvalidState)
            .Command.ShouldBe("pause");
    }

    [Fact]
    public void resuming_a_running_vm_is_refused()
    {
        var rejection = VmSpec.Given(Vm.IdleIn(PowerState.Running))
            .When(Cmd.Resume())
            .ThenRejected(RejectionCode.InvalidState, containing: "allowed only when PAUSED");

        rejection.State.ShouldBe("RUNNING");
        rejection.Command.ShouldBe("resume");
    }

    [Fact]
    public void a_vm_being_paused_says_so()
    {
        VmSpec.Given(Vm.IdleIn(PowerState.Running)).When(Cmd.Pause()).ThenState().Describe().ShouldBe("PAUSING");
        VmSpec.Given(Vm.IdleIn(PowerState.Paused)).When(Cmd.Resume()).ThenState().Describe().ShouldBe("RESUMING");
        VmSpec.Given(Vm.IdleIn(PowerState.Running)).When(Cmd.Reboot()).ThenState().Describe().ShouldBe("REBOOTING");
    }
}
