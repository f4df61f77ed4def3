using System.Globalization;
using System.Xml.Linq;
using Quantixkvm.Agent.Hypervisor;
using Quantixkvm.Agent.Tests.Support;
using Quantixkvm.Contracts;
using Quantixkvm.Libvirt;
using static Quantixkvm.Agent.Tests.Support.TestHypervisor;

namespace Quantixkvm.Agent.Tests;

/// <summary><see cref="DomainOperations"/> against libvirt's test driver, on a clock that moves only when told.</summary>
public sealed class DomainOperationsTests : IDisposable
{
    private readonly LibvirtConnection _libvirt = LibvirtConnection.Open(LibvirtUri);
    private readonly FakeTimeProvider _clock = new();
    private readonly DomainOperations _operations;
    private readonly List<Guid> _vms = [];

    public DomainOperationsTests() => _operations = AgentParts.Domains(new HypervisorConnection(_libvirt), _clock);

    private DateTimeOffset InAMinute => _clock.GetUtcNow().AddMinutes(1);

    public void Dispose()
    {
        foreach (var vmId in _vms)
        {
            Remove(_libvirt, vmId);
        }

        _libvirt.Dispose();
    }

    [Fact]
    public async Task create_defines_a_stopped_domain_named_after_the_vm_with_the_users_name_as_title_and_the_asked_hardware()
    {
        const string name = "<evil & \"x\">";
        var vmId = NewVm();

        var outcome = await RunAsync(Command(DomainOperationKind.Create, vmId, InAMinute,
            desired: DomainPowerState.Stopped, name: name, vcpus: 3, memoryMiB: 256));

        outcome.ShouldBe(new DomainOutcome(true, DomainPowerState.Stopped));
        using var domain = _libvirt.FindDomain(vmId).ShouldNotBeNull();
        domain.Name.ShouldBe($"qkvm-{vmId:N}");
        domain.Uuid.ShouldBe(vmId);
        domain.GetState().State.ShouldBe(DomainState.Shutoff);
        var xml = domain.GetXml();
        xml.ShouldNotContain("<evil");
        var root = XDocument.Parse(xml).Root!;
        root.Attribute("type")!.Value.ShouldBe("test");
        root.Element("title")!.Value.ShouldBe(name);
        root.Element("vcpu")!.Value.ShouldBe("3");
        root.Element("memory")!.Attribute("unit")!.Value.ShouldBe("KiB");
        root.Element("memory")!.Value.ShouldBe((256 * 1024).ToString(CultureInfo.InvariantCulture));
        DomainXml.ReadMetadata(xml).ShouldContainKeyAndValue("vm-id", vmId.ToString());
    }

    [Fact]
    public async Task create_with_desired_power_state_running_starts_the_domain_and_reports_it_running()
    {
        var vmId = NewVm();

        var outcome = await RunAsync(Command(DomainOperationKind.Create, vmId, InAMinute, desired: DomainPowerState.Running));

        outcome.ShouldBe(new DomainOutcome(true, DomainPowerState.Running));
        StateOf(_libvirt, vmId)!.Value.State.ShouldBe(DomainState.Running);
    }

    [Fact]
    public void the_domain_name_is_qkvm_and_the_vm_id_without_dashes()
    {
        var vmId = Guid.Parse("0b5a1c7e-1111-2222-3333-444455556666");

        DomainOperations.DomainName(vmId).ShouldBe("qkvm-0b5a1c7e111122223333444455556666");
    }

    [Fact]
    public async Task create_delivered_twice_succeeds_and_does_not_define_the_domain_again()
    {
        var vmId = NewVm();
        var create = Command(DomainOperationKind.Create, vmId, InAMinute, desired: DomainPowerState.Stopped, name: "first", vcpus: 2);
        (await RunAsync(create)).Succeeded.ShouldBeTrue();

        // Had it been defined again, the second delivery's (different) spec would be what libvirt has now.
        var again = create with { Domain = create.Domain with { Name = "second", Vcpus = 4 } };
        var outcome = await RunAsync(again);

        outcome.ShouldBe(new DomainOutcome(true, DomainPowerState.Stopped));
        using var domain = _libvirt.FindDomain(vmId).ShouldNotBeNull();
        var root = XDocument.Parse(domain.GetXml()).Root!;
        root.Element("title")!.Value.ShouldBe("first");
        root.Element("vcpu")!.Value.ShouldBe("2");
    }

