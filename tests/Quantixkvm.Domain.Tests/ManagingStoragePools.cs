using Quantixkvm.Domain.Storage;
using Quantixkvm.Domain.Tests.Support;

namespace Quantixkvm.Domain.Tests;

/// <summary>Storage pools: defined, refreshed and deleted (only when empty), each as one tracked operation on a host.</summary>
public class ManagingStoragePools
{
    private static readonly Guid CreateOperation = Store.PoolOperation(Store.PoolCommandId);

    private static readonly PoolLocation RbdLocation = new(
        PoolKind.Rbd, HostId: null, Path: null, CephPool: "rbd-vms", CephMonitors: ["10.0.0.11:6789", "mon-2.ceph.lan:3300", "[2001:db8::3]:6789"],
        CephUser: "libvirt");

    private static StorageOperationRequested Requested(StorageOperationKind kind, string commandId) =>
        Store.Requested(Store.PoolId, kind, commandId, at: Fixed.Now);

    [Fact]
    public void creating_a_dir_pool_defines_it_and_asks_its_host_to_make_it()
    {
        PoolSpec.Given()
            .When(StorageCmd.CreatePool(Store.DirLocation))
            .ThenEvents(
                new StoragePoolDefined(Store.PoolId, Store.PoolName, Store.DirLocation, Fixed.Now),
                new StorageOperationRequested(
                    Store.PoolId, CreateOperation, Store.PoolCommandId, StorageOperationKind.CreatePool, Fixed.HostId, null, null, Fixed.Actor,
                    Fixed.Now, Fixed.Now + Store.Timeouts.Quick))
            .WithOperationId(CreateOperation)
            .ThenState().Describe().ShouldBe("CREATE-POOL");
    }

    [Fact]
    public void creating_an_rbd_pool_keeps_its_ceph_pool_monitors_and_user()
    {
        var state = PoolSpec.Given()
            .When(StorageCmd.CreatePool(RbdLocation))
            .ThenEvents(
                new StoragePoolDefined(Store.PoolId, Store.PoolName, RbdLocation, Fixed.Now),
                Requested(StorageOperationKind.CreatePool, Store.PoolCommandId))
            .ThenState();

        state.Status.ShouldBe(StorageStatus.Creating);
        state.Location.ShouldNotBeNull().CephMonitors.ShouldBe(["10.0.0.11:6789", "mon-2.ceph.lan:3300", "[2001:db8::3]:6789"]);
    }

    [Theory]
    [InlineData("relative")]
    [InlineData("relative/pools")]
    [InlineData("/")]
    [InlineData("/a/../b")]
    [InlineData("/a/..")]
    [InlineData("/a//b")]
    [InlineData("/a/./b")]
    [InlineData("/a/b\n")]
    [InlineData("")]
    public void a_dir_pool_with_a_folder_that_is_not_a_plain_absolute_path_is_refused(string folder)
    {
        var rejection = PoolSpec.Given()
            .When(StorageCmd.CreatePool(Store.DirLocation with { Path = folder }))
            .ThenRejected(RejectionCode.Validation, containing: "folder");

        rejection.Command.ShouldBe("create-pool");
    }

    [Fact]
    public void the_root_folder_written_with_extra_slashes_is_refused_too()
    {
        PoolSpec.Given()
            .When(StorageCmd.CreatePool(Store.DirLocation with { Path = "//" }))
            .ThenRejected(RejectionCode.Validation, containing: "folder");
    }

    [Theory]
    [InlineData("/srv/pools/fast-ssd")]
    [InlineData("/srv/pools/fast-ssd/")]
    [InlineData("/data")]
    public void a_dir_pool_with_a_plain_absolute_folder_is_accepted(string folder)
    {
        PoolSpec.Given().When(StorageCmd.CreatePool(Store.DirLocation with { Path = folder })).ThenAccepted().Events.Count.ShouldBe(2);
    }

