using Quantixkvm.Domain.Networks;
using Quantixkvm.Domain.Tests.Support;
using Quantixkvm.Domain.Vms;

namespace Quantixkvm.Domain.Tests;

/// <summary>A VM's NICs: ports already allocated on their networks, given at create or attached and detached as operations.</summary>
public class AttachingAndDetachingNics
{
    private static readonly Guid CreateOperation = Fixed.OperationId(Fixed.CreateCommandId);
    private static readonly Guid AttachOperation = Fixed.OperationId("attach-nic-1");
    private static readonly Guid DetachOperation = Fixed.OperationId("detach-nic-1");

    /// <summary>A VM that was started and runs, with its primary NIC.</summary>
    private static VmEvent[] RunningWithNic() =>
    [
        .. Vm.IdleIn(PowerState.Stopped),
        Nic.Attached(Nic.Primary),
        Vm.Requested(OperationKind.Start, "start-0"),
        Vm.Succeeded("start-0", PowerState.Running),
    ];

    private static VmEvent[] StoppedWithNic() => [.. Vm.IdleIn(PowerState.Stopped), Nic.Attached(Nic.Primary)];

    /// <summary>The running VM with an attach of the spare NIC asked for by "attach-nic-1".</summary>
    private static VmEvent[] AttachUnderWay() =>
    [
        .. RunningWithNic(),
        Vm.Requested(OperationKind.AttachNic, "attach-nic-1", desired: PowerState.Running),
        new VmNicAttachRequested(Fixed.VmId, AttachOperation, Nic.Spare),
    ];

    private static VmEvent[] DetachUnderWay() =>
    [
        .. StoppedWithNic(),
        Vm.Requested(OperationKind.DetachNic, "detach-nic-1"),
        new VmNicDetachRequested(Fixed.VmId, DetachOperation, Nic.Primary.PortId),
    ];

    private static VmOperationRequested Requested(OperationKind kind, string commandId, PowerState desired, long sequence) =>
        new(Fixed.VmId, Fixed.OperationId(commandId), commandId, kind, Force: false, desired, Fixed.HostId, Fixed.Actor, Fixed.Now,
            Fixed.Now + Fixed.Timeouts.Disk, sequence);

    [Fact]
    public void creating_a_vm_with_nics_attaches_them_under_the_create_operation()
    {
        var second = Nic.Of("nic-1", "fd00:1::2", NicModel.Rtl8139);

        VmSpec.Given()
            .When(Cmd.Create(nics: [Nic.Primary, second]))
            .ThenEvents(
                new VmCreated(Fixed.VmId, Fixed.VmName, Fixed.Vcpus, Fixed.MemoryMiB, Fixed.HostId, Fixed.Now),
                new VmNicAttached(Fixed.VmId, CreateOperation, Nic.Primary, Fixed.Now),
                new VmNicAttached(Fixed.VmId, CreateOperation, second, Fixed.Now),
                new VmOperationRequested(
                    Fixed.VmId, CreateOperation, Fixed.CreateCommandId, OperationKind.Create, Force: false, PowerState.Stopped,
                    Fixed.HostId, Fixed.Actor, Fixed.Now, Fixed.Now + Fixed.Timeouts.Create, Sequence: 1))
            .WithOperationId(CreateOperation);
    }

    [Fact]
    public void a_vm_created_with_nics_holds_their_ports_in_order()
    {
        var state = VmSpec.Given().When(Cmd.Create(nics: [Nic.Primary, Nic.Spare])).ThenState();

        state.Nics.Select(n => n.PortId).ShouldBe([Nic.Primary.PortId, Nic.Spare.PortId]);
        state.HoldsPort(Nic.Spare.PortId).ShouldBeTrue();
        state.HoldsPort(Net.Port("nic-9")).ShouldBeFalse();
    }