    [Fact]
    public async Task create_delivered_again_after_the_domain_was_defined_but_not_started_finishes_by_starting_it()
    {
        var vmId = NewVm();
        var create = Command(DomainOperationKind.Create, vmId, InAMinute, desired: DomainPowerState.Running);
        using (var defined = _libvirt.DefineDomain(DomainXml.Build(new DomainSpec(
            vmId, DomainOperations.DomainName(vmId), "web-1", 1, 128, "test"))))
        {
            defined.GetState().State.ShouldBe(DomainState.Shutoff);
        }

        var outcome = await RunAsync(create);

        outcome.ShouldBe(new DomainOutcome(true, DomainPowerState.Running));
        StateOf(_libvirt, vmId)!.Value.State.ShouldBe(DomainState.Running);
    }

    [Fact]
    public async Task create_of_a_running_domain_delivered_twice_leaves_it_running_without_starting_it_again()
    {
        var vmId = NewVm();
        Arrange(_libvirt, vmId, DomainPowerState.Running);
        var before = StateOf(_libvirt, vmId);

        var outcome = await RunAsync(Command(DomainOperationKind.Create, vmId, InAMinute, desired: DomainPowerState.Running));

        outcome.ShouldBe(new DomainOutcome(true, DomainPowerState.Running));
        StateOf(_libvirt, vmId).ShouldBe(before);
    }

    [Theory]
    [InlineData(DomainOperationKind.Start, false, DomainPowerState.Stopped, DomainPowerState.Running)]
    [InlineData(DomainOperationKind.Stop, false, DomainPowerState.Running, DomainPowerState.Stopped)]
    [InlineData(DomainOperationKind.Stop, true, DomainPowerState.Running, DomainPowerState.Stopped)]
    [InlineData(DomainOperationKind.Stop, true, DomainPowerState.Paused, DomainPowerState.Stopped)]
    [InlineData(DomainOperationKind.Reboot, false, DomainPowerState.Running, DomainPowerState.Running)]
    [InlineData(DomainOperationKind.Pause, false, DomainPowerState.Running, DomainPowerState.Paused)]
    [InlineData(DomainOperationKind.Resume, false, DomainPowerState.Paused, DomainPowerState.Running)]
    public async Task each_kind_moves_the_domain_and_reports_the_state_it_observes_afterwards(
        DomainOperationKind kind, bool force, DomainPowerState from, DomainPowerState to)
    {
        var vmId = NewVm();
        Arrange(_libvirt, vmId, from);
        var before = StateOf(_libvirt, vmId)!.Value;

        var outcome = await RunAsync(Command(kind, vmId, InAMinute, force));

        outcome.ShouldBe(new DomainOutcome(true, to));
        var after = StateOf(_libvirt, vmId)!.Value;
        DomainOperations.PowerStateOf(after.State).ShouldBe(to);
        after.ShouldNotBe(before, "the agent must have acted on the domain");
    }

    [Fact]
    public async Task reboot_restarts_a_running_domain()
    {
        var vmId = NewVm();
        Arrange(_libvirt, vmId, DomainPowerState.Running);
        StateOf(_libvirt, vmId).ShouldBe(new DomainStateInfo(DomainState.Running, RunningUnpaused));

        var outcome = await RunAsync(Command(DomainOperationKind.Reboot, vmId, InAMinute));

        outcome.ShouldBe(new DomainOutcome(true, DomainPowerState.Running));
        StateOf(_libvirt, vmId).ShouldBe(new DomainStateInfo(DomainState.Running, RunningBooted));
    }