    [Fact]
    public void a_dir_pool_without_its_host_is_refused()
    {
        PoolSpec.Given()
            .When(StorageCmd.CreatePool(Store.DirLocation with { HostId = null }))
            .ThenRejected(RejectionCode.Validation).Message.ShouldBe("a dir pool must name the host it lives on");
        PoolSpec.Given()
            .When(StorageCmd.CreatePool(Store.DirLocation with { HostId = Guid.Empty }))
            .ThenRejected(RejectionCode.Validation).Message.ShouldBe("a dir pool must name the host it lives on");
    }

    [Theory]
    [InlineData("10.0.0.11")]
    [InlineData("10.0.0.11:")]
    [InlineData(":6789")]
    [InlineData("10.0.0.11:0")]
    [InlineData("10.0.0.11:65536")]
    [InlineData("10.0.0.11:port")]
    [InlineData("mon 1:6789")]
    [InlineData("$(reboot):6789")]
    [InlineData("mon;rm:6789")]
    public void an_rbd_pool_with_a_monitor_that_is_not_host_colon_port_is_refused(string monitor)
    {
        PoolSpec.Given()
            .When(StorageCmd.CreatePool(RbdLocation with { CephMonitors = ["10.0.0.11:6789", monitor] }))
            .ThenRejected(RejectionCode.Validation)
            .Message.ShouldBe($"Ceph monitor '{monitor}' must be host:port");
    }

    [Fact]
    public void an_rbd_pool_without_monitors_is_refused()
    {
        PoolSpec.Given()
            .When(StorageCmd.CreatePool(RbdLocation with { CephMonitors = [] }))
            .ThenRejected(RejectionCode.Validation, containing: "at least one Ceph monitor");
        PoolSpec.Given()
            .When(StorageCmd.CreatePool(RbdLocation with { CephMonitors = null }))
            .ThenRejected(RejectionCode.Validation, containing: "at least one Ceph monitor");
    }

    [Fact]
    public void an_rbd_pool_with_an_unsafe_ceph_pool_or_user_is_refused()
    {
        PoolSpec.Given()
            .When(StorageCmd.CreatePool(RbdLocation with { CephPool = "../rbd" }))
            .ThenRejected(RejectionCode.Validation, containing: "Ceph pool name '../rbd'");
        PoolSpec.Given()
            .When(StorageCmd.CreatePool(RbdLocation with { CephUser = "-admin" }))
            .ThenRejected(RejectionCode.Validation, containing: "Ceph user name '-admin'");
        PoolSpec.Given()
            .When(StorageCmd.CreatePool(RbdLocation with { CephUser = null }))
            .ThenRejected(RejectionCode.Validation, containing: "Ceph user name must not be empty");
    }

    [Fact]
    public void a_pool_with_an_unsafe_name_is_refused()
    {
        PoolSpec.Given()
            .When(StorageCmd.CreatePool(name: "../etc"))
            .ThenRejected(RejectionCode.Validation, containing: "pool name '../etc'");
    }

    [Fact]
    public void a_completed_create_makes_the_pool_ready()
    {
        var outcome = PoolSpec.Given(Pool.BeingCreated()).When(StorageCmd.Complete(Store.PoolId, Store.PoolCommandId));

        outcome.ThenEvents(new StorageOperationSucceeded(Store.PoolId, CreateOperation, Fixed.Now)).WithOperationId(CreateOperation);
        var state = outcome.ThenState();
        state.Status.ShouldBe(StorageStatus.Ready);
        state.Describe().ShouldBe("READY");
        state.Operations.Current.ShouldBeNull();
    }

    [Fact]
    public void a_completed_create_with_a_capacity_reading_records_it()
    {
        PoolSpec.Given(Pool.BeingCreated())
            .When(StorageCmd.Complete(Store.PoolId, Store.PoolCommandId, new StorageObservation(500 * Store.GiB, 20 * Store.GiB, 480 * Store.GiB, null)))
            .ThenEvents(
                new StorageOperationSucceeded(Store.PoolId, CreateOperation, Fixed.Now),
                new StoragePoolCapacityObserved(Store.PoolId, Fixed.HostId, 500 * Store.GiB, 20 * Store.GiB, 480 * Store.GiB, Fixed.Now));
    }

