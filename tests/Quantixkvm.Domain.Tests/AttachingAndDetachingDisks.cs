using Quantixkvm.Domain.Tests.Support;
using Quantixkvm.Domain.Vms;

namespace Quantixkvm.Domain.Tests;

/// <summary>A VM's disks: given at create or attached and detached as operations; the platform names their devices.</summary>
public class AttachingAndDetachingDisks
{
    private static readonly Guid CreateOperation = Fixed.OperationId(Fixed.CreateCommandId);
    private static readonly Guid AttachOperation = Fixed.OperationId("attach-1");
    private static readonly Guid DetachOperation = Fixed.OperationId("detach-1");

    private static VmDisk Disk(Guid volumeId, string dev, DiskBus bus = DiskBus.Virtio, int? bootOrder = null) =>
        new(volumeId, dev, bus, bootOrder, ReadOnly: false);

    /// <summary>A VM that was started and runs: desired and observed RUNNING, with its data volume as vda.</summary>
    private static VmEvent[] RunningWithDataDisk() =>
    [
        .. Vm.IdleIn(PowerState.Stopped),
        Vm.DiskAttached(Fixed.DataVolume, "vda"),
        Vm.Requested(OperationKind.Start, "start-0"),
        Vm.Succeeded("start-0", PowerState.Running),
    ];

    private static VmEvent[] StoppedWithDataDisk() => [.. Vm.IdleIn(PowerState.Stopped), Vm.DiskAttached(Fixed.DataVolume, "vda")];

    /// <summary>The running VM with an attach of the spare volume (as vdb) asked for by "attach-1".</summary>
    private static VmEvent[] AttachUnderWay() =>
    [
        .. RunningWithDataDisk(),
        Vm.Requested(OperationKind.AttachDisk, "attach-1", desired: PowerState.Running),
        new VmDiskAttachRequested(Fixed.VmId, AttachOperation, Disk(Fixed.SpareVolume, "vdb")),
    ];

    private static VmEvent[] DetachUnderWay() =>
    [
        .. StoppedWithDataDisk(),
        Vm.Requested(OperationKind.DetachDisk, "detach-1"),
        new VmDiskDetachRequested(Fixed.VmId, DetachOperation, Fixed.DataVolume),
    ];

    private static VmOperationRequested Requested(OperationKind kind, string commandId, PowerState desired, long sequence) =>
        new(Fixed.VmId, Fixed.OperationId(commandId), commandId, kind, Force: false, desired, Fixed.HostId, Fixed.Actor, Fixed.Now,
            Fixed.Now + Fixed.Timeouts.Disk, sequence);

    [Fact]
    public void creating_a_vm_with_disks_names_them_vda_vdb_for_virtio_and_sda_for_sata()
    {
        var volumes = Enumerable.Range(1, 3).Select(i => new Guid($"0b0070a1-0000-4000-8000-10000000000{i}")).ToArray();

        VmSpec.Given()
            .When(Cmd.Create(disks:
            [
                new DiskRequest(volumes[0], DiskBus.Virtio, BootOrder: 1),
                new DiskRequest(volumes[1], DiskBus.Sata, ReadOnly: true),
                new DiskRequest(volumes[2]),
            ]))
            .ThenEvents(
                new VmCreated(Fixed.VmId, Fixed.VmName, Fixed.Vcpus, Fixed.MemoryMiB, Fixed.HostId, Fixed.Now),
                new VmDiskAttached(Fixed.VmId, CreateOperation, new VmDisk(volumes[0], "vda", DiskBus.Virtio, 1, false), Fixed.Now),
                new VmDiskAttached(Fixed.VmId, CreateOperation, new VmDisk(volumes[1], "sda", DiskBus.Sata, null, true), Fixed.Now),
                new VmDiskAttached(Fixed.VmId, CreateOperation, new VmDisk(volumes[2], "vdb", DiskBus.Virtio, null, false), Fixed.Now),
                new VmOperationRequested(
                    Fixed.VmId, CreateOperation, Fixed.CreateCommandId, OperationKind.Create, Force: false, PowerState.Stopped,
                    Fixed.HostId, Fixed.Actor, Fixed.Now, Fixed.Now + Fixed.Timeouts.Create, Sequence: 1))
            .WithOperationId(CreateOperation);
    }