    [Fact]
    public async Task a_reboot_redelivered_to_a_restarted_agent_does_not_reboot_the_guest_again_but_the_next_reboot_does()
    {
        var vmId = NewVm();
        Arrange(_libvirt, vmId, DomainPowerState.Running);
        var reboot = Command(DomainOperationKind.Reboot, vmId, InAMinute);
        (await RunAsync(reboot)).ShouldBe(new DomainOutcome(true, DomainPowerState.Running));
        StateOf(_libvirt, vmId).ShouldBe(new DomainStateInfo(DomainState.Running, RunningBooted));
        using (var domain = _libvirt.FindDomain(vmId)!)
        {
            // Back to UNPAUSED, so that a second reboot would show as BOOTED again.
            domain.Suspend();
            domain.Resume();
        }

        (await RunOnARestartedAgentAsync(reboot)).ShouldBe(new DomainOutcome(true, DomainPowerState.Running));
        StateOf(_libvirt, vmId).ShouldBe(new DomainStateInfo(DomainState.Running, RunningUnpaused), "the redelivered reboot must not reboot the guest again");

        (await RunOnARestartedAgentAsync(Command(DomainOperationKind.Reboot, vmId, InAMinute)))
            .ShouldBe(new DomainOutcome(true, DomainPowerState.Running));
        StateOf(_libvirt, vmId).ShouldBe(new DomainStateInfo(DomainState.Running, RunningBooted), "another reboot operation reboots");
    }

    [Fact]
    public async Task a_late_copy_of_a_pause_that_a_later_resume_overtook_is_refused_as_superseded_without_pausing_again()
    {
        var vmId = NewVm();
        Arrange(_libvirt, vmId, DomainPowerState.Running);
        var pause = Command(DomainOperationKind.Pause, vmId, InAMinute) with { Sequence = 5 };
        (await RunAsync(pause)).ShouldBe(new DomainOutcome(true, DomainPowerState.Paused));
        (await RunAsync(Command(DomainOperationKind.Resume, vmId, InAMinute) with { Sequence = 6 })).ShouldBe(new DomainOutcome(true, DomainPowerState.Running));

        // The agent restarted before the pause's message was acknowledged: RabbitMQ delivers it again.
        var late = await RunOnARestartedAgentAsync(pause);

        late.Succeeded.ShouldBeFalse();
        late.ErrorCode.ShouldBe("SUPERSEDED");
        late.ErrorMessage.ShouldBe($"this is operation 5 of the VM, and its later operation 6 has acted on domain qkvm-{vmId:N} already; nothing was done");
        StateOf(_libvirt, vmId).ShouldBe(new DomainStateInfo(DomainState.Running, RunningUnpaused));
    }

    [Fact]
    public async Task the_mark_outlives_a_stop_so_a_late_start_does_not_start_the_domain_again()
    {
        var vmId = NewVm();
        Arrange(_libvirt, vmId, DomainPowerState.Stopped);
        var start = Command(DomainOperationKind.Start, vmId, InAMinute) with { Sequence = 2 };
        (await RunAsync(start)).ShouldBe(new DomainOutcome(true, DomainPowerState.Running));
        (await RunAsync(Command(DomainOperationKind.Stop, vmId, InAMinute, force: true) with { Sequence = 3 }))
            .ShouldBe(new DomainOutcome(true, DomainPowerState.Stopped));

        var late = await RunOnARestartedAgentAsync(start);

        late.ErrorCode.ShouldBe("SUPERSEDED");
        StateOf(_libvirt, vmId)!.Value.State.ShouldBe(DomainState.Shutoff);
    }

    [Fact]
    public async Task an_operation_that_acted_before_a_restart_and_whose_effect_was_undone_since_by_hand_is_not_carried_out_again()
    {
        var vmId = NewVm();
        Arrange(_libvirt, vmId, DomainPowerState.Running);
        var pause = Command(DomainOperationKind.Pause, vmId, InAMinute) with { Sequence = 4 };
        (await RunAsync(pause)).ShouldBe(new DomainOutcome(true, DomainPowerState.Paused));
        using (var domain = _libvirt.FindDomain(vmId)!)
        {
            domain.Resume();
        }

        var again = await RunOnARestartedAgentAsync(pause);

        again.ShouldBe(DomainOutcome.Fail(DomainPowerState.Running, "ACTED_BEFORE_RESTART",
            $"this operation asked libvirt to act on domain qkvm-{vmId:N} before the agent restarted, and the domain is RUNNING now; it is not asked again"));
        StateOf(_libvirt, vmId).ShouldBe(new DomainStateInfo(DomainState.Running, RunningUnpaused));
    }