    [Fact]
    public void a_given_mac_and_addresses_are_kept_in_canonical_form()
    {
        var nic = Nic.Primary with { Mac = "52-54-00-AB-CD-EF", Addresses = ["FD00:1::0:2"] };

        var held = VmSpec.Given().When(Cmd.Create(nics: [nic])).ThenState().Nics.ShouldHaveSingleItem();

        (held.Mac, held.Addresses.Single()).ShouldBe(("52:54:00:ab:cd:ef", "fd00:1::2"));
    }

    public static TheoryData<string, VmNic[], string> InvalidNicLists => new()
    {
        { "same port twice", [Nic.Primary, Nic.Primary with { Mac = "52:54:00:00:00:01" }], $"port {Nic.Primary.PortId} is already a NIC of the VM" },
        { "same MAC twice", [Nic.Primary, Nic.Spare with { Mac = Nic.Primary.Mac.ToUpperInvariant() }], $"MAC {Nic.Primary.Mac} is already used by the VM's NIC on port {Nic.Primary.PortId}" },
        { "no port", [Nic.Primary with { PortId = Guid.Empty }], "a NIC must name its port" },
        { "no network", [Nic.Primary with { NetworkId = Guid.Empty }], "a NIC must name its network" },
        { "multicast MAC", [Nic.Primary with { Mac = "01:00:5e:00:00:01" }], "'01:00:5e:00:00:01' is a multicast address; a NIC needs a unicast one (first octet even)" },
        { "unknown model", [Nic.Primary with { Model = (NicModel)9 }], "NIC model 9 is not one of Virtio, E1000, Rtl8139" },
        { "bad address", [Nic.Primary with { Addresses = ["10.0.0.300"] }], "NIC address '10.0.0.300' is not an IP address" },
    };

    [Theory]
    [MemberData(nameof(InvalidNicLists))]
    public void an_invalid_list_of_nics_is_refused_at_create(string why, VmNic[] nics, string problem)
    {
        var rejection = VmSpec.Given().When(Cmd.Create(nics: nics)).ThenRejected(RejectionCode.Validation);

        rejection.Message.ShouldStartWith(problem, Case.Sensitive, why);
        rejection.Command.ShouldBe("create");
    }

    [Fact]
    public void eight_nics_are_accepted_and_a_ninth_is_refused()
    {
        var nics = Enumerable.Range(0, 9).Select(i => Nic.Of($"nic-{i}", $"10.0.0.{i + 2}")).ToArray();

        VmSpec.Given().When(Cmd.Create(nics: nics[..8])).ThenState().Nics.Count.ShouldBe(8);
        VmSpec.Given().When(Cmd.Create(nics: nics))
            .ThenRejected(RejectionCode.Validation).Message.ShouldBe("a VM can have at most 8 NICs");
    }

    [Fact]
    public void attaching_a_nic_to_a_running_vm_asks_for_it_within_the_disk_deadline()
    {
        VmSpec.Given(RunningWithNic())
            .When(Cmd.AttachNic("attach-nic-1", Nic.Spare))
            .ThenEvents(
                Requested(OperationKind.AttachNic, "attach-nic-1", desired: PowerState.Running, sequence: 3),
                new VmNicAttachRequested(Fixed.VmId, AttachOperation, Nic.Spare))
            .WithOperationId(AttachOperation);
    }

    [Fact]
    public void an_attach_under_way_reserves_the_port_and_shows_the_vm_attaching()
    {
        var state = VmSpec.Given(AttachUnderWay()).State;

        state.Describe().ShouldBe("ATTACHING_NIC");
        state.HoldsPort(Nic.Spare.PortId).ShouldBeTrue();
        state.Nics.ShouldBe([Nic.Primary]);
    }

    [Fact]
    public void attaching_a_port_the_vm_already_holds_is_a_conflict()
    {
        var rejection = VmSpec.Given(RunningWithNic())
            .When(Cmd.AttachNic("attach-nic-1", Nic.Primary))
            .ThenRejected(RejectionCode.Conflict, containing: $"port {Nic.Primary.PortId} is already a NIC of VM 'web-1'");

        rejection.Command.ShouldBe("attach-nic");
        rejection.State.ShouldBe("RUNNING");
    }

