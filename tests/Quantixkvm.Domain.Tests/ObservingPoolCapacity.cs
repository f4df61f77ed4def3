using Quantixkvm.Domain.Storage;
using Quantixkvm.Domain.Tests.Support;

namespace Quantixkvm.Domain.Tests;

/// <summary>Host inventories read every pool's capacity: a change is recorded, a repeat is not.</summary>
public sealed class ObservingPoolCapacity
{
    private static ObservePoolCapacity Reading(long capacity, long allocation, long available) =>
        new(Fixed.Context("inventory-1"), Fixed.HostId, capacity, allocation, available);

    [Fact]
    public void a_new_reading_of_a_ready_pool_is_recorded_and_the_same_one_again_is_not()
    {
        var recorded = PoolSpec.Given(Pool.Ready())
            .When(Reading(100, 40, 60))
            .ThenEvents(new StoragePoolCapacityObserved(Store.PoolId, Fixed.HostId, 100, 40, 60, Fixed.Now));

        PoolSpec.Given([.. Pool.Ready(), .. recorded.ThenAccepted().Events])
            .When(Reading(100, 40, 60))
            .ThenAccepted().Events.ShouldBeEmpty();
        PoolSpec.Given([.. Pool.Ready(), .. recorded.ThenAccepted().Events])
            .When(Reading(100, 50, 50))
            .ThenAccepted().Events.ShouldHaveSingleItem().ShouldBeOfType<StoragePoolCapacityObserved>().AllocationBytes.ShouldBe(50);
    }

    [Fact]
    public void readings_of_a_pool_being_made_or_busy_are_left_to_the_operations_outcome()
    {
        PoolSpec.Given(Pool.BeingCreated()).When(Reading(100, 40, 60)).ThenAccepted().Events.ShouldBeEmpty();
        PoolSpec.Given(Pool.Busy(StorageOperationKind.RefreshPool, "refresh-1")).When(Reading(100, 40, 60)).ThenAccepted().Events.ShouldBeEmpty();
    }

    [Fact]
    public void a_reading_of_an_unknown_or_deleted_pool_is_refused()
    {
        PoolSpec.Given().When(Reading(100, 40, 60)).ThenRejected(RejectionCode.NotFound);
        PoolSpec.Given(Pool.Gone()).When(Reading(100, 40, 60)).ThenRejected(RejectionCode.NotFound);
    }
}
