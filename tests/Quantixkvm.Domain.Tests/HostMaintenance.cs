using Quantixkvm.Domain.Hosts;
using Quantixkvm.Domain.Tests.Support;

namespace Quantixkvm.Domain.Tests;

/// <summary>Maintenance: an online host is evacuated (no new VMs), is in maintenance once empty, and leaves it when told.</summary>
public class HostMaintenance
{
    private static EnterMaintenance Enter(bool allowColdMigration = false) => new(Fixed.Context("maintenance-1"), allowColdMigration);

    private static CompleteMaintenance Complete(int vmsRemaining) => new(Fixed.Context("evacuation-done-1"), vmsRemaining);

    private static ExitMaintenance Exit() => new(Fixed.Context("exit-maintenance-1"));

    private static readonly StuckVm[] Stuck =
    [
        new(Fixed.VmId, Fixed.VmName, "no host has 2048 MiB free"),
        new(Cluster.VmA, "db-1", "live migration failed: VIR_ERR_OPERATION_FAILED"),
    ];

    private static ReportEvacuationIncomplete Incomplete(params StuckVm[] stuck) => new(Fixed.Context("evacuation-pass-1"), stuck);

    [Fact]
    public void an_online_host_entering_maintenance_is_evacuated()
    {
        var state = HostSpec.Given(Host.Online())
            .When(Enter(allowColdMigration: true))
            .ThenEvents(new HostMaintenanceRequested(Fixed.HostId, AllowColdMigration: true, Fixed.Actor, Fixed.Now))
            .WithOperationId(null)
            .ThenState();

        state.Maintenance.ShouldBe(MaintenanceState.Entering);
        state.AllowColdMigration.ShouldBeTrue();
        state.Status.ShouldBe(HostStatus.Online);
        state.Describe().ShouldBe("ENTERING_MAINTENANCE");
    }

    [Theory]
    [InlineData("entering maintenance")]
    [InlineData("in maintenance")]
    public void asking_for_maintenance_again_changes_nothing(string history)
    {
        HostSpec.Given(Host.In(history)).When(Enter()).ThenNothingChanges(null);
    }

    [Fact]
    public void asking_again_with_cold_migration_allowed_does_not_change_the_evacuation_under_way()
    {
        var given = HostSpec.Given(Host.EnteringMaintenance(allowColdMigration: false));

        given.When(Enter(allowColdMigration: true)).ThenNothingChanges(null);
        given.State.AllowColdMigration.ShouldBeFalse();
    }

    [Theory]
    [InlineData("unreachable", "UNREACHABLE")]
    [InlineData("being fenced", "FENCING")]
    [InlineData("fenced", "FENCED")]
    public void a_host_that_is_not_online_cannot_enter_maintenance(string history, string described)
    {
        var rejection = HostSpec.Given(Host.In(history))
            .When(Enter())
            .ThenRejected(RejectionCode.InvalidState, containing: $"host 'kvm-01' is {described}: only an online host can be evacuated into maintenance");

        rejection.State.ShouldBe(described);
        rejection.Command.ShouldBe("enter-maintenance");
    }

    [Fact]
    public void an_evacuated_host_is_in_maintenance()
    {
        var state = HostSpec.Given(Host.EnteringMaintenance())
            .When(Complete(vmsRemaining: 0))
            .ThenEvents(new HostMaintenanceEntered(Fixed.HostId, Fixed.Now))
            .ThenState();

        state.Maintenance.ShouldBe(MaintenanceState.InMaintenance);
        state.Describe().ShouldBe("IN_MAINTENANCE");
    }

    [Fact]
    public void maintenance_is_not_complete_while_vms_remain()
    {
        var rejection = HostSpec.Given(Host.EnteringMaintenance())
            .When(Complete(vmsRemaining: 2))
            .ThenRejected(RejectionCode.InvalidState, containing: "host 'kvm-01' still holds 2 VMs");

        rejection.State.ShouldBe("ENTERING_MAINTENANCE");
    }

    [Theory]
    [InlineData("online")]
    [InlineData("in maintenance")]
    public void completing_maintenance_outside_an_evacuation_changes_nothing(string history)
    {
        HostSpec.Given(Host.In(history)).When(Complete(vmsRemaining: 0)).ThenNothingChanges(null);
    }

    [Fact]
    public void an_evacuation_that_left_vms_behind_records_them_and_why()
    {
        var state = HostSpec.Given(Host.EnteringMaintenance())
            .When(Incomplete(Stuck))
            .ThenEvents(new HostEvacuationIncomplete(Fixed.HostId, Stuck, Fixed.Now))
            .ThenState();

        state.Maintenance.ShouldBe(MaintenanceState.Entering);
    }

    [Fact]
    public void an_incomplete_evacuation_without_stuck_vms_changes_nothing()
    {
        HostSpec.Given(Host.EnteringMaintenance()).When(Incomplete()).ThenNothingChanges(null);
    }

    [Theory]
    [InlineData("online")]
    [InlineData("in maintenance")]
    public void an_incomplete_evacuation_reported_outside_one_changes_nothing(string history)
    {
        HostSpec.Given(Host.In(history)).When(Incomplete(Stuck)).ThenNothingChanges(null);
    }

    [Fact]
    public void a_host_leaves_maintenance_when_told()
    {
        var state = HostSpec.Given(Host.InMaintenance())
            .When(Exit())
            .ThenEvents(new HostMaintenanceExited(Fixed.HostId, Fixed.Actor, Fixed.Now))
            .ThenState();

        state.Maintenance.ShouldBe(MaintenanceState.None);
        state.Describe().ShouldBe("ONLINE");
    }

    [Fact]
    public void leaving_during_the_evacuation_stops_it_and_forgets_cold_migration()
    {
        var state = HostSpec.Given([.. Host.EnteringMaintenance(allowColdMigration: true), new HostEvacuationIncomplete(Fixed.HostId, Stuck, Fixed.Earlier)])
            .When(Exit())
            .ThenEvents(new HostMaintenanceExited(Fixed.HostId, Fixed.Actor, Fixed.Now))
            .ThenState();

        state.Maintenance.ShouldBe(MaintenanceState.None);
        state.AllowColdMigration.ShouldBeFalse();
    }

    [Fact]
    public void leaving_maintenance_when_not_in_it_changes_nothing()
    {
        HostSpec.Given(Host.Online()).When(Exit()).ThenNothingChanges(null);
    }

    [Fact]
    public void leaving_maintenance_twice_changes_nothing_the_second_time()
    {
        HostSpec.Given([.. Host.InMaintenance(), new HostMaintenanceExited(Fixed.HostId, Fixed.Actor, Fixed.Earlier)])
            .When(Exit())
            .ThenNothingChanges(null);
    }

    [Fact]
    public void a_host_that_left_maintenance_can_enter_it_again()
    {
        HostSpec.Given([.. Host.InMaintenance(), new HostMaintenanceExited(Fixed.HostId, Fixed.Actor, Fixed.Earlier)])
            .When(Enter())
            .ThenEvents(new HostMaintenanceRequested(Fixed.HostId, false, Fixed.Actor, Fixed.Now));
    }
}