    [Fact]
    public void sata_and_scsi_disks_share_the_sd_names()
    {
        var state = VmSpec.Given()
            .When(Cmd.Create(disks: [new DiskRequest(Fixed.BootVolume, DiskBus.Scsi), new DiskRequest(Fixed.DataVolume, DiskBus.Sata)]))
            .ThenState();

        state.Disks.Select(d => d.TargetDev).ShouldBe(["sda", "sdb"]);
    }

    [Fact]
    public void a_vm_created_with_disks_holds_them_in_order()
    {
        var state = VmSpec.Given()
            .When(Cmd.Create(disks: [new DiskRequest(Fixed.BootVolume, BootOrder: 1), new DiskRequest(Fixed.DataVolume)]))
            .ThenState();

        state.Disks.ShouldBe([Disk(Fixed.BootVolume, "vda", bootOrder: 1), Disk(Fixed.DataVolume, "vdb")]);
        state.PendingDisks.ShouldBeEmpty();
        state.Holds(Fixed.BootVolume).ShouldBeTrue();
        state.Holds(Fixed.SpareVolume).ShouldBeFalse();
    }

    public static TheoryData<string, DiskRequest[], string> InvalidDiskLists => new()
    {
        { "same volume twice", [new(Fixed.DataVolume), new(Fixed.DataVolume, DiskBus.Sata)], $"volume {Fixed.DataVolume} is given more than once" },
        { "no volume", [new(Guid.Empty)], "a disk must name its volume" },
        { "boot order 0", [new(Fixed.BootVolume, BootOrder: 0)], "boot order must be 1 or more (got 0)" },
        { "negative boot order", [new(Fixed.BootVolume, BootOrder: -1)], "boot order must be 1 or more (got -1)" },
        { "boot order taken", [new(Fixed.BootVolume, BootOrder: 1), new(Fixed.DataVolume, BootOrder: 1)], "boot order 1 is already taken by another disk" },
    };

    [Theory]
    [MemberData(nameof(InvalidDiskLists))]
    public void an_invalid_list_of_disks_is_refused_at_create(string why, DiskRequest[] disks, string problem)
    {
        var rejection = VmSpec.Given()
            .When(Cmd.Create(disks: disks))
            .ThenRejected(RejectionCode.Validation, containing: problem);

        rejection.Message.ShouldBe(problem, why);
        rejection.Command.ShouldBe("create");
    }

    [Fact]
    public void sixteen_disks_are_accepted_and_a_seventeenth_is_refused()
    {
        var disks = Enumerable.Range(0, 17).Select(i => new DiskRequest(new Guid(i + 1, 0, 0, new byte[8]))).ToArray();

        VmSpec.Given().When(Cmd.Create(disks: disks[..16])).ThenState()
            .Disks.Select(d => d.TargetDev).ShouldBe(Enumerable.Range(0, 16).Select(i => $"vd{(char)('a' + i)}"));
        VmSpec.Given().When(Cmd.Create(disks: disks))
            .ThenRejected(RejectionCode.Validation).Message.ShouldBe("a VM can have at most 16 disks");
    }

    [Fact]
    public void attaching_a_disk_to_a_running_vm_asks_for_it_with_the_first_free_device()
    {
        VmSpec.Given(RunningWithDataDisk())
            .When(Cmd.Attach("attach-1", Fixed.SpareVolume))
            .ThenEvents(
                Requested(OperationKind.AttachDisk, "attach-1", desired: PowerState.Running, sequence: 3),
                new VmDiskAttachRequested(Fixed.VmId, AttachOperation, Disk(Fixed.SpareVolume, "vdb")))
            .WithOperationId(AttachOperation);
    }

    [Fact]
    public void attaching_a_sata_disk_to_a_stopped_vm_gets_the_first_sd_name()
    {
        VmSpec.Given(StoppedWithDataDisk())
            .When(Cmd.Attach("attach-1", Fixed.SpareVolume, DiskBus.Sata, bootOrder: 2))
            .ThenEvents(
                Requested(OperationKind.AttachDisk, "attach-1", desired: PowerState.Stopped, sequence: 2),
                new VmDiskAttachRequested(Fixed.VmId, AttachOperation, Disk(Fixed.SpareVolume, "sda", DiskBus.Sata, bootOrder: 2)));
    }

