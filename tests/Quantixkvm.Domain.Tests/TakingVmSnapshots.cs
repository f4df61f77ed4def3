using Quantixkvm.Domain.Tests.Support;
using Quantixkvm.Domain.Vms;

namespace Quantixkvm.Domain.Tests;

/// <summary>
/// VM snapshots: with memory while the guest runs or is paused, disk-only while it is stopped; each records the
/// current snapshot as its parent, and deleting one re-parents its children.
/// </summary>
public class TakingVmSnapshots
{
    private static readonly Guid SnapshotOperation = Fixed.OperationId("snapshot-1");

    private static VmOperationRequested Requested(OperationKind kind, string commandId, long sequence) =>
        new(Fixed.VmId, Fixed.OperationId(commandId), commandId, kind, Force: false, PowerState.Stopped, Fixed.HostId, Fixed.Actor, Fixed.Now,
            Fixed.Now + Fixed.Timeouts.Snapshot, sequence);

    /// <summary>A stopped VM with a chain of snapshots: base ← patched ← tuned, "tuned" current.</summary>
    private static VmEvent[] Chain() =>
    [
        .. Vm.IdleIn(PowerState.Stopped),
        .. Vm.SnapshotTaken("snapshot-a", "base", parent: null, PowerState.Stopped),
        .. Vm.SnapshotTaken("snapshot-b", "patched", parent: "base", PowerState.Stopped),
        .. Vm.SnapshotTaken("snapshot-c", "tuned", parent: "patched", PowerState.Stopped),
    ];

    private static VmEvent[] Deleting(string name) =>
    [
        .. Chain(),
        Vm.Requested(OperationKind.DeleteSnapshot, "delete-snapshot-1"),
        new VmSnapshotRequested(Fixed.VmId, Fixed.OperationId("delete-snapshot-1"), OperationKind.DeleteSnapshot, name, Fixed.SnapshotDescription, false),
    ];

    private static VmSnapshot Snap(string name, string? parent) =>
        new(name, parent, Fixed.SnapshotDescription, WithMemory: false, PowerState.Stopped, Fixed.Earlier);

    [Theory]
    [InlineData(PowerState.Running, true)]
    [InlineData(PowerState.Paused, true)]
    [InlineData(PowerState.Stopped, false)]
    public void a_snapshot_includes_memory_only_while_the_guest_runs_or_is_paused(PowerState observed, bool withMemory)
    {
        VmSpec.Given(Vm.IdleIn(observed))
            .When(Cmd.Snapshot("snapshot-1", "snap-1", "before the upgrade"))
            .ThenEvents(
                Requested(OperationKind.CreateSnapshot, "snapshot-1", sequence: 2),
                new VmSnapshotRequested(Fixed.VmId, SnapshotOperation, OperationKind.CreateSnapshot, "snap-1", "before the upgrade", withMemory))
            .WithOperationId(SnapshotOperation)
            .ThenState().Describe().ShouldBe("SNAPSHOTTING");
    }

    [Fact]
    public void a_snapshot_of_a_vm_in_an_unknown_state_is_refused()
    {
        VmSpec.Given(Vm.IdleIn(PowerState.Unknown))
            .When(Cmd.Snapshot())
            .ThenRejected(RejectionCode.InvalidState, containing: "allowed only when STOPPED or RUNNING or PAUSED");
    }

    [Fact]
    public void a_completed_snapshot_is_taken_with_the_current_snapshot_as_its_parent()
    {
        VmSpec.Given(
            [
                .. Vm.IdleIn(PowerState.Running),
                .. Vm.SnapshotTaken("snapshot-0", "base", parent: null, PowerState.Running),
                Vm.Requested(OperationKind.CreateSnapshot, "snapshot-1"),
                new VmSnapshotRequested(Fixed.VmId, SnapshotOperation, OperationKind.CreateSnapshot, "snap-1", "after", WithMemory: true),
            ])
            .When(Cmd.Complete("snapshot-1", PowerState.Running))
            .ThenEvents(
                new VmOperationSucceeded(Fixed.VmId, SnapshotOperation, PowerState.Running, Fixed.Now),
                new VmSnapshotTaken(Fixed.VmId, SnapshotOperation,
                    new VmSnapshot("snap-1", Parent: "base", "after", WithMemory: true, PowerState.Running, Fixed.Now, VolumeIds: [])));
    }

