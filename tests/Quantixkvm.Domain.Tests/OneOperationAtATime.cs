using Quantixkvm.Domain.Tests.Support;
using Quantixkvm.Domain.Vms;

namespace Quantixkvm.Domain.Tests;

/// <summary>While an operation is under way every other command is refused, naming it; only a forced stop may cut in.</summary>
public class OneOperationAtATime
{
    private const string BusyCommandId = "busy-1";

    /// <summary>Each kind of operation that can be under way, with the state its VM was last seen in.</summary>
    private static readonly (OperationKind Kind, bool Force, PowerState Observed)[] InFlight =
    [
        (OperationKind.Create, false, PowerState.Unknown),
        (OperationKind.Start, false, PowerState.Stopped),
        (OperationKind.Stop, false, PowerState.Running),
        (OperationKind.Stop, true, PowerState.Paused),
        (OperationKind.Reboot, false, PowerState.Running),
        (OperationKind.Pause, false, PowerState.Running),
        (OperationKind.Resume, false, PowerState.Paused),
        (OperationKind.Delete, false, PowerState.Stopped),
        (OperationKind.AttachDisk, false, PowerState.Running),
        (OperationKind.DetachDisk, false, PowerState.Stopped),
        (OperationKind.CreateSnapshot, false, PowerState.Paused),
        (OperationKind.RevertSnapshot, false, PowerState.Running),
        (OperationKind.DeleteSnapshot, false, PowerState.Stopped),
    ];

    /// <summary>Only a hung power operation is cut short; disk and snapshot operations, like create and delete, are waited for.</summary>
    private static bool ForcedStopCutsIn(OperationKind kind, bool force, string command) =>
        command == "stop --force"
        && kind is OperationKind.Start or OperationKind.Stop or OperationKind.Reboot or OperationKind.Pause or OperationKind.Resume
        && !(kind == OperationKind.Stop && force);

    public static TheoryData<OperationKind, bool, PowerState, string> RefusedWhileBusy
    {
        get
        {
            var data = new TheoryData<OperationKind, bool, PowerState, string>();
            foreach (var (kind, force, observed) in InFlight)
            {
                foreach (var command in TableCommands.Names.Where(c => !ForcedStopCutsIn(kind, force, c)))
                {
                    data.Add(kind, force, observed, command);
                }
            }

            return data;
        }
    }

    [Theory]
    [MemberData(nameof(RefusedWhileBusy))]
    public void a_command_while_another_operation_is_under_way_is_refused_naming_it(
        OperationKind inFlight, bool force, PowerState observed, string command)
    {
        var busyId = inFlight == OperationKind.Create ? Fixed.CreateCommandId : BusyCommandId;
        var history = Vm.Busy(inFlight, force, observed, busyId);
        var deadline = history.OfType<VmOperationRequested>().Last().Deadline;
        var row = TableCommands.For(command);

        var rejection = VmSpec.Given(row.History(history))
            .When(row.Make("other-1"))
            .ThenRejected(
                RejectionCode.InvalidState,
                containing: $"cannot {command} VM 'web-1': its {inFlight.ToString().ToLowerInvariant()} operation "
                            + $"{Fixed.OperationId(busyId)} is still under way (deadline {deadline:O})");

        rejection.State.ShouldBe(VmPreconditions.TransitionName(inFlight, force));
        rejection.Command.ShouldBe(command);
    }

    [Fact]
    public void the_refusals_while_busy_leave_out_exactly_the_five_forced_stop_cases()
    {
        RefusedWhileBusy.Count().ShouldBe((InFlight.Length * VmPreconditions.Table.Count) - 5);
    }

    [Fact]
    public void a_command_that_is_allowed_in_the_observed_state_is_still_refused_while_busy()
    {
        // Observed RUNNING allows a stop, but a reboot is under way.
        VmSpec.Given(Vm.Busy(OperationKind.Reboot, false, PowerState.Running, BusyCommandId))
            .When(Cmd.Stop("stop-1"))
            .ThenRejected(RejectionCode.InvalidState, containing: "its reboot operation")
            .State.ShouldBe("REBOOTING");
    }

    [Fact]
    public void once_the_operation_has_finished_the_next_command_is_accepted()
    {
        VmSpec.Given([.. Vm.Busy(OperationKind.Start, false, PowerState.Stopped, "start-1"), Vm.Succeeded("start-1", PowerState.Running)])
            .When(Cmd.Stop("stop-1"))
            .ThenAccepted().Events.ShouldHaveSingleItem().ShouldBeOfType<VmOperationRequested>().Kind.ShouldBe(OperationKind.Stop);
    }
}