    [Fact]
    public void an_attach_under_way_reserves_the_volume_and_shows_the_vm_attaching()
    {
        var state = VmSpec.Given(AttachUnderWay()).State;

        state.Describe().ShouldBe("ATTACHING_DISK");
        state.Holds(Fixed.SpareVolume).ShouldBeTrue();
        state.Disks.ShouldBe([Disk(Fixed.DataVolume, "vda")]);
    }

    [Fact]
    public void attaching_a_volume_the_vm_already_holds_is_a_conflict()
    {
        var rejection = VmSpec.Given(RunningWithDataDisk())
            .When(Cmd.Attach("attach-1", Fixed.DataVolume))
            .ThenRejected(RejectionCode.Conflict, containing: $"volume {Fixed.DataVolume} is already attached to VM 'web-1'");

        rejection.Command.ShouldBe("attach-disk");
        rejection.State.ShouldBe("RUNNING");
    }

    [Fact]
    public void attaching_with_a_boot_order_another_disk_has_is_refused()
    {
        VmSpec.Given([.. Vm.IdleIn(PowerState.Stopped), Vm.DiskAttached(Fixed.BootVolume, "vda", bootOrder: 1)])
            .When(Cmd.Attach("attach-1", Fixed.SpareVolume, bootOrder: 1))
            .ThenRejected(RejectionCode.Validation, containing: "boot order 1 is already taken")
            .Command.ShouldBe("attach-disk");
    }

    [Fact]
    public void attaching_a_seventeenth_disk_is_refused()
    {
        VmEvent[] sixteen =
        [
            .. Vm.IdleIn(PowerState.Stopped),
            .. Enumerable.Range(0, 16).Select(i => Vm.DiskAttached(new Guid(i + 1, 0, 0, new byte[8]), $"vd{(char)('a' + i)}")),
        ];

        VmSpec.Given(sixteen)
            .When(Cmd.Attach("attach-1", Fixed.SpareVolume))
            .ThenRejected(RejectionCode.Validation, containing: "at most 16 disks");
    }

    [Fact]
    public void attaching_a_disk_while_another_operation_is_under_way_is_refused()
    {
        VmSpec.Given([.. StoppedWithDataDisk(), Vm.Requested(OperationKind.Start, "start-1")])
            .When(Cmd.Attach("attach-1", Fixed.SpareVolume))
            .ThenRejected(RejectionCode.InvalidState, containing: $"its start operation {Fixed.OperationId("start-1")} is still under way")
            .State.ShouldBe("STARTING");
    }

    [Fact]
    public void attaching_a_disk_to_a_paused_vm_is_refused()
    {
        VmSpec.Given(Vm.IdleIn(PowerState.Paused))
            .When(Cmd.Attach("attach-1"))
            .ThenRejected(RejectionCode.InvalidState, containing: "allowed only when STOPPED or RUNNING");
    }

    [Fact]
    public void a_completed_attach_adds_the_disk_to_the_vm()
    {
        VmSpec.Given(AttachUnderWay())
            .When(Cmd.Complete("attach-1", PowerState.Running))
            .ThenEvents(
                new VmOperationSucceeded(Fixed.VmId, AttachOperation, PowerState.Running, Fixed.Now),
                new VmDiskAttached(Fixed.VmId, AttachOperation, Disk(Fixed.SpareVolume, "vdb"), Fixed.Now))
            .WithOperationId(AttachOperation);
    }

    [Fact]
    public void after_a_completed_attach_the_vm_has_the_disk_and_nothing_pending()
    {
        var state = VmSpec.Given(AttachUnderWay()).When(Cmd.Complete("attach-1", PowerState.Running)).ThenState();

        state.Disks.ShouldBe([Disk(Fixed.DataVolume, "vda"), Disk(Fixed.SpareVolume, "vdb")]);
        state.PendingDisks.ShouldBeEmpty();
        state.CurrentOperation.ShouldBeNull();
    }