    [Fact]
    public void the_first_snapshot_has_no_parent_and_becomes_current()
    {
        var state = VmSpec.Given(
            [
                .. Vm.IdleIn(PowerState.Stopped),
                Vm.Requested(OperationKind.CreateSnapshot, "snapshot-1"),
                new VmSnapshotRequested(Fixed.VmId, SnapshotOperation, OperationKind.CreateSnapshot, "snap-1", "first", WithMemory: false),
            ])
            .When(Cmd.Complete("snapshot-1", PowerState.Stopped))
            .ThenState();

        state.Snapshots.Select(x => x with { VolumeIds = null }).ShouldBe([new VmSnapshot("snap-1", null, "first", false, PowerState.Stopped, Fixed.Now)]);
        state.Snapshots.Single().VolumeIds.ShouldBeEmpty();
        state.CurrentSnapshot.ShouldBe("snap-1");
        state.PendingSnapshots.ShouldBeEmpty();
    }

    [Fact]
    public void a_failed_snapshot_is_not_recorded()
    {
        var state = VmSpec.Given(
            [
                .. Vm.IdleIn(PowerState.Running),
                Vm.Requested(OperationKind.CreateSnapshot, "snapshot-1"),
                new VmSnapshotRequested(Fixed.VmId, SnapshotOperation, OperationKind.CreateSnapshot, "snap-1", "x", WithMemory: true),
            ])
            .When(Cmd.Fail("snapshot-1", "VIR_ERR_OPERATION_UNSUPPORTED", "internal snapshots of a VM with pflash are not supported", PowerState.Running))
            .ThenState();

        state.Snapshots.ShouldBeEmpty();
        state.CurrentSnapshot.ShouldBeNull();
        state.PendingSnapshots.ShouldBeEmpty();
    }

    public static TheoryData<string> BadNames => new() { "../x", "a b", "-x", "$(rm)", "a/b", ".hidden", "", new string('s', 65) };

    [Theory]
    [MemberData(nameof(BadNames))]
    public void a_snapshot_name_that_is_no_safe_resource_name_is_refused(string name)
    {
        var rejection = VmSpec.Given(Vm.IdleIn(PowerState.Running))
            .When(Cmd.Snapshot("snapshot-1", name))
            .ThenRejected(RejectionCode.Validation, containing: "snapshot name");

        rejection.Command.ShouldBe("create-snapshot");
    }

    [Fact]
    public void a_snapshot_name_the_vm_already_has_is_a_conflict()
    {
        VmSpec.Given(Chain())
            .When(Cmd.Snapshot("snapshot-1", "patched"))
            .ThenRejected(RejectionCode.Conflict, containing: "VM 'web-1' already has a snapshot named 'patched'")
            .Command.ShouldBe("create-snapshot");
    }

    [Fact]
    public void reverting_asks_for_the_snapshot_as_it_was_taken()
    {
        VmSpec.Given(Chain())
            .When(Cmd.Revert("revert-1", "base"))
            .ThenEvents(
                Requested(OperationKind.RevertSnapshot, "revert-1", sequence: 5),
                new VmSnapshotRequested(
                    Fixed.VmId, Fixed.OperationId("revert-1"), OperationKind.RevertSnapshot, "base", Fixed.SnapshotDescription, WithMemory: false))
            .ThenState().Describe().ShouldBe("REVERTING");
    }

