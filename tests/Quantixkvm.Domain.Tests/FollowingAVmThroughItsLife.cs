using Quantixkvm.Domain.Tests.Support;
using Quantixkvm.Domain.Vms;

namespace Quantixkvm.Domain.Tests;

/// <summary>
/// Evolve, step by step through a whole life: what is wanted (desired), what is under way (current operation)
/// and what is seen (observed) move separately.
/// </summary>
public class FollowingAVmThroughItsLife
{
    private VmState _state = VmState.Initial;
    private DateTimeOffset _clock = Fixed.Now;

    private void Do(VmCommand command)
    {
        var accepted = VmDecider.Decide(command, _state)
            .ShouldBeOfType<Decision<VmEvent>.Accepted>($"{command.GetType().Name} was refused");
        accepted.Events.ShouldNotBeEmpty();
        _state = accepted.Events.Aggregate(_state, VmDecider.Evolve);
        _clock = _clock.AddSeconds(10);
    }

    private CommandContext At(string commandId) => new(commandId, Fixed.Actor, _clock);

    private void Then(string describe, PowerState desired, PowerState observed, OperationKind? under = null,
        OperationStatus status = OperationStatus.Pending)
    {
        _state.Describe().ShouldBe(describe);
        _state.DesiredPowerState.ShouldBe(desired, "desired");
        _state.ObservedPowerState.ShouldBe(observed, "observed");
        if (under is null)
        {
            _state.CurrentOperation.ShouldBeNull();
        }
        else
        {
            _state.CurrentOperation.ShouldNotBeNull();
            _state.CurrentOperation.Kind.ShouldBe(under.Value);
            _state.CurrentOperation.Status.ShouldBe(status);
        }
    }

    private void Lifecycle(OperationKind kind, string commandId, bool force = false) =>
        Do(kind switch
        {
            OperationKind.Start => new StartVm(At(commandId), Fixed.Timeouts),
            OperationKind.Stop => new StopVm(At(commandId), Fixed.Timeouts, force),
            OperationKind.Reboot => new RebootVm(At(commandId), Fixed.Timeouts),
            OperationKind.Pause => new PauseVm(At(commandId), Fixed.Timeouts),
            OperationKind.Resume => new ResumeVm(At(commandId), Fixed.Timeouts),
            _ => new DeleteVm(At(commandId), Fixed.Timeouts),
        });

    private void Began(string commandId) => Do(new MarkOperationStarted(At("agent"), Fixed.OperationId(commandId)));

    private void Done(string commandId, PowerState observed) =>
        Do(new CompleteOperation(At("agent"), Fixed.OperationId(commandId), observed));

