using Quantixkvm.Domain.Storage;
using Quantixkvm.Domain.Tests.Support;

namespace Quantixkvm.Domain.Tests;

/// <summary>
/// Volumes: created blank, copied, cloned or imported; grown, snapshotted and deleted, one operation at a time. Facts of
/// other aggregates (attached to a VM, linked clones, free space) come with the command.
/// </summary>
public class ManagingVolumes
{
    private static readonly Guid CreateOperation = Store.VolumeOperation(Store.VolumeCommandId);
    private static readonly Guid SomeVm = new("0b0070a1-0000-4000-8000-0000000000f1");

    private static StorageOperationRequested Requested(
        StorageOperationKind kind, string commandId, string? name = null, long? sizeBytes = null, TimeSpan? timeout = null) =>
        Store.Requested(Store.VolumeId, kind, commandId, name, sizeBytes, at: Fixed.Now, timeout: timeout);

    private static VolumeSource Import(string url, string? sha256 = Store.Sha256) => new(ImportUrl: url, Sha256: sha256);

    [Fact]
    public void creating_a_blank_volume_records_it_and_asks_its_host_within_the_quick_deadline()
    {
        VolumeSpec.Given()
            .When(StorageCmd.CreateVolume())
            .ThenEvents(
                new VolumeCreated(Store.VolumeId, Store.PoolId, Store.VolumeName, VolumeFormat.Qcow2, Store.VolumeSize, VolumeSource.Blank, false, Fixed.Now),
                Requested(StorageOperationKind.CreateVolume, Store.VolumeCommandId))
            .WithOperationId(CreateOperation)
            .ThenState().Describe().ShouldBe("CREATE-VOLUME");
    }

    [Theory]
    [InlineData(StoragePaths.MinVolumeBytes)]
    [InlineData(StoragePaths.MaxVolumeBytes)]
    public void a_blank_volume_at_the_size_limits_is_accepted(long size)
    {
        VolumeSpec.Given().When(StorageCmd.CreateVolume(size)).ThenAccepted().Events.OfType<VolumeCreated>().Single().SizeBytes.ShouldBe(size);
    }

    [Theory]
    [InlineData(0L)]
    [InlineData(-1L)]
    [InlineData(StoragePaths.MinVolumeBytes - 1)]
    [InlineData(StoragePaths.MaxVolumeBytes + 1)]
    public void a_blank_volume_outside_the_size_limits_is_refused(long size)
    {
        var rejection = VolumeSpec.Given()
            .When(StorageCmd.CreateVolume(size))
            .ThenRejected(RejectionCode.Validation, containing: $"volume size must be between 1048576 bytes (1 MiB) and 70368744177664 bytes (64 TiB) (got {size})");

        rejection.Command.ShouldBe("create-volume");
    }

    [Fact]
    public void a_volume_with_an_unsafe_name_is_refused()
    {
        VolumeSpec.Given().When(StorageCmd.CreateVolume(name: "../../etc/shadow")).ThenRejected(RejectionCode.Validation, containing: "volume name");
    }

    [Theory]
    [InlineData("https://images.example.org/noble-server-cloudimg-amd64.img")]
    [InlineData("http://mirror.lan/images/debian-12.qcow2")]
    [InlineData("file:///var/lib/quantixkvm/images/alpine.qcow2")]
    public void importing_an_image_with_its_checksum_is_accepted_with_the_copy_deadline(string url)
    {
        VolumeSpec.Given()
            .When(StorageCmd.CreateVolume(size: 0, source: Import(url), isImage: true))
            .ThenEvents(
                new VolumeCreated(Store.VolumeId, Store.PoolId, Store.VolumeName, VolumeFormat.Qcow2, 0, Import(url), true, Fixed.Now),
                Requested(StorageOperationKind.CreateVolume, Store.VolumeCommandId, timeout: Store.Timeouts.Copy));
    }