    [Fact]
    public void attaching_a_nic_with_a_mac_another_nic_of_the_vm_has_is_a_conflict()
    {
        VmSpec.Given(RunningWithNic())
            .When(Cmd.AttachNic("attach-nic-1", Nic.Spare with { Mac = Nic.Primary.Mac }))
            .ThenRejected(RejectionCode.Conflict, containing: $"MAC {Nic.Primary.Mac} is already used by the VM's NIC on port {Nic.Primary.PortId}");
    }

    [Fact]
    public void attaching_a_ninth_nic_is_refused()
    {
        VmEvent[] eight = [.. Vm.IdleIn(PowerState.Stopped), .. Enumerable.Range(0, 8).Select(i => Nic.Attached(Nic.Of($"nic-{i}", $"10.0.0.{i + 2}")))];

        VmSpec.Given(eight).When(Cmd.AttachNic()).ThenRejected(RejectionCode.Validation, containing: "at most 8 NICs");
    }

    [Fact]
    public void attaching_a_nic_to_a_paused_vm_is_refused()
    {
        VmSpec.Given(Vm.IdleIn(PowerState.Paused))
            .When(Cmd.AttachNic())
            .ThenRejected(RejectionCode.InvalidState, containing: "allowed only when STOPPED or RUNNING");
    }

    [Fact]
    public void attaching_a_nic_while_another_operation_is_under_way_is_refused()
    {
        VmSpec.Given([.. StoppedWithNic(), Vm.Requested(OperationKind.Start, "start-1")])
            .When(Cmd.AttachNic())
            .ThenRejected(RejectionCode.InvalidState, containing: $"its start operation {Fixed.OperationId("start-1")} is still under way");
    }

    [Fact]
    public void a_completed_attach_adds_the_nic_and_leaves_nothing_pending()
    {
        var outcome = VmSpec.Given(AttachUnderWay()).When(Cmd.Complete("attach-nic-1", PowerState.Running));

        outcome.ThenEvents(
            new VmOperationSucceeded(Fixed.VmId, AttachOperation, PowerState.Running, Fixed.Now),
            new VmNicAttached(Fixed.VmId, AttachOperation, Nic.Spare, Fixed.Now));
        var state = outcome.ThenState();
        state.Nics.ShouldBe([Nic.Primary, Nic.Spare]);
        state.PendingNics.ShouldBeEmpty();
    }

    [Fact]
    public void a_failed_attach_releases_the_port_with_the_error_in_the_reason()
    {
        var outcome = VmSpec.Given(AttachUnderWay())
            .When(Cmd.Fail("attach-nic-1", "VIR_ERR_INTERNAL_ERROR", "unable to add bridge br-prod port vnet3", PowerState.Running));

        outcome.ThenEvents(
            new VmOperationFailed(
                Fixed.VmId, AttachOperation, "VIR_ERR_INTERNAL_ERROR", "unable to add bridge br-prod port vnet3", PowerState.Running, Fixed.Now),
            new VmNicDetached(Fixed.VmId, AttachOperation, Nic.Spare.PortId, "attach failed: unable to add bridge br-prod port vnet3", Fixed.Now));
        outcome.ThenState().HoldsPort(Nic.Spare.PortId).ShouldBeFalse();
    }

    [Fact]
    public void a_timed_out_attach_releases_the_port()
    {
        var deadline = Fixed.Earlier + Fixed.Timeouts.Disk;

        VmSpec.Given(AttachUnderWay())
            .When(Cmd.TimeOut("attach-nic-1", deadline))
            .ThenEvents(
                new VmOperationTimedOut(Fixed.VmId, AttachOperation, deadline),
                new VmNicDetached(Fixed.VmId, AttachOperation, Nic.Spare.PortId,
                    "attach timed out; the host's next inventory shows whether the NIC arrived", deadline));
    }