    [Fact]
    public void desired_observed_and_current_operation_are_kept_apart_from_create_to_delete()
    {
        Then("NONEXISTENT", PowerState.Stopped, PowerState.Unknown);
        _state.Lifecycle.ShouldBe(VmLifecycle.None);

        Do(new CreateVm(At(Fixed.CreateCommandId), Fixed.Timeouts, Fixed.VmId, Fixed.VmName, Fixed.Vcpus, Fixed.MemoryMiB, Fixed.HostId, Start: false));
        Then("CREATING", PowerState.Stopped, PowerState.Unknown, OperationKind.Create);
        _state.Lifecycle.ShouldBe(VmLifecycle.Active);
        _state.CurrentOperation!.Deadline.ShouldBe(Fixed.Now + Fixed.Timeouts.Create);
        (_state.VmId, _state.Name, _state.Vcpus, _state.MemoryMiB, _state.HostId)
            .ShouldBe((Fixed.VmId, Fixed.VmName, Fixed.Vcpus, Fixed.MemoryMiB, Fixed.HostId));

        Began(Fixed.CreateCommandId);
        Then("CREATING", PowerState.Stopped, PowerState.Unknown, OperationKind.Create, OperationStatus.Running);

        Done(Fixed.CreateCommandId, PowerState.Stopped);
        Then("STOPPED", PowerState.Stopped, PowerState.Stopped);

        Lifecycle(OperationKind.Start, "start-1");
        Then("STARTING", PowerState.Running, PowerState.Stopped, OperationKind.Start);
        Began("start-1");
        Then("STARTING", PowerState.Running, PowerState.Stopped, OperationKind.Start, OperationStatus.Running);
        Done("start-1", PowerState.Running);
        Then("RUNNING", PowerState.Running, PowerState.Running);

        Lifecycle(OperationKind.Pause, "pause-1");
        Then("PAUSING", PowerState.Paused, PowerState.Running, OperationKind.Pause);
        Done("pause-1", PowerState.Paused);
        Then("PAUSED", PowerState.Paused, PowerState.Paused);

        Lifecycle(OperationKind.Resume, "resume-1");
        Then("RESUMING", PowerState.Running, PowerState.Paused, OperationKind.Resume);
        Do(new FailOperation(At("agent"), Fixed.OperationId("resume-1"), "VIR_ERR_OPERATION_FAILED", "resume failed", PowerState.Paused));
        Then("PAUSED", PowerState.Running, PowerState.Paused);

        Lifecycle(OperationKind.Resume, "resume-2");
        Done("resume-2", PowerState.Running);
        Then("RUNNING", PowerState.Running, PowerState.Running);

        Lifecycle(OperationKind.Reboot, "reboot-1");
        Then("REBOOTING", PowerState.Running, PowerState.Running, OperationKind.Reboot);
        Done("reboot-1", PowerState.Running);
        Then("RUNNING", PowerState.Running, PowerState.Running);

        Lifecycle(OperationKind.Stop, "stop-1");
        Then("STOPPING", PowerState.Stopped, PowerState.Running, OperationKind.Stop);
        var stopDeadline = _state.CurrentOperation!.Deadline;
        Do(new TimeOutOperation(new CommandContext("deadline", Fixed.Actor, stopDeadline), Fixed.OperationId("stop-1")));
        Then("RUNNING", PowerState.Stopped, PowerState.Running);

        Lifecycle(OperationKind.Stop, "force-1", force: true);
        Then("POWERING_OFF", PowerState.Stopped, PowerState.Running, OperationKind.Stop);
        _state.CurrentOperation!.Force.ShouldBeTrue();
        Done("force-1", PowerState.Stopped);
        Then("STOPPED", PowerState.Stopped, PowerState.Stopped);

        Lifecycle(OperationKind.Delete, "delete-1");
        Then("DELETING", PowerState.Stopped, PowerState.Stopped, OperationKind.Delete);
        Done("delete-1", PowerState.Stopped);
        Then("DELETED", PowerState.Stopped, PowerState.Stopped);
        _state.Lifecycle.ShouldBe(VmLifecycle.Deleted);

        _state.Operations.ShouldBe(
            new Dictionary<Guid, (OperationKind, bool, OperationStatus)>
            {
                [Fixed.OperationId(Fixed.CreateCommandId)] = (OperationKind.Create, false, OperationStatus.Succeeded),
                [Fixed.OperationId("start-1")] = (OperationKind.Start, false, OperationStatus.Succeeded),
                [Fixed.OperationId("pause-1")] = (OperationKind.Pause, false, OperationStatus.Succeeded),
                [Fixed.OperationId("resume-1")] = (OperationKind.Resume, false, OperationStatus.Failed),
                [Fixed.OperationId("resume-2")] = (OperationKind.Resume, false, OperationStatus.Succeeded),
                [Fixed.OperationId("reboot-1")] = (OperationKind.Reboot, false, OperationStatus.Succeeded),
                [Fixed.OperationId("stop-1")] = (OperationKind.Stop, false, OperationStatus.TimedOut),
                [Fixed.OperationId("force-1")] = (OperationKind.Stop, true, OperationStatus.Succeeded),
                [Fixed.OperationId("delete-1")] = (OperationKind.Delete, false, OperationStatus.Succeeded),
            },
            ignoreOrder: true);
    }

    [Fact]
    public void a_vm_created_to_start_wants_to_run_before_anything_is_seen()
    {
        Do(new CreateVm(At("create-2"), Fixed.Timeouts, Fixed.VmId, Fixed.VmName, Fixed.Vcpus, Fixed.MemoryMiB, Fixed.HostId, Start: true));

        Then("CREATING", PowerState.Running, PowerState.Unknown, OperationKind.Create);
    }

    public static TheoryData<OperationKind, bool, string> Transitions => new()
    {
        { OperationKind.Create, false, "CREATING" },
        { OperationKind.Start, false, "STARTING" },
        { OperationKind.Stop, false, "STOPPING" },
        { OperationKind.Stop, true, "POWERING_OFF" },
        { OperationKind.Reboot, false, "REBOOTING" },
        { OperationKind.Pause, false, "PAUSING" },
        { OperationKind.Resume, false, "RESUMING" },
        { OperationKind.Delete, false, "DELETING" },
    };

    [Theory]
    [MemberData(nameof(Transitions))]
    public void a_vm_with_an_operation_under_way_is_described_by_the_transition(OperationKind kind, bool force, string expected)
    {
        var history = Vm.Busy(kind, force, PowerState.Running, "busy-1");

        VmDecider.Fold(history).Describe().ShouldBe(expected);
    }

    [Theory]
    [InlineData(PowerState.Stopped, "STOPPED")]
    [InlineData(PowerState.Running, "RUNNING")]
    [InlineData(PowerState.Paused, "PAUSED")]
    [InlineData(PowerState.Unknown, "UNKNOWN")]
    public void a_vm_with_nothing_under_way_is_described_by_what_is_seen(PowerState observed, string expected)
    {
        VmDecider.Fold(Vm.IdleIn(observed)).Describe().ShouldBe(expected);
    }

    [Fact]
    public void fold_is_evolve_from_the_initial_state()
    {
        VmEvent[] history = [.. Vm.IdleIn(PowerState.Running), Vm.Requested(OperationKind.Pause, "pause-1")];

        var folded = VmDecider.Fold(history);
        var evolved = history.Aggregate(VmState.Initial, VmDecider.Evolve);

        folded.ShouldBe(evolved with { Operations = folded.Operations });
        folded.Operations.ShouldBe(evolved.Operations, ignoreOrder: true);
        folded.CurrentOperation!.Kind.ShouldBe(OperationKind.Pause);
    }
}