    [Theory]
    [InlineData("ftp://images.example.org/x.img")]
    [InlineData("javascript:alert(1)")]
    [InlineData("images/x.img")]
    [InlineData("")]
    public void importing_from_anything_but_an_http_https_or_file_url_is_refused(string url)
    {
        VolumeSpec.Given()
            .When(StorageCmd.CreateVolume(source: Import(url)))
            .ThenRejected(RejectionCode.Validation)
            .Message.ShouldBe($"image URL '{url}' must be an absolute http, https or file URL");
    }

    [Fact]
    public void importing_from_a_bare_path_is_refused()
    {
        VolumeSpec.Given()
            .When(StorageCmd.CreateVolume(source: Import("/var/lib/images/x.img")))
            .ThenRejected(RejectionCode.Validation, containing: "must be an absolute http, https or file URL");
    }

    [Theory]
    [InlineData(null)]
    [InlineData("")]
    [InlineData("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b85")]
    [InlineData("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b8555")]
    [InlineData("z3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")]
    public void importing_without_a_valid_sha256_is_refused(string? sha256)
    {
        VolumeSpec.Given()
            .When(StorageCmd.CreateVolume(source: Import("https://images.example.org/x.img", sha256)))
            .ThenRejected(RejectionCode.Validation, containing: "SHA-256");
    }

    [Fact]
    public void a_full_copy_gets_the_copy_deadline_and_a_linked_clone_the_quick_one()
    {
        VolumeSpec.Given().When(StorageCmd.CreateVolume(source: new VolumeSource(CloneOf: Store.BaseVolume)))
            .ThenAccepted().Events.OfType<StorageOperationRequested>().Single().Deadline.ShouldBe(Fixed.Now + Store.Timeouts.Copy);
        VolumeSpec.Given().When(StorageCmd.CreateVolume(source: new VolumeSource(CloneOf: Store.BaseVolume, Linked: true)))
            .ThenAccepted().Events.OfType<StorageOperationRequested>().Single().Deadline.ShouldBe(Fixed.Now + Store.Timeouts.Quick);
    }

    [Fact]
    public void a_linked_clone_in_a_dir_pool_must_be_qcow2()
    {
        VolumeSpec.Given()
            .When(StorageCmd.CreateVolume(source: new VolumeSource(CloneOf: Store.BaseVolume, Linked: true), format: VolumeFormat.Raw))
            .ThenRejected(RejectionCode.Validation)
            .Message.ShouldBe("a linked clone in a dir pool must be qcow2 (it is an overlay on its base)");
    }

    [Fact]
    public void volumes_in_an_rbd_pool_are_raw_and_their_linked_clones_too()
    {
        var linked = new VolumeSource(CloneOf: Store.BaseVolume, Linked: true);
        VolumeSpec.Given()
            .When(StorageCmd.CreateVolume(source: linked, format: VolumeFormat.Qcow2) with { PoolKind = PoolKind.Rbd })
            .ThenRejected(RejectionCode.Validation)
            .Message.ShouldContain("volumes in an RBD pool are RAW");
        VolumeSpec.Given()
            .When(StorageCmd.CreateVolume(source: linked, format: VolumeFormat.Raw) with { PoolKind = PoolKind.Rbd })
            .ThenAccepted().Events.Count.ShouldBe(2);
    }

    [Fact]
    public void a_linked_clone_needs_the_volume_it_is_cloned_from()
    {
        VolumeSpec.Given()
            .When(StorageCmd.CreateVolume(source: new VolumeSource(Linked: true)))
            .ThenRejected(RejectionCode.Validation)
            .Message.ShouldBe("a linked clone needs the volume it is cloned from");
    }

    [Fact]
    public void a_volume_cannot_be_both_imported_and_cloned()
    {
        VolumeSpec.Given()
            .When(StorageCmd.CreateVolume(source: new VolumeSource(CloneOf: Store.BaseVolume, ImportUrl: "https://x.example/i.img", Sha256: Store.Sha256)))
            .ThenRejected(RejectionCode.Validation, containing: "either imported or cloned");
    }