    [Fact]
    public async Task a_graceful_stop_shuts_the_guest_down_rather_than_powering_it_off()
    {
        var vmId = NewVm();
        Arrange(_libvirt, vmId, DomainPowerState.Running);

        var outcome = await RunAsync(Command(DomainOperationKind.Stop, vmId, InAMinute, force: false));

        outcome.ShouldBe(new DomainOutcome(true, DomainPowerState.Stopped));
        StateOf(_libvirt, vmId)!.Value.Reason.ShouldNotBe(ShutoffDestroyed);
    }

    [Fact]
    public async Task a_forced_stop_powers_the_domain_off()
    {
        var vmId = NewVm();
        Arrange(_libvirt, vmId, DomainPowerState.Running);

        var outcome = await RunAsync(Command(DomainOperationKind.Stop, vmId, InAMinute, force: true));

        outcome.ShouldBe(new DomainOutcome(true, DomainPowerState.Stopped));
        StateOf(_libvirt, vmId).ShouldBe(new DomainStateInfo(DomainState.Shutoff, ShutoffDestroyed));
    }

    [Fact]
    public async Task delete_undefines_a_stopped_domain_and_reports_it_unknown()
    {
        var vmId = NewVm();
        Arrange(_libvirt, vmId, DomainPowerState.Stopped);

        var outcome = await RunAsync(Command(DomainOperationKind.Delete, vmId, InAMinute));

        outcome.ShouldBe(new DomainOutcome(true, DomainPowerState.Unknown));
        StateOf(_libvirt, vmId).ShouldBeNull();
    }

    [Theory]
    [InlineData(DomainOperationKind.Start, false, DomainPowerState.Running)]
    [InlineData(DomainOperationKind.Stop, false, DomainPowerState.Stopped)]
    [InlineData(DomainOperationKind.Stop, true, DomainPowerState.Stopped)]
    [InlineData(DomainOperationKind.Pause, false, DomainPowerState.Paused)]
    [InlineData(DomainOperationKind.Resume, false, DomainPowerState.Running)]
    public async Task repeating_an_operation_on_a_domain_already_in_its_target_state_succeeds_without_acting(
        DomainOperationKind kind, bool force, DomainPowerState state)
    {
        var vmId = NewVm();
        Arrange(_libvirt, vmId, state);
        var before = StateOf(_libvirt, vmId);

        var outcome = await RunAsync(Command(kind, vmId, InAMinute, force));

        outcome.ShouldBe(new DomainOutcome(true, state));
        // Same state and same reason: libvirt was not asked to do anything.
        StateOf(_libvirt, vmId).ShouldBe(before);
    }

    [Fact]
    public async Task the_same_operation_run_twice_acts_once_and_succeeds_both_times()
    {
        var vmId = NewVm();
        Arrange(_libvirt, vmId, DomainPowerState.Stopped);
        var start = Command(DomainOperationKind.Start, vmId, InAMinute);

        var first = await RunAsync(start);
        var afterFirst = StateOf(_libvirt, vmId);
        var second = await RunAsync(start);

        first.ShouldBe(new DomainOutcome(true, DomainPowerState.Running));
        second.ShouldBe(first);
        StateOf(_libvirt, vmId).ShouldBe(afterFirst);
    }

    [Fact]
    public async Task delete_of_a_missing_domain_succeeds()
    {
        var vmId = NewVm();

        var outcome = await RunAsync(Command(DomainOperationKind.Delete, vmId, InAMinute));

        outcome.ShouldBe(new DomainOutcome(true, DomainPowerState.Unknown));
    }

    [Theory]
    [InlineData(DomainPowerState.Running)]
    [InlineData(DomainPowerState.Paused)]
    public async Task delete_of_a_live_domain_is_refused_with_DOMAIN_ACTIVE_and_leaves_it_as_it_was(DomainPowerState state)
    {
        var vmId = NewVm();
        Arrange(_libvirt, vmId, state);
        var before = StateOf(_libvirt, vmId);

        var outcome = await RunAsync(Command(DomainOperationKind.Delete, vmId, InAMinute));

        outcome.Succeeded.ShouldBeFalse();
        outcome.ErrorCode.ShouldBe("DOMAIN_ACTIVE");
        outcome.Observed.ShouldBe(state);
        outcome.ErrorMessage.ShouldNotBeNull().ShouldContain(DomainOperations.DomainName(vmId));
        StateOf(_libvirt, vmId).ShouldBe(before);
    }