    [Fact]
    public void a_failed_attach_releases_the_volume_with_the_error_in_the_reason()
    {
        VmSpec.Given(AttachUnderWay())
            .When(Cmd.Fail("attach-1", "VIR_ERR_OPERATION_FAILED", "unable to open /dev/rbd0: No such device", PowerState.Running))
            .ThenEvents(
                new VmOperationFailed(
                    Fixed.VmId, AttachOperation, "VIR_ERR_OPERATION_FAILED", "unable to open /dev/rbd0: No such device", PowerState.Running, Fixed.Now),
                new VmDiskDetached(Fixed.VmId, AttachOperation, Fixed.SpareVolume, "attach failed: unable to open /dev/rbd0: No such device", Fixed.Now));
    }

    [Fact]
    public void after_a_failed_attach_the_vm_no_longer_holds_the_volume_and_it_can_be_attached_again()
    {
        VmEvent[] failed =
        [
            .. AttachUnderWay(),
            .. VmSpec.Given(AttachUnderWay())
                .When(Cmd.Fail("attach-1", "VIR_ERR_OPERATION_FAILED", "no space", PowerState.Running)).ThenAccepted().Events,
        ];
        var state = VmSpec.Given(failed).State;
        state.Holds(Fixed.SpareVolume).ShouldBeFalse();
        state.Disks.ShouldBe([Disk(Fixed.DataVolume, "vda")]);

        VmSpec.Given(failed)
            .When(Cmd.Attach("attach-2", Fixed.SpareVolume))
            .ThenAccepted().Events.OfType<VmDiskAttachRequested>().Single().Disk.ShouldBe(Disk(Fixed.SpareVolume, "vdb"));
    }

    [Fact]
    public void a_timed_out_attach_releases_the_volume()
    {
        var deadline = Fixed.Earlier + Fixed.Timeouts.Disk;

        var outcome = VmSpec.Given(AttachUnderWay()).When(Cmd.TimeOut("attach-1", deadline));

        var events = outcome.ThenAccepted().Events;
        events.Count.ShouldBe(2);
        events[0].ShouldBe(new VmOperationTimedOut(Fixed.VmId, AttachOperation, deadline));
        var released = events[1].ShouldBeOfType<VmDiskDetached>();
        (released.VolumeId, released.OperationId, released.DetachedAt).ShouldBe((Fixed.SpareVolume, AttachOperation, deadline));
        released.Reason.ShouldContain("attach timed out");
        outcome.ThenState().Holds(Fixed.SpareVolume).ShouldBeFalse();
    }

    [Fact]
    public void an_attach_cannot_time_out_before_its_disk_deadline()
    {
        VmSpec.Given(AttachUnderWay())
            .When(Cmd.TimeOut("attach-1", Fixed.Earlier + Fixed.Timeouts.Disk - TimeSpan.FromSeconds(1)))
            .ThenRejected(RejectionCode.InvalidState, containing: "has not reached its deadline");
    }

    [Fact]
    public void a_late_success_after_an_attach_timed_out_does_not_attach_the_disk()
    {
        VmEvent[] timedOut =
        [
            .. AttachUnderWay(),
            Vm.TimedOut("attach-1"),
            new VmDiskDetached(Fixed.VmId, AttachOperation, Fixed.SpareVolume, "attach timed out", Fixed.Earlier),
        ];

        VmSpec.Given(timedOut)
            .When(Cmd.Complete("attach-1", PowerState.Running))
            .ThenNothingChanges(AttachOperation);
    }

    [Fact]
    public void repeating_an_attach_command_id_appends_nothing()
    {
        VmSpec.Given(AttachUnderWay()).When(Cmd.Attach("attach-1", Fixed.SpareVolume)).ThenNothingChanges(AttachOperation);
    }

    [Fact]
    public void repeating_an_attach_command_id_after_it_completed_appends_nothing()
    {
        VmSpec.Given(
            [
                .. AttachUnderWay(),
                Vm.Succeeded("attach-1", PowerState.Running),
                new VmDiskAttached(Fixed.VmId, AttachOperation, Disk(Fixed.SpareVolume, "vdb"), Fixed.Earlier),
            ])
            .When(Cmd.Attach("attach-1", Fixed.SpareVolume))
            .ThenNothingChanges(AttachOperation);
    }

    [Fact]
    public void reusing_an_attach_command_id_for_a_detach_is_refused()
    {
        VmSpec.Given(AttachUnderWay())
            .When(Cmd.Detach("attach-1", Fixed.DataVolume))
            .ThenRejected(RejectionCode.Validation, containing: "was already used for a attach-disk operation");
    }