    [Fact]
    public void a_blank_volume_bigger_than_the_pool_s_free_space_is_refused()
    {
        var rejection = VolumeSpec.Given()
            .When(StorageCmd.CreateVolume(size: 10 * Store.GiB, poolAvailable: (10 * Store.GiB) - 1))
            .ThenRejected(RejectionCode.InvalidState, containing: $"the pool has {(10 * Store.GiB) - 1} bytes free");

        rejection.Command.ShouldBe("create-volume");
        VolumeSpec.Given().When(StorageCmd.CreateVolume(size: 10 * Store.GiB, poolAvailable: 10 * Store.GiB)).ThenAccepted();
    }

    [Fact]
    public void repeating_a_create_changes_nothing_and_another_create_of_the_same_volume_is_a_conflict()
    {
        VolumeSpec.Given(Volume.Ready()).When(StorageCmd.CreateVolume()).ThenNothingChanges(CreateOperation);
        VolumeSpec.Given(Volume.Ready())
            .When(StorageCmd.CreateVolume(name: "renamed"))
            .ThenRejected(RejectionCode.Conflict, containing: $"volume {Store.VolumeId} already exists");
    }

    [Fact]
    public void a_completed_create_makes_the_volume_ready_with_the_size_its_host_read()
    {
        var outcome = VolumeSpec.Given(Volume.BeingCreated())
            .When(StorageCmd.Complete(Store.VolumeId, Store.VolumeCommandId, new StorageObservation(12 * Store.GiB, 200_704, null, "/srv/pools/web-1-root")));

        outcome.ThenEvents(
            new StorageOperationSucceeded(Store.VolumeId, CreateOperation, Fixed.Now),
            new VolumeObserved(Store.VolumeId, 12 * Store.GiB, 200_704, "/srv/pools/web-1-root", Fixed.Now));
        var state = outcome.ThenState();
        state.Status.ShouldBe(StorageStatus.Ready);
        state.SizeBytes.ShouldBe(12 * Store.GiB);
    }

    [Fact]
    public void a_volume_observed_event_updates_the_size()
    {
        VolumeSpec.Given([.. Volume.Ready(), new VolumeObserved(Store.VolumeId, 3 * Store.VolumeSize, 0, null, Fixed.Earlier)])
            .State.SizeBytes.ShouldBe(3 * Store.VolumeSize);
    }

    [Fact]
    public void a_volume_whose_create_failed_cannot_be_resized_but_can_be_deleted()
    {
        StorageEvent[] failed = [.. Volume.BeingCreated(), Store.Failed(Store.VolumeId, Store.VolumeCommandId, "no space left on device")];
        VolumeSpec.Given(failed).State.Status.ShouldBe(StorageStatus.Failed);

        VolumeSpec.Given(failed)
            .When(StorageCmd.Resize(2 * Store.VolumeSize))
            .ThenRejected(RejectionCode.InvalidState, containing: "cannot resize-volume volume 'web-1-root' while it is FAILED");
        VolumeSpec.Given(failed)
            .When(StorageCmd.DeleteVolume())
            .ThenEvents(Requested(StorageOperationKind.DeleteVolume, "delete-volume-1"));
    }

    [Fact]
    public void growing_a_volume_asks_for_the_new_size()
    {
        VolumeSpec.Given(Volume.Ready())
            .When(StorageCmd.Resize(2 * Store.VolumeSize, "resize-1"))
            .ThenEvents(Requested(StorageOperationKind.ResizeVolume, "resize-1", sizeBytes: 2 * Store.VolumeSize))
            .WithOperationId(Store.VolumeOperation("resize-1"));
    }

    [Fact]
    public void a_completed_resize_records_the_size_its_host_read()
    {
        VolumeSpec.Given(Volume.Busy(StorageOperationKind.ResizeVolume, "resize-1", sizeBytes: 2 * Store.VolumeSize))
            .When(StorageCmd.Complete(Store.VolumeId, "resize-1", new StorageObservation(2 * Store.VolumeSize, Store.GiB, null, null)))
            .ThenState().SizeBytes.ShouldBe(2 * Store.VolumeSize);
    }