    [Theory]
    [InlineData(DomainOperationKind.Resume, DomainPowerState.Stopped, "PAUSED")]
    [InlineData(DomainOperationKind.Pause, DomainPowerState.Stopped, "RUNNING")]
    [InlineData(DomainOperationKind.Start, DomainPowerState.Paused, "STOPPED")]
    [InlineData(DomainOperationKind.Reboot, DomainPowerState.Stopped, "RUNNING")]
    public async Task an_operation_the_domains_state_does_not_allow_is_refused_without_asking_libvirt(
        DomainOperationKind kind, DomainPowerState state, string needed)
    {
        // What a late copy of an overtaken operation finds: a resume redelivered after a forced stop won, say.
        var vmId = NewVm();
        Arrange(_libvirt, vmId, state);
        var before = StateOf(_libvirt, vmId);

        var outcome = await RunAsync(Command(kind, vmId, InAMinute));

        outcome.Succeeded.ShouldBeFalse();
        // Our code, not a LIBVIRT_ one: libvirt was never asked.
        outcome.ErrorCode.ShouldBe("INVALID_POWER_STATE");
        outcome.Observed.ShouldBe(state);
        outcome.ErrorMessage.ShouldBe(
            $"domain {DomainOperations.DomainName(vmId)} is {state.ToString().ToUpperInvariant()} on this host, not {needed} as this operation needs; nothing was done");
        StateOf(_libvirt, vmId).ShouldBe(before);
    }

    [Theory]
    [InlineData(DomainOperationKind.Start, false)]
    [InlineData(DomainOperationKind.Stop, false)]
    [InlineData(DomainOperationKind.Stop, true)]
    [InlineData(DomainOperationKind.Reboot, false)]
    [InlineData(DomainOperationKind.Pause, false)]
    [InlineData(DomainOperationKind.Resume, false)]
    public async Task an_operation_on_a_vm_whose_domain_does_not_exist_fails_with_DOMAIN_NOT_FOUND(DomainOperationKind kind, bool force)
    {
        var vmId = NewVm();

        var outcome = await RunAsync(Command(kind, vmId, InAMinute, force));

        outcome.Succeeded.ShouldBeFalse();
        outcome.ErrorCode.ShouldBe("DOMAIN_NOT_FOUND");
        outcome.Observed.ShouldBe(DomainPowerState.Unknown);
        outcome.ErrorMessage.ShouldNotBeNull().ShouldContain(DomainOperations.DomainName(vmId));
        StateOf(_libvirt, vmId).ShouldBeNull();
    }

    [Fact]
    public async Task an_operation_whose_deadline_has_passed_fails_with_DEADLINE_PASSED_and_does_nothing()
    {
        var vmId = NewVm();
        Arrange(_libvirt, vmId, DomainPowerState.Stopped);
        var before = StateOf(_libvirt, vmId);
        var start = Command(DomainOperationKind.Start, vmId, _clock.GetUtcNow().AddSeconds(10));
        _clock.Advance(TimeSpan.FromSeconds(11));

        var outcome = await RunAsync(start);

        outcome.Succeeded.ShouldBeFalse();
        outcome.ErrorCode.ShouldBe("DEADLINE_PASSED");
        outcome.Observed.ShouldBe(DomainPowerState.Stopped);
        outcome.ErrorMessage.ShouldNotBeNull().ShouldContain(start.Deadline.ToString("O"));
        StateOf(_libvirt, vmId).ShouldBe(before);
    }

    [Fact]
    public async Task a_create_whose_deadline_has_passed_defines_nothing()
    {
        var vmId = NewVm();

        var outcome = await RunAsync(Command(DomainOperationKind.Create, vmId, _clock.GetUtcNow().AddTicks(-1)));

        outcome.ErrorCode.ShouldBe("DEADLINE_PASSED");
        outcome.Observed.ShouldBe(DomainPowerState.Unknown);
        StateOf(_libvirt, vmId).ShouldBeNull();
    }