    [Fact]
    public void detaching_a_disk_asks_for_it_within_the_disk_deadline()
    {
        VmSpec.Given(StoppedWithDataDisk())
            .When(Cmd.Detach("detach-1", Fixed.DataVolume))
            .ThenEvents(
                Requested(OperationKind.DetachDisk, "detach-1", desired: PowerState.Stopped, sequence: 2),
                new VmDiskDetachRequested(Fixed.VmId, DetachOperation, Fixed.DataVolume))
            .ThenState().Describe().ShouldBe("DETACHING_DISK");
    }

    [Fact]
    public void detaching_a_volume_the_vm_does_not_hold_is_not_found()
    {
        var rejection = VmSpec.Given(RunningWithDataDisk())
            .When(Cmd.Detach("detach-1", Fixed.SpareVolume))
            .ThenRejected(RejectionCode.NotFound, containing: $"volume {Fixed.SpareVolume} is not attached to VM 'web-1'");

        rejection.Command.ShouldBe("detach-disk");
    }

    [Fact]
    public void a_completed_detach_removes_the_disk()
    {
        var outcome = VmSpec.Given(DetachUnderWay()).When(Cmd.Complete("detach-1", PowerState.Stopped));

        outcome.ThenEvents(
            new VmOperationSucceeded(Fixed.VmId, DetachOperation, PowerState.Stopped, Fixed.Now),
            new VmDiskDetached(Fixed.VmId, DetachOperation, Fixed.DataVolume, "detached", Fixed.Now));
        var state = outcome.ThenState();
        state.Disks.ShouldBeEmpty();
        state.Holds(Fixed.DataVolume).ShouldBeFalse();
    }

    [Fact]
    public void a_failed_detach_keeps_the_disk()
    {
        var outcome = VmSpec.Given(DetachUnderWay())
            .When(Cmd.Fail("detach-1", "VIR_ERR_OPERATION_FAILED", "device is busy", PowerState.Stopped));

        var events = outcome.ThenAccepted().Events;
        events.Count.ShouldBe(2);
        events[0].ShouldBeOfType<VmOperationFailed>();
        // The disk is confirmed attached, so the volume's read model leaves DETACHING too.
        events[1].ShouldBeOfType<VmDiskAttached>().Disk.ShouldBe(Disk(Fixed.DataVolume, "vda"));
        outcome.ThenState().Disks.ShouldBe([Disk(Fixed.DataVolume, "vda")]);
    }

    [Fact]
    public void a_freed_device_name_is_given_to_the_next_disk()
    {
        VmSpec.Given(
            [
                .. Vm.IdleIn(PowerState.Stopped),
                Vm.DiskAttached(Fixed.BootVolume, "vda"),
                Vm.DiskAttached(Fixed.DataVolume, "vdb"),
                new VmDiskDetached(Fixed.VmId, DetachOperation, Fixed.BootVolume, "detached", Fixed.Earlier),
            ])
            .When(Cmd.Attach("attach-1", Fixed.SpareVolume))
            .ThenAccepted().Events.OfType<VmDiskAttachRequested>().Single().Disk.TargetDev.ShouldBe("vda");
    }

    [Fact]
    public void deleting_a_vm_releases_every_disk_before_it_is_deleted()
    {
        VmSpec.Given(
            [
                .. Vm.IdleIn(PowerState.Stopped),
                Vm.DiskAttached(Fixed.BootVolume, "vda"),
                Vm.DiskAttached(Fixed.DataVolume, "sda", DiskBus.Sata),
                Vm.Requested(OperationKind.Delete, "delete-1"),
            ])
            .When(Cmd.Complete("delete-1", PowerState.Stopped))
            .ThenEvents(
                new VmOperationSucceeded(Fixed.VmId, Fixed.OperationId("delete-1"), PowerState.Stopped, Fixed.Now),
                new VmDiskDetached(Fixed.VmId, Fixed.OperationId("delete-1"), Fixed.BootVolume, "the VM was deleted", Fixed.Now),
                new VmDiskDetached(Fixed.VmId, Fixed.OperationId("delete-1"), Fixed.DataVolume, "the VM was deleted", Fixed.Now),
                new VmDeleted(Fixed.VmId, Fixed.Now));
    }
}