    [Fact]
    public void a_failed_create_leaves_the_pool_failed()
    {
        var outcome = PoolSpec.Given(Pool.BeingCreated()).When(StorageCmd.Fail(Store.PoolId, Store.PoolCommandId, "cannot create directory"));

        outcome.ThenEvents(new StorageOperationFailed(Store.PoolId, CreateOperation, "VIR_ERR_OPERATION_FAILED", "cannot create directory", Fixed.Now));
        outcome.ThenState().Status.ShouldBe(StorageStatus.Failed);
    }

    [Fact]
    public void a_failed_pool_cannot_be_refreshed_but_can_be_deleted()
    {
        StorageEvent[] failed = [.. Pool.BeingCreated(), Store.Failed(Store.PoolId, Store.PoolCommandId)];

        PoolSpec.Given(failed)
            .When(StorageCmd.RefreshPool())
            .ThenRejected(RejectionCode.InvalidState, containing: "cannot refresh pool 'fast-ssd' while it is FAILED");
        PoolSpec.Given(failed)
            .When(StorageCmd.DeletePool())
            .ThenEvents(Requested(StorageOperationKind.DeletePool, "delete-pool-1"));
    }

    [Fact]
    public void refreshing_a_ready_pool_asks_its_host_and_records_the_capacity_it_reads()
    {
        PoolSpec.Given(Pool.Ready())
            .When(StorageCmd.RefreshPool("refresh-pool-1"))
            .ThenEvents(Requested(StorageOperationKind.RefreshPool, "refresh-pool-1"))
            .WithOperationId(Store.PoolOperation("refresh-pool-1"));

        PoolSpec.Given(Pool.Busy(StorageOperationKind.RefreshPool, "refresh-pool-1"))
            .When(StorageCmd.Complete(Store.PoolId, "refresh-pool-1", new StorageObservation(100 * Store.GiB, 60 * Store.GiB, 40 * Store.GiB, null)))
            .ThenEvents(
                new StorageOperationSucceeded(Store.PoolId, Store.PoolOperation("refresh-pool-1"), Fixed.Now),
                new StoragePoolCapacityObserved(Store.PoolId, Fixed.HostId, 100 * Store.GiB, 60 * Store.GiB, 40 * Store.GiB, Fixed.Now));
    }

    [Fact]
    public void deleting_a_pool_that_still_holds_volumes_is_refused_naming_how_many()
    {
        var rejection = PoolSpec.Given(Pool.Ready())
            .When(StorageCmd.DeletePool(volumeCount: 3))
            .ThenRejected(RejectionCode.InvalidState, containing: "pool 'fast-ssd' still holds 3 volume(s)");

        rejection.Command.ShouldBe("delete-pool");
        rejection.State.ShouldBe("READY");
    }

    [Fact]
    public void a_completed_delete_deletes_the_pool()
    {
        var outcome = PoolSpec.Given(Pool.Busy(StorageOperationKind.DeletePool, "delete-pool-1"))
            .When(StorageCmd.Complete(Store.PoolId, "delete-pool-1"));

        outcome.ThenEvents(
            new StorageOperationSucceeded(Store.PoolId, Store.PoolOperation("delete-pool-1"), Fixed.Now),
            new StoragePoolDeleted(Store.PoolId, Fixed.Now));
        outcome.ThenState().Status.ShouldBe(StorageStatus.Deleted);
    }

    [Fact]
    public void a_deleted_pool_is_not_found_but_a_repeat_of_its_delete_changes_nothing()
    {
        PoolSpec.Given(Pool.Gone())
            .When(StorageCmd.RefreshPool("refresh-pool-9"))
            .ThenRejected(RejectionCode.NotFound, containing: "pool 'fast-ssd' was deleted")
            .State.ShouldBe("DELETED");
        PoolSpec.Given(Pool.Gone()).When(StorageCmd.DeletePool("delete-pool-1")).ThenNothingChanges(Store.PoolOperation("delete-pool-1"));
    }

