using Quantixkvm.Domain.Tests.Support;
using Quantixkvm.Domain.Vms;

namespace Quantixkvm.Domain.Tests;

/// <summary>Each operation of a VM gets the next number (its create is 1), so a host can tell a late copy from a later operation.</summary>
public class NumberingOperations
{
    private static long SequenceOf(Outcome<VmState, VmEvent> outcome) => outcome.ThenAccepted().Events.OfType<VmOperationRequested>().Single().Sequence;

    [Fact]
    public void an_operation_after_one_that_timed_out_gets_the_next_number()
    {
        var history = (VmEvent[])[.. Vm.IdleIn(PowerState.Stopped), Vm.Requested(OperationKind.Start, "start-1"), Vm.TimedOut("start-1")];

        SequenceOf(VmSpec.Given(history).When(Cmd.Start("start-2"))).ShouldBe(3);
    }

    [Fact]
    public void a_forced_stop_that_supersedes_a_hung_operation_gets_a_later_number_than_it()
    {
        var history = Vm.Busy(OperationKind.Reboot, force: false, PowerState.Running, "reboot-1");
        history.OfType<VmOperationRequested>().Last().Sequence.ShouldBeLessThan(3);

        SequenceOf(VmSpec.Given(history).When(Cmd.ForceStop("force-1"))).ShouldBe(3);
    }
}