    [Fact]
    public async Task the_deadline_is_passed_at_the_instant_itself_and_not_a_tick_before()
    {
        var vmId = NewVm();
        Arrange(_libvirt, vmId, DomainPowerState.Stopped);
        var now = _clock.GetUtcNow();

        var atDeadline = await RunAsync(Command(DomainOperationKind.Start, vmId, now));
        var justBefore = await RunAsync(Command(DomainOperationKind.Start, vmId, now.AddTicks(1)));

        atDeadline.ErrorCode.ShouldBe("DEADLINE_PASSED");
        justBefore.ShouldBe(new DomainOutcome(true, DomainPowerState.Running));
    }

    [Fact]
    public async Task a_create_that_libvirt_cannot_be_given_fails_with_an_outcome_instead_of_throwing()
    {
        var vmId = NewVm();
        const string name = "web\uFFFE1";

        var outcome = await RunAsync(Command(DomainOperationKind.Create, vmId, InAMinute, name: name));

        outcome.Succeeded.ShouldBeFalse();
        outcome.ErrorCode.ShouldNotBeNullOrEmpty();
        outcome.Observed.ShouldBe(DomainPowerState.Unknown);
        StateOf(_libvirt, vmId).ShouldBeNull();
    }

    [Theory]
    [InlineData(DomainState.NoState, DomainPowerState.Unknown)]
    [InlineData(DomainState.Running, DomainPowerState.Running)]
    [InlineData(DomainState.Blocked, DomainPowerState.Running)]
    [InlineData(DomainState.Paused, DomainPowerState.Paused)]
    [InlineData(DomainState.Shutdown, DomainPowerState.Running)]
    [InlineData(DomainState.Shutoff, DomainPowerState.Stopped)]
    [InlineData(DomainState.Crashed, DomainPowerState.Stopped)]
    [InlineData(DomainState.PmSuspended, DomainPowerState.Paused)]
    [InlineData((DomainState)99, DomainPowerState.Unknown)]
    public void PowerStateOf_maps_each_libvirt_state(DomainState state, DomainPowerState expected) =>
        DomainOperations.PowerStateOf(state).ShouldBe(expected);

    [Fact]
    public void PowerStateOf_gives_a_known_power_state_for_every_libvirt_state_but_NoState()
    {
        foreach (var state in Enum.GetValues<DomainState>().Where(s => s != DomainState.NoState))
        {
            DomainOperations.PowerStateOf(state).ShouldNotBe(DomainPowerState.Unknown, state.ToString());
        }
    }

    [Theory]
    [InlineData(LibvirtErrorCode.OperationInvalid, "LIBVIRT_OPERATION_INVALID")]
    [InlineData(LibvirtErrorCode.NoDomain, "LIBVIRT_NO_DOMAIN")]
    [InlineData(LibvirtErrorCode.InternalError, "LIBVIRT_INTERNAL_ERROR")]
    [InlineData(LibvirtErrorCode.Rpc, "LIBVIRT_RPC")]
    [InlineData((LibvirtErrorCode)999, "LIBVIRT_999")]
    public void LibvirtCode_spells_libvirts_error_number_as_a_stable_code(LibvirtErrorCode code, string expected) =>
        DomainOperations.LibvirtCode(new LibvirtException("message", (int)code, 10, "virDomainReboot")).ShouldBe(expected);

    [Fact]
    public async Task migrate_on_a_driver_that_cannot_migrate_fails_with_MIGRATION_UNSUPPORTED_and_leaves_the_domain_running()
    {
        var vmId = NewVm();
        Arrange(_libvirt, vmId, DomainPowerState.Running);
        var before = StateOf(_libvirt, vmId);
        var migrate = Command(DomainOperationKind.Migrate, vmId, InAMinute) with
        {
            Migration = new MigrationTarget(Guid.NewGuid(), "test:///default", "127.0.0.1"),
        };

        var outcome = await RunAsync(migrate);

        outcome.Succeeded.ShouldBeFalse();
        outcome.ErrorCode.ShouldBe("MIGRATION_UNSUPPORTED");
        outcome.ErrorMessage.ShouldBe("this host's libvirt driver (TEST) cannot migrate domains live; nothing was done");
        outcome.Observed.ShouldBe(DomainPowerState.Running);
        StateOf(_libvirt, vmId).ShouldBe(before, "nothing was done to the domain");
    }