    [Fact]
    public void shrinking_a_volume_is_refused()
    {
        var rejection = VolumeSpec.Given(Volume.Ready())
            .When(StorageCmd.Resize(Store.VolumeSize - 1))
            .ThenRejected(RejectionCode.Validation, containing: "cannot shrink");

        rejection.Message.ShouldContain($"from {Store.VolumeSize} to {Store.VolumeSize - 1} bytes");
        rejection.Command.ShouldBe("resize-volume");
    }

    [Fact]
    public void resizing_to_the_same_size_is_refused()
    {
        VolumeSpec.Given(Volume.Ready())
            .When(StorageCmd.Resize(Store.VolumeSize))
            .ThenRejected(RejectionCode.Validation, containing: $"volume 'web-1-root' is already {Store.VolumeSize} bytes");
    }

    [Fact]
    public void growing_past_the_largest_size_is_refused()
    {
        VolumeSpec.Given(Volume.Ready())
            .When(StorageCmd.Resize(StoragePaths.MaxVolumeBytes + 1))
            .ThenRejected(RejectionCode.Validation, containing: "volume size must be between");
    }

    [Fact]
    public void resizing_an_attached_volume_is_refused()
    {
        VolumeSpec.Given(Volume.Ready())
            .When(StorageCmd.Resize(2 * Store.VolumeSize, attachedTo: SomeVm))
            .ThenRejected(RejectionCode.InvalidState, containing: $"attached to VM {SomeVm}; detach it before resizing");
    }

    [Fact]
    public void deleting_an_attached_volume_is_refused()
    {
        VolumeSpec.Given(Volume.Ready())
            .When(StorageCmd.DeleteVolume(attachedTo: SomeVm))
            .ThenRejected(RejectionCode.InvalidState, containing: $"volume 'web-1-root' is attached to VM {SomeVm}; detach it first")
            .Command.ShouldBe("delete-volume");
    }

    [Fact]
    public void deleting_the_base_of_linked_clones_is_refused()
    {
        VolumeSpec.Given(Volume.Ready())
            .When(StorageCmd.DeleteVolume(linkedClones: 2))
            .ThenRejected(RejectionCode.InvalidState, containing: "the base of 2 linked clone(s); delete them first");
    }

    [Fact]
    public void a_completed_delete_deletes_the_volume()
    {
        var outcome = VolumeSpec.Given(Volume.Busy(StorageOperationKind.DeleteVolume, "delete-volume-1"))
            .When(StorageCmd.Complete(Store.VolumeId, "delete-volume-1", new StorageObservation(1, 1, null, null)));

        outcome.ThenEvents(
            new StorageOperationSucceeded(Store.VolumeId, Store.VolumeOperation("delete-volume-1"), Fixed.Now),
            new VolumeDeleted(Store.VolumeId, Fixed.Now));
        outcome.ThenState().Status.ShouldBe(StorageStatus.Deleted);
    }

    [Fact]
    public void operations_on_a_deleted_volume_are_not_found()
    {
        VolumeSpec.Given(Volume.Gone())
            .When(StorageCmd.Resize(2 * Store.VolumeSize))
            .ThenRejected(RejectionCode.NotFound, containing: "volume 'web-1-root' was deleted")
            .State.ShouldBe("DELETED");
        VolumeSpec.Given(Volume.Gone())
            .When(StorageCmd.DeleteVolume("delete-volume-2"))
            .ThenRejected(RejectionCode.NotFound, containing: "was deleted");
    }

    [Fact]
    public void repeating_the_delete_of_a_deleted_volume_changes_nothing()
    {
        VolumeSpec.Given(Volume.Gone()).When(StorageCmd.DeleteVolume("delete-volume-1")).ThenNothingChanges(Store.VolumeOperation("delete-volume-1"));
    }

    [Fact]
    public void reusing_the_delete_s_command_id_for_another_kind_on_a_deleted_volume_is_refused()
    {
        VolumeSpec.Given(Volume.Gone())
            .When(StorageCmd.Resize(2 * Store.VolumeSize, "delete-volume-1"))
            .ThenRejected(RejectionCode.Validation, containing: "was already used for a delete-volume operation");
    }