    [Fact]
    public void reverting_to_a_snapshot_taken_with_other_disks_is_refused_until_the_disks_match()
    {
        var volume = Guid.Parse("0b0b0b0b-0000-0000-0000-000000000001");
        VmEvent[] history =
        [
            .. Vm.IdleIn(PowerState.Stopped),
            new VmSnapshotTaken(Fixed.VmId, Fixed.OperationId("snapshot-0"),
                new VmSnapshot("bare", null, "no disks", false, PowerState.Stopped, Fixed.Earlier, VolumeIds: [])),
            Vm.DiskAttached(volume, "vda"),
        ];
        VmSpec.Given(history)
            .When(Cmd.Revert("revert-1", "bare"))
            .ThenRejected(RejectionCode.InvalidState, containing: "attach or detach disks to match before reverting")
            .Command.ShouldBe("revert-snapshot");
        VmSpec.Given([.. history, new VmDiskDetached(Fixed.VmId, Fixed.OperationId("detach-1"), volume, "detached", Fixed.Earlier)])
            .When(Cmd.Revert("revert-1", "bare"))
            .ThenAccepted().Events.Count.ShouldBe(2);
    }

    [Fact]
    public void a_completed_revert_makes_the_snapshot_current_and_the_parent_of_the_next()
    {
        VmEvent[] reverting =
        [
            .. Chain(),
            Vm.Requested(OperationKind.RevertSnapshot, "revert-1"),
            new VmSnapshotRequested(Fixed.VmId, Fixed.OperationId("revert-1"), OperationKind.RevertSnapshot, "base", Fixed.SnapshotDescription, false),
        ];
        var outcome = VmSpec.Given(reverting).When(Cmd.Complete("revert-1", PowerState.Stopped));
        outcome.ThenEvents(
            new VmOperationSucceeded(Fixed.VmId, Fixed.OperationId("revert-1"), PowerState.Stopped, Fixed.Now),
            new VmSnapshotReverted(Fixed.VmId, Fixed.OperationId("revert-1"), "base", Fixed.Now));
        outcome.ThenState().CurrentSnapshot.ShouldBe("base");

        VmEvent[] reverted = [.. reverting, .. outcome.ThenAccepted().Events];
        VmEvent[] next =
        [
            .. reverted,
            Vm.Requested(OperationKind.CreateSnapshot, "snapshot-1"),
            new VmSnapshotRequested(Fixed.VmId, SnapshotOperation, OperationKind.CreateSnapshot, "branch", "", false),
        ];
        VmSpec.Given(next).When(Cmd.Complete("snapshot-1", PowerState.Stopped))
            .ThenAccepted().Events.OfType<VmSnapshotTaken>().Single().Snapshot.Parent.ShouldBe("base");
    }

    [Fact]
    public void reverting_to_an_unknown_snapshot_is_not_found()
    {
        VmSpec.Given(Chain())
            .When(Cmd.Revert("revert-1", "nope"))
            .ThenRejected(RejectionCode.NotFound, containing: "VM 'web-1' has no snapshot named 'nope'")
            .Command.ShouldBe("revert-snapshot");
    }

    [Fact]
    public void deleting_an_unknown_snapshot_is_not_found()
    {
        VmSpec.Given(Chain())
            .When(Cmd.DeleteSnapshot("delete-snapshot-1", "nope"))
            .ThenRejected(RejectionCode.NotFound, containing: "VM 'web-1' has no snapshot named 'nope'")
            .Command.ShouldBe("delete-snapshot");
    }

    [Fact]
    public void deleting_a_snapshot_asks_for_it_within_the_snapshot_deadline()
    {
        VmSpec.Given(Chain())
            .When(Cmd.DeleteSnapshot("delete-snapshot-1", "patched"))
            .ThenEvents(
                Requested(OperationKind.DeleteSnapshot, "delete-snapshot-1", sequence: 5),
                new VmSnapshotRequested(
                    Fixed.VmId, Fixed.OperationId("delete-snapshot-1"), OperationKind.DeleteSnapshot, "patched", Fixed.SnapshotDescription, false))
            .ThenState().Describe().ShouldBe("DELETING_SNAPSHOT");
    }