    [Fact]
    public void repeating_an_attach_command_id_appends_nothing()
    {
        VmSpec.Given(AttachUnderWay()).When(Cmd.AttachNic("attach-nic-1", Nic.Spare)).ThenNothingChanges(AttachOperation);
    }

    [Fact]
    public void detaching_a_nic_asks_for_it_and_shows_the_vm_detaching()
    {
        VmSpec.Given(StoppedWithNic())
            .When(Cmd.DetachNic("detach-nic-1", Nic.Primary.PortId))
            .ThenEvents(
                Requested(OperationKind.DetachNic, "detach-nic-1", desired: PowerState.Stopped, sequence: 2),
                new VmNicDetachRequested(Fixed.VmId, DetachOperation, Nic.Primary.PortId))
            .ThenState().Describe().ShouldBe("DETACHING_NIC");
    }

    [Fact]
    public void detaching_a_port_the_vm_does_not_hold_is_not_found()
    {
        VmSpec.Given(RunningWithNic())
            .When(Cmd.DetachNic("detach-nic-1", Nic.Spare.PortId))
            .ThenRejected(RejectionCode.NotFound, containing: $"port {Nic.Spare.PortId} is not a NIC of VM 'web-1'")
            .Command.ShouldBe("detach-nic");
    }

    [Fact]
    public void a_completed_detach_removes_the_nic()
    {
        var outcome = VmSpec.Given(DetachUnderWay()).When(Cmd.Complete("detach-nic-1", PowerState.Stopped));

        outcome.ThenEvents(
            new VmOperationSucceeded(Fixed.VmId, DetachOperation, PowerState.Stopped, Fixed.Now),
            new VmNicDetached(Fixed.VmId, DetachOperation, Nic.Primary.PortId, "detached", Fixed.Now));
        outcome.ThenState().HoldsPort(Nic.Primary.PortId).ShouldBeFalse();
    }

    [Fact]
    public void a_failed_detach_keeps_the_nic()
    {
        var outcome = VmSpec.Given(DetachUnderWay()).When(Cmd.Fail("detach-nic-1", "VIR_ERR_OPERATION_FAILED", "device busy", PowerState.Stopped));

        outcome.ThenEvents(
            new VmOperationFailed(Fixed.VmId, DetachOperation, "VIR_ERR_OPERATION_FAILED", "device busy", PowerState.Stopped, Fixed.Now),
            new VmNicAttached(Fixed.VmId, DetachOperation, Nic.Primary, Fixed.Now));
        outcome.ThenState().Nics.ShouldBe([Nic.Primary]);
    }

    [Fact]
    public void deleting_a_vm_detaches_its_disks_and_nics_before_it_is_deleted()
    {
        VmSpec.Given(
            [
                .. StoppedWithNic(),
                Vm.DiskAttached(Fixed.BootVolume, "vda"),
                Nic.Attached(Nic.Spare),
                Vm.Requested(OperationKind.Delete, "delete-1"),
            ])
            .When(Cmd.Complete("delete-1", PowerState.Stopped))
            .ThenEvents(
                new VmOperationSucceeded(Fixed.VmId, Fixed.OperationId("delete-1"), PowerState.Stopped, Fixed.Now),
                new VmDiskDetached(Fixed.VmId, Fixed.OperationId("delete-1"), Fixed.BootVolume, "the VM was deleted", Fixed.Now),
                new VmNicDetached(Fixed.VmId, Fixed.OperationId("delete-1"), Nic.Primary.PortId, "the VM was deleted", Fixed.Now),
                new VmNicDetached(Fixed.VmId, Fixed.OperationId("delete-1"), Nic.Spare.PortId, "the VM was deleted", Fixed.Now),
                new VmDeleted(Fixed.VmId, Fixed.Now));
    }
}