    [Fact]
    public void commands_on_a_volume_that_does_not_exist_are_not_found()
    {
        VolumeSpec.Given().When(StorageCmd.DeleteVolume()).ThenRejected(RejectionCode.NotFound, containing: "the volume does not exist");
        VolumeSpec.Given().When(StorageCmd.Complete(Store.VolumeId, "x")).ThenRejected(RejectionCode.NotFound, containing: "the volume does not exist");
    }

    [Fact]
    public void a_busy_volume_refuses_a_second_operation()
    {
        VolumeSpec.Given(Volume.Busy(StorageOperationKind.ResizeVolume, "resize-1", sizeBytes: 2 * Store.VolumeSize))
            .When(StorageCmd.Snapshot("snap-1"))
            .ThenRejected(RejectionCode.InvalidState, containing: $"its resize-volume operation {Store.VolumeOperation("resize-1")} is still under way")
            .State.ShouldBe("RESIZE-VOLUME");
    }

    [Fact]
    public void a_command_id_reused_for_another_kind_is_refused()
    {
        VolumeSpec.Given([.. Volume.Busy(StorageOperationKind.ResizeVolume, "op-1", sizeBytes: 2 * Store.VolumeSize), Store.Succeeded(Store.VolumeId, "op-1")])
            .When(StorageCmd.DeleteVolume("op-1"))
            .ThenRejected(RejectionCode.Validation, containing: "command id 'op-1' was already used for a resize-volume operation on this volume");
    }

    [Fact]
    public void snapshotting_a_detached_volume_takes_the_snapshot_when_its_host_is_done()
    {
        VolumeSpec.Given(Volume.Ready())
            .When(StorageCmd.Snapshot("before-upgrade", "snapshot-volume-1"))
            .ThenEvents(Requested(StorageOperationKind.SnapshotVolume, "snapshot-volume-1", name: "before-upgrade"));

        var state = VolumeSpec.Given(Volume.Busy(StorageOperationKind.SnapshotVolume, "snapshot-volume-1", name: "before-upgrade"))
            .When(StorageCmd.Complete(Store.VolumeId, "snapshot-volume-1"))
            .ThenEvents(
                new StorageOperationSucceeded(Store.VolumeId, Store.VolumeOperation("snapshot-volume-1"), Fixed.Now),
                new VolumeSnapshotTaken(Store.VolumeId, "before-upgrade", Fixed.Now))
            .ThenState();
        state.Snapshots.ShouldBe(["before-upgrade"]);
    }

    [Fact]
    public void reverting_a_volume_to_its_snapshot_is_recorded()
    {
        VolumeSpec.Given(Volume.WithSnapshot("snap-1"))
            .When(StorageCmd.Revert("snap-1", "revert-volume-1"))
            .ThenEvents(Requested(StorageOperationKind.RevertVolume, "revert-volume-1", name: "snap-1"));

        VolumeSpec.Given([.. Volume.WithSnapshot("snap-1"), Store.Requested(Store.VolumeId, StorageOperationKind.RevertVolume, "revert-volume-1", "snap-1")])
            .When(StorageCmd.Complete(Store.VolumeId, "revert-volume-1"))
            .ThenEvents(
                new StorageOperationSucceeded(Store.VolumeId, Store.VolumeOperation("revert-volume-1"), Fixed.Now),
                new VolumeReverted(Store.VolumeId, "snap-1", Fixed.Now));
    }

    [Fact]
    public void deleting_a_volume_snapshot_removes_it()
    {
        StorageEvent[] deleting =
            [.. Volume.WithSnapshot("snap-1"), Store.Requested(Store.VolumeId, StorageOperationKind.DeleteVolumeSnapshot, "delete-volume-snapshot-1", "snap-1")];

        VolumeSpec.Given(Volume.WithSnapshot("snap-1"))
            .When(StorageCmd.DeleteSnapshot("snap-1", "delete-volume-snapshot-1"))
            .ThenEvents(Requested(StorageOperationKind.DeleteVolumeSnapshot, "delete-volume-snapshot-1", name: "snap-1"));
        VolumeSpec.Given(deleting)
            .When(StorageCmd.Complete(Store.VolumeId, "delete-volume-snapshot-1"))
            .ThenEvents(
                new StorageOperationSucceeded(Store.VolumeId, Store.VolumeOperation("delete-volume-snapshot-1"), Fixed.Now),
                new VolumeSnapshotDeleted(Store.VolumeId, "snap-1", Fixed.Now))
            .ThenState().Snapshots.ShouldBeEmpty();
    }