    [Fact]
    public void deleting_a_snapshot_in_the_middle_re_parents_its_children_and_keeps_the_current_one()
    {
        var outcome = VmSpec.Given(Deleting("patched")).When(Cmd.Complete("delete-snapshot-1", PowerState.Stopped));

        outcome.ThenEvents(
            new VmOperationSucceeded(Fixed.VmId, Fixed.OperationId("delete-snapshot-1"), PowerState.Stopped, Fixed.Now),
            new VmSnapshotDeleted(Fixed.VmId, Fixed.OperationId("delete-snapshot-1"), "patched", Fixed.Now));
        var state = outcome.ThenState();
        state.Snapshots.ShouldBe([Snap("base", null), Snap("tuned", "base")]);
        state.CurrentSnapshot.ShouldBe("tuned");
    }

    [Fact]
    public void deleting_the_current_snapshot_moves_current_to_its_parent()
    {
        var state = VmSpec.Given(Deleting("tuned")).When(Cmd.Complete("delete-snapshot-1", PowerState.Stopped)).ThenState();

        state.Snapshots.ShouldBe([Snap("base", null), Snap("patched", "base")]);
        state.CurrentSnapshot.ShouldBe("patched");
    }

    [Fact]
    public void deleting_the_root_snapshot_makes_its_children_roots()
    {
        var state = VmSpec.Given(Deleting("base")).When(Cmd.Complete("delete-snapshot-1", PowerState.Stopped)).ThenState();

        state.Snapshots.ShouldBe([Snap("patched", null), Snap("tuned", "patched")]);
        state.CurrentSnapshot.ShouldBe("tuned");
    }

    [Fact]
    public void a_failed_snapshot_delete_keeps_the_snapshot()
    {
        var state = VmSpec.Given(Deleting("patched"))
            .When(Cmd.Fail("delete-snapshot-1", "VIR_ERR_OPERATION_FAILED", "failed", PowerState.Stopped))
            .ThenState();

        state.Snapshots.Select(s => s.Name).ShouldBe(["base", "patched", "tuned"]);
    }

    [Fact]
    public void a_snapshot_is_refused_while_another_operation_is_under_way()
    {
        VmSpec.Given([.. Vm.IdleIn(PowerState.Running), Vm.Requested(OperationKind.Reboot, "reboot-1")])
            .When(Cmd.Snapshot("snapshot-1"))
            .ThenRejected(RejectionCode.InvalidState, containing: $"its reboot operation {Fixed.OperationId("reboot-1")} is still under way")
            .State.ShouldBe("REBOOTING");
    }

    [Fact]
    public void a_revert_is_refused_while_a_snapshot_is_being_deleted()
    {
        VmSpec.Given(Deleting("patched"))
            .When(Cmd.Revert("revert-1", "base"))
            .ThenRejected(RejectionCode.InvalidState, containing: "its deletesnapshot operation")
            .State.ShouldBe("DELETING_SNAPSHOT");
    }

    [Fact]
    public void a_snapshot_times_out_at_its_snapshot_deadline()
    {
        var deadline = Fixed.Earlier + Fixed.Timeouts.Snapshot;
        VmEvent[] busy =
        [
            .. Vm.IdleIn(PowerState.Running),
            Vm.Requested(OperationKind.CreateSnapshot, "snapshot-1"),
            new VmSnapshotRequested(Fixed.VmId, SnapshotOperation, OperationKind.CreateSnapshot, "snap-1", "", WithMemory: true),
        ];

        VmSpec.Given(busy).When(Cmd.TimeOut("snapshot-1", deadline.AddSeconds(-1))).ThenRejected(RejectionCode.InvalidState);
        var state = VmSpec.Given(busy).When(Cmd.TimeOut("snapshot-1", deadline))
            .ThenEvents(new VmOperationTimedOut(Fixed.VmId, SnapshotOperation, deadline))
            .ThenState();
        state.Snapshots.ShouldBeEmpty();
        state.PendingSnapshots.ShouldBeEmpty();
    }

    [Fact]
    public void repeating_a_snapshot_command_id_appends_nothing()
    {
        VmSpec.Given([.. Vm.IdleIn(PowerState.Stopped), .. Vm.SnapshotTaken("snapshot-1", "snap-1", null, PowerState.Stopped)])
            .When(Cmd.Snapshot("snapshot-1", "snap-1"))
            .ThenNothingChanges(SnapshotOperation);
    }
}
