using Quantixkvm.Domain.Tests.Support;
using Quantixkvm.Domain.Vms;

namespace Quantixkvm.Domain.Tests;

/// <summary>
/// Host reports travel on different queues (outcomes, inventories), so they can arrive out of order;
/// the host's own timestamps decide which reading is newer, and an older one changes nothing.
/// </summary>
public class ReportOrdering
{
    private static readonly DateTimeOffset HostT1 = Fixed.Now.AddSeconds(-30);
    private static readonly DateTimeOffset HostT2 = Fixed.Now.AddSeconds(-10);

    [Fact]
    public void an_inventory_taken_before_the_last_outcome_is_stale_and_records_no_drift()
    {
        VmEvent[] history =
        [
            .. Vm.BeingCreated(),
            new VmOperationSucceeded(Fixed.VmId, Fixed.OperationId(Fixed.CreateCommandId), PowerState.Running, Fixed.Earlier, HostT2),
        ];

        VmSpec.Given(history)
            .When(new ObservePowerState(Fixed.Context("inventory-1"), PowerState.Stopped, "inventory", HostT1))
            .ThenNothingChanges(null);
    }

    [Fact]
    public void an_inventory_taken_after_the_last_outcome_is_drift()
    {
        VmEvent[] history =
        [
            .. Vm.BeingCreated(),
            new VmOperationSucceeded(Fixed.VmId, Fixed.OperationId(Fixed.CreateCommandId), PowerState.Running, Fixed.Earlier, HostT1),
        ];

        VmSpec.Given(history)
            .When(new ObservePowerState(Fixed.Context("inventory-1"), PowerState.Stopped, "inventory", HostT2))
            .ThenEvents(new VmPowerStateObserved(Fixed.VmId, PowerState.Stopped, "inventory", Fixed.Now, HostT2));
    }

    [Fact]
    public void the_newest_host_reading_is_remembered_whichever_event_brought_it()
    {
        var state = VmDecider.Fold(
        [
            .. Vm.BeingCreated(),
            new VmOperationSucceeded(Fixed.VmId, Fixed.OperationId(Fixed.CreateCommandId), PowerState.Running, Fixed.Earlier, HostT2),
            new VmPowerStateObserved(Fixed.VmId, PowerState.Running, "inventory", Fixed.Earlier, HostT1),
        ]);

        state.LastHostReportAt.ShouldBe(HostT2);
        state.IsStale(HostT1).ShouldBeTrue();
        state.IsStale(HostT2.AddTicks(1)).ShouldBeFalse();
        state.IsStale(null).ShouldBeFalse("a reading without a time cannot be judged stale");
    }

    [Fact]
    public void a_late_report_older_than_a_newer_reading_changes_nothing()
    {
        VmEvent[] history =
        [
            .. Vm.IdleIn(PowerState.Stopped),
            Vm.Requested(OperationKind.Start, "start-1"),
            Vm.TimedOut("start-1"),
            new VmPowerStateObserved(Fixed.VmId, PowerState.Paused, "inventory", Fixed.Earlier, HostT2),
        ];

        VmSpec.Given(history)
            .When(new CompleteOperation(Fixed.Context("report-1"), Fixed.OperationId("start-1"), PowerState.Running, HostT1))
            .ThenNothingChanges(Fixed.OperationId("start-1"));
    }
}

/// <summary>A command id is a promise that the repeat is the same command; a different one under it is refused.</summary>
public class ReusedCommandIds
{
    [Fact]
    public void a_create_repeated_with_another_spec_under_the_same_command_id_is_refused()
    {
        VmSpec.Given(Vm.BeingCreated())
            .When(Cmd.Create() with { Vcpus = Cmd.Create().Vcpus + 2 })
            .ThenRejected(RejectionCode.Validation, containing: "a different spec needs a new command id");
    }

    [Fact]
    public void a_create_repeated_with_the_same_spec_is_the_same_operation()
    {
        VmSpec.Given(Vm.BeingCreated())
            .When(Cmd.Create())
            .ThenNothingChanges(Fixed.OperationId(Fixed.CreateCommandId));
    }

    [Fact]
    public void a_graceful_stop_and_a_forced_stop_under_one_command_id_are_not_the_same_command()
    {
        VmSpec.Given([.. Vm.IdleIn(PowerState.Running), Vm.Requested(OperationKind.Stop, "stop-1")])
            .When(new StopVm(Fixed.Context("stop-1"), Fixed.Timeouts, Force: true))
            .ThenRejected(RejectionCode.Validation, containing: "already used for a stop operation");
    }
}

/// <summary>An inventory against the records: only differences, and a VM the host does not list is UNKNOWN there.</summary>
public class ComparingAnInventory
{
    private static readonly Guid Same = Guid.NewGuid();
    private static readonly Guid Changed = Guid.NewGuid();
    private static readonly Guid Missing = Guid.NewGuid();
    private static readonly Guid AlreadyUnknown = Guid.NewGuid();

    [Fact]
    public void only_the_vms_the_host_sees_otherwise_are_drift()
    {
        var drift = InventoryDrift.Find(
            [(Same, PowerState.Running), (Changed, PowerState.Running), (Missing, PowerState.Stopped), (AlreadyUnknown, PowerState.Unknown)],
            new Dictionary<Guid, PowerState> { [Same] = PowerState.Running, [Changed] = PowerState.Paused, [Guid.NewGuid()] = PowerState.Running });

        drift.ShouldBe(
        [
            (Changed, PowerState.Paused, InventoryDrift.Source),
            (Missing, PowerState.Unknown, InventoryDrift.MissingSource),
        ]);
    }
}