    [Fact]
    public void commands_on_a_pool_that_does_not_exist_are_not_found()
    {
        PoolSpec.Given().When(StorageCmd.RefreshPool()).ThenRejected(RejectionCode.NotFound, containing: "the pool does not exist");
        PoolSpec.Given().When(StorageCmd.DeletePool()).ThenRejected(RejectionCode.NotFound, containing: "the pool does not exist");
        PoolSpec.Given().When(StorageCmd.Complete(Store.PoolId, Store.PoolCommandId))
            .ThenRejected(RejectionCode.NotFound, containing: "the pool does not exist");
    }

    [Fact]
    public void a_busy_pool_refuses_a_second_operation_naming_the_first()
    {
        var refresh = Store.PoolOperation("refresh-pool-1");

        var rejection = PoolSpec.Given(Pool.Busy(StorageOperationKind.RefreshPool, "refresh-pool-1"))
            .When(StorageCmd.DeletePool("delete-pool-1"))
            .ThenRejected(RejectionCode.InvalidState, containing: $"its refresh-pool operation {refresh} is still under way");

        rejection.State.ShouldBe("REFRESH-POOL");
        rejection.Command.ShouldBe("delete-pool");
    }

    [Fact]
    public void a_pool_being_created_refuses_a_refresh()
    {
        PoolSpec.Given(Pool.BeingCreated())
            .When(StorageCmd.RefreshPool())
            .ThenRejected(RejectionCode.InvalidState, containing: "its create-pool operation");
    }

    [Fact]
    public void repeating_a_command_id_changes_nothing()
    {
        PoolSpec.Given(Pool.Busy(StorageOperationKind.RefreshPool, "refresh-pool-1"))
            .When(StorageCmd.RefreshPool("refresh-pool-1"))
            .ThenNothingChanges(Store.PoolOperation("refresh-pool-1"));
        PoolSpec.Given(Pool.Ready()).When(StorageCmd.CreatePool()).ThenNothingChanges(CreateOperation);
    }

    [Fact]
    public void a_command_id_reused_for_another_kind_of_operation_is_refused()
    {
        PoolSpec.Given([.. Pool.Busy(StorageOperationKind.RefreshPool, "op-1"), Store.Succeeded(Store.PoolId, "op-1")])
            .When(StorageCmd.DeletePool("op-1"))
            .ThenRejected(RejectionCode.Validation, containing: "command id 'op-1' was already used for a refresh-pool operation on this pool");
    }

    [Fact]
    public void creating_a_pool_that_exists_under_another_name_is_a_conflict()
    {
        PoolSpec.Given(Pool.Ready())
            .When(StorageCmd.CreatePool(name: "other"))
            .ThenRejected(RejectionCode.Conflict, containing: $"pool {Store.PoolId} already exists");
    }

    [Fact]
    public void a_duplicate_outcome_report_changes_nothing()
    {
        StorageEvent[] done = [.. Pool.Busy(StorageOperationKind.RefreshPool, "refresh-pool-1"), Store.Succeeded(Store.PoolId, "refresh-pool-1")];
        var refresh = Store.PoolOperation("refresh-pool-1");

        PoolSpec.Given(done).When(StorageCmd.Complete(Store.PoolId, "refresh-pool-1")).ThenNothingChanges(refresh);
        PoolSpec.Given(done).When(StorageCmd.Fail(Store.PoolId, "refresh-pool-1")).ThenNothingChanges(refresh);
        PoolSpec.Given([.. done, new StorageOperationStarted(Store.PoolId, refresh, Fixed.Earlier)])
            .When(StorageCmd.MarkStarted(Store.PoolId, "refresh-pool-1")).ThenNothingChanges(refresh);
    }