    [Theory]
    [InlineData("../x")]
    [InlineData("-x")]
    [InlineData("a b")]
    [InlineData("$(rm)")]
    public void a_volume_snapshot_with_an_unsafe_name_is_refused(string name)
    {
        VolumeSpec.Given(Volume.Ready()).When(StorageCmd.Snapshot(name)).ThenRejected(RejectionCode.Validation, containing: "snapshot name");
    }

    [Fact]
    public void a_volume_snapshot_name_the_volume_already_has_is_a_conflict()
    {
        VolumeSpec.Given(Volume.WithSnapshot("snap-1"))
            .When(StorageCmd.Snapshot("snap-1"))
            .ThenRejected(RejectionCode.Conflict, containing: "already has a snapshot named 'snap-1'");
    }

    [Fact]
    public void reverting_to_or_deleting_an_unknown_volume_snapshot_is_not_found()
    {
        VolumeSpec.Given(Volume.WithSnapshot("snap-1"))
            .When(StorageCmd.Revert("nope"))
            .ThenRejected(RejectionCode.NotFound, containing: "volume 'web-1-root' has no snapshot named 'nope'");
        VolumeSpec.Given(Volume.WithSnapshot("snap-1"))
            .When(StorageCmd.DeleteSnapshot("nope"))
            .ThenRejected(RejectionCode.NotFound, containing: "volume 'web-1-root' has no snapshot named 'nope'");
    }

    [Fact]
    public void snapshot_operations_on_an_attached_volume_are_refused()
    {
        const string useTheVm = "is attached to a VM; detach it first, or use the VM's snapshots";

        VolumeSpec.Given(Volume.WithSnapshot("snap-1")).When(StorageCmd.Snapshot("snap-2", attachedTo: SomeVm))
            .ThenRejected(RejectionCode.InvalidState, containing: useTheVm);
        VolumeSpec.Given(Volume.WithSnapshot("snap-1")).When(StorageCmd.Revert("snap-1", attachedTo: SomeVm))
            .ThenRejected(RejectionCode.InvalidState, containing: useTheVm);
        VolumeSpec.Given(Volume.WithSnapshot("snap-1")).When(StorageCmd.DeleteSnapshot("snap-1", attachedTo: SomeVm))
            .ThenRejected(RejectionCode.InvalidState, containing: useTheVm);
    }

    [Fact]
    public void a_volume_operation_times_out_at_its_deadline_and_not_before()
    {
        var deadline = Fixed.Earlier + Store.Timeouts.Quick;
        StorageEvent[] busy = Volume.Busy(StorageOperationKind.ResizeVolume, "resize-1", sizeBytes: 2 * Store.VolumeSize);

        VolumeSpec.Given(busy).When(StorageCmd.TimeOut(Store.VolumeId, "resize-1", deadline.AddSeconds(-1)))
            .ThenRejected(RejectionCode.InvalidState, containing: "has not reached its deadline");
        VolumeSpec.Given(busy).When(StorageCmd.TimeOut(Store.VolumeId, "resize-1", deadline))
            .ThenEvents(new StorageOperationTimedOut(Store.VolumeId, Store.VolumeOperation("resize-1"), deadline));
    }

    [Fact]
    public void a_duplicate_success_report_changes_nothing()
    {
        VolumeSpec.Given(Volume.WithSnapshot("snap-1"))
            .When(StorageCmd.Complete(Store.VolumeId, "snapshot-volume-0"))
            .ThenNothingChanges(Store.VolumeOperation("snapshot-volume-0"));
    }
}
