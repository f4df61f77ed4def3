using Quantixkvm.Domain.Vms;
using Quantixkvm.Domain.Tests.Support;

namespace Quantixkvm.Domain.Tests;

/// <summary>A host's inventory lists the disks each domain holds: a difference from the VM's disk list is drift, recorded when it changes.</summary>
public sealed class ObservingDisks
{
    private static ObserveDisks Observe(IReadOnlyList<Guid> present, IReadOnlyList<string>? unknown = null, DateTimeOffset? reportedAt = null) =>
        new(Fixed.Context("inventory-1"), present, unknown ?? [], reportedAt);

    private static VmEvent[] WithTwoDisks() =>
        [.. Vm.IdleIn(PowerState.Running), Vm.DiskAttached(Fixed.BootVolume, "vda"), Vm.DiskAttached(Fixed.DataVolume, "vdb")];

    [Fact]
    public void a_domain_holding_exactly_the_vms_disks_records_nothing()
    {
        VmSpec.Given(WithTwoDisks())
            .When(Observe([Fixed.DataVolume, Fixed.BootVolume]))
            .ThenAccepted().Events.ShouldBeEmpty();
    }

    [Fact]
    public void a_volume_missing_from_the_domain_and_a_disk_nobody_attached_are_drift()
    {
        var state = VmSpec.Given(WithTwoDisks())
            .When(Observe([Fixed.BootVolume], ["0123456789abcdef0123"], reportedAt: Fixed.Now))
            .ThenEvents(new VmDiskDriftObserved(Fixed.VmId, [Fixed.DataVolume], ["0123456789abcdef0123"], Fixed.Now, Fixed.Now))
            .ThenState();

        state.DiskDrift.ShouldNotBeNull().Missing.ShouldBe([Fixed.DataVolume]);
        state.Disks.Count.ShouldBe(2, "drift is recorded beside the disk list, never rewriting it");
    }

    [Fact]
    public void the_same_drift_seen_again_records_nothing_and_its_end_is_recorded_once()
    {
        VmEvent[] drifted =
        [
            .. WithTwoDisks(),
            new VmDiskDriftObserved(Fixed.VmId, [Fixed.DataVolume], [], Fixed.Earlier),
        ];

        VmSpec.Given(drifted).When(Observe([Fixed.BootVolume])).ThenAccepted().Events.ShouldBeEmpty();
        var cleared = VmSpec.Given(drifted).When(Observe([Fixed.BootVolume, Fixed.DataVolume]));
        cleared.ThenEvents(new VmDiskDriftObserved(Fixed.VmId, [], [], Fixed.Now));
        cleared.ThenState().DiskDrift.ShouldBeNull();
    }

    [Fact]
    public void disks_read_while_an_operation_is_under_way_or_before_the_last_report_say_nothing()
    {
        VmSpec.Given([.. WithTwoDisks(), Vm.Requested(OperationKind.DetachDisk, "detach-1")])
            .When(Observe([Fixed.BootVolume]))
            .ThenAccepted().Events.ShouldBeEmpty();
        VmSpec.Given([.. WithTwoDisks(), Vm.Observed(PowerState.Running, at: Fixed.Now) with { HostReportedAt = Fixed.Now }])
            .When(Observe([Fixed.BootVolume], reportedAt: Fixed.Earlier))
            .ThenAccepted().Events.ShouldBeEmpty();
    }
}