    [Fact]
    public void a_started_report_arriving_after_the_outcome_is_recorded_and_leaves_the_operation_ended()
    {
        StorageEvent[] done = [.. Pool.Busy(StorageOperationKind.RefreshPool, "refresh-pool-1"), Store.Succeeded(Store.PoolId, "refresh-pool-1")];
        var refresh = Store.PoolOperation("refresh-pool-1");

        var state = PoolSpec.Given(done)
            .When(StorageCmd.MarkStarted(Store.PoolId, "refresh-pool-1"))
            .ThenEvents(new StorageOperationStarted(Store.PoolId, refresh, Fixed.Now))
            .ThenState();
        state.Operations.All[refresh].Status.ShouldBe(Vms.OperationStatus.Succeeded);
        state.Operations.Current.ShouldBeNull();
    }

    [Fact]
    public void a_late_success_after_a_timeout_changes_nothing()
    {
        PoolSpec.Given([.. Pool.Busy(StorageOperationKind.RefreshPool, "refresh-pool-1"), Store.TimedOut(Store.PoolId, "refresh-pool-1")])
            .When(StorageCmd.Complete(Store.PoolId, "refresh-pool-1", new StorageObservation(1, 1, 1, null)))
            .ThenNothingChanges(Store.PoolOperation("refresh-pool-1"));
    }

    [Fact]
    public void an_outcome_for_an_unknown_operation_is_not_found()
    {
        PoolSpec.Given(Pool.Ready())
            .When(StorageCmd.Complete(Store.PoolId, "never-issued"))
            .ThenRejected(RejectionCode.NotFound, containing: $"operation {Store.PoolOperation("never-issued")} is not known");
    }

    [Fact]
    public void the_agent_starting_an_operation_is_recorded_once()
    {
        var refresh = Store.PoolOperation("refresh-pool-1");
        StorageEvent[] busy = Pool.Busy(StorageOperationKind.RefreshPool, "refresh-pool-1");

        PoolSpec.Given(busy).When(StorageCmd.MarkStarted(Store.PoolId, "refresh-pool-1"))
            .ThenEvents(new StorageOperationStarted(Store.PoolId, refresh, Fixed.Now));
        PoolSpec.Given([.. busy, new StorageOperationStarted(Store.PoolId, refresh, Fixed.Earlier)])
            .When(StorageCmd.MarkStarted(Store.PoolId, "refresh-pool-1"))
            .ThenNothingChanges(refresh);
    }

    [Fact]
    public void an_operation_cannot_time_out_before_its_deadline_but_does_at_it()
    {
        var deadline = Fixed.Earlier + Store.Timeouts.Quick;
        StorageEvent[] busy = Pool.Busy(StorageOperationKind.RefreshPool, "refresh-pool-1");

        var rejection = PoolSpec.Given(busy)
            .When(StorageCmd.TimeOut(Store.PoolId, "refresh-pool-1", deadline.AddTicks(-1)))
            .ThenRejected(RejectionCode.InvalidState, containing: $"has not reached its deadline {deadline:O}");
        rejection.Command.ShouldBe("time-out");

        var outcome = PoolSpec.Given(busy).When(StorageCmd.TimeOut(Store.PoolId, "refresh-pool-1", deadline));
        outcome.ThenEvents(new StorageOperationTimedOut(Store.PoolId, Store.PoolOperation("refresh-pool-1"), deadline));
        outcome.ThenState().Operations.Current.ShouldBeNull();
        outcome.ThenState().Status.ShouldBe(StorageStatus.Ready);
    }

    [Fact]
    public void a_pool_whose_create_timed_out_can_still_be_deleted()
    {
        PoolSpec.Given([.. Pool.BeingCreated(), Store.TimedOut(Store.PoolId, Store.PoolCommandId)])
            .When(StorageCmd.DeletePool())
            .ThenEvents(Requested(StorageOperationKind.DeletePool, "delete-pool-1"));
    }
}