    [Fact]
    public async Task migrate_without_its_target_fails_with_INVALID_SPEC()
    {
        var vmId = NewVm();
        Arrange(_libvirt, vmId, DomainPowerState.Running);

        var outcome = await RunAsync(Command(DomainOperationKind.Migrate, vmId, InAMinute));

        outcome.ShouldBe(DomainOutcome.Fail(DomainPowerState.Running, "INVALID_SPEC", "a Migrate operation needs its migration target"));
    }

    [Fact]
    public async Task recover_defines_and_starts_a_missing_domain_and_repeating_it_changes_nothing()
    {
        var vmId = NewVm();
        var recover = Command(DomainOperationKind.Recover, vmId, InAMinute, desired: DomainPowerState.Running, name: "restarted", vcpus: 2);

        var outcome = await RunAsync(recover);

        outcome.ShouldBe(new DomainOutcome(true, DomainPowerState.Running));
        using (var domain = _libvirt.FindDomain(vmId).ShouldNotBeNull())
        {
            domain.Name.ShouldBe(DomainOperations.DomainName(vmId));
            XDocument.Parse(domain.GetXml()).Root!.Element("vcpu")!.Value.ShouldBe("2");
            DomainXml.ReadMetadata(domain.GetXml()).ShouldContainKeyAndValue("vm-id", vmId.ToString());
        }

        var started = StateOf(_libvirt, vmId);
        started!.Value.Reason.ShouldBe(RunningBooted);

        // Paused and resumed by hand: a start would make the reason BOOTED again.
        using (var domain = _libvirt.FindDomain(vmId)!)
        {
            domain.Suspend();
            domain.Resume();
        }

        var again = await RunAsync(recover with { OperationId = Guid.NewGuid(), Domain = recover.Domain with { Vcpus = 4 } });

        again.ShouldBe(new DomainOutcome(true, DomainPowerState.Running));
        StateOf(_libvirt, vmId).ShouldBe(new DomainStateInfo(DomainState.Running, RunningUnpaused), "a running domain is not started again");
        using var same = _libvirt.FindDomain(vmId)!;
        XDocument.Parse(same.GetXml()).Root!.Element("vcpu")!.Value.ShouldBe("2", "an existing definition is not replaced");
    }

    [Fact]
    public async Task recover_with_desired_stopped_defines_the_missing_domain_and_leaves_it_stopped()
    {
        var vmId = NewVm();

        var outcome = await RunAsync(Command(DomainOperationKind.Recover, vmId, InAMinute, desired: DomainPowerState.Stopped));

        outcome.ShouldBe(new DomainOutcome(true, DomainPowerState.Stopped));
        StateOf(_libvirt, vmId)!.Value.State.ShouldBe(DomainState.Shutoff);
    }

    [Fact]
    public void a_cancel_that_comes_before_its_migration_registers_is_remembered_and_one_after_it_ended_finds_nothing()
    {
        var migrations = new MigrationJobs();
        var operationId = Guid.NewGuid();
        using var domain = _libvirt.FindDomainByName(DefaultDomain)!;

        migrations.Cancel(operationId).ShouldBeFalse("nothing runs under that operation yet");

        using (var job = migrations.Register(operationId, domain))
        {
            job.CancelRequested.ShouldBeTrue();
            migrations.Running.ShouldBe([operationId]);
        }

        migrations.Running.ShouldBeEmpty();
        using var later = migrations.Register(Guid.NewGuid(), domain);
        later.CancelRequested.ShouldBeFalse();
    }

    private Guid NewVm()
    {
        var vmId = Guid.NewGuid();
        _vms.Add(vmId);
        return vmId;
    }

    private Task<DomainOutcome> RunAsync(RunDomainOperation command) =>
        _operations.RunAsync(command, TimeSpan.FromSeconds(1), CancellationToken.None);

    /// <summary>As a restarted agent would: a new <see cref="DomainOperations"/>, whose outcome cache is empty.</summary>
    private Task<DomainOutcome> RunOnARestartedAgentAsync(RunDomainOperation command) =>
        AgentParts.Domains(new HypervisorConnection(_libvirt), _clock).RunAsync(command, TimeSpan.FromSeconds(1), CancellationToken.None);
}
