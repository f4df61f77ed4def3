using Quantixkvm.Domain.Tests.Support;
using Quantixkvm.Domain.Vms;

namespace Quantixkvm.Domain.Tests;

public class CreatingAVm
{
    private static readonly Guid CreateOperation = Fixed.OperationId(Fixed.CreateCommandId);

    [Fact]
    public void creating_a_vm_records_its_spec_and_a_pending_create_operation()
    {
        VmSpec.Given()
            .When(Cmd.Create(start: false))
            .ThenEvents(
                new VmCreated(Fixed.VmId, Fixed.VmName, Fixed.Vcpus, Fixed.MemoryMiB, Fixed.HostId, Fixed.Now),
                new VmOperationRequested(
                    Fixed.VmId, CreateOperation, Fixed.CreateCommandId, OperationKind.Create, Force: false,
                    DesiredPowerState: PowerState.Stopped, Fixed.HostId, Fixed.Actor, RequestedAt: Fixed.Now,
                    Deadline: Fixed.Now + Fixed.Timeouts.Create, Sequence: 1))
            .WithOperationId(CreateOperation);
    }

    [Fact]
    public void a_create_placed_by_the_scheduler_records_the_decision_with_its_reasons()
    {
        var rejection = new Placement.HostRejection(Guid.NewGuid(), "kvm-02", "memory", "the VM needs 4096 MiB; 1024 MiB of 65536 MiB are free");
        var placement = new Placement.PlacementRecord(
            Fixed.HostId, "kvm-01", Placement.PlacementStrategy.Spread, 2, new Dictionary<string, int> { ["memory"] = 1 }, [rejection], false);

        var accepted = VmSpec.Given().When(Cmd.Create(start: false) with { Placement = placement }).ThenAccepted();

        accepted.Events.Select(e => e.GetType()).ShouldBe([typeof(VmCreated), typeof(VmPlaced), typeof(VmOperationRequested)]);
        var placed = accepted.Events.OfType<VmPlaced>().Single();
        placed.Purpose.ShouldBe("create");
        placed.Placement.ShouldBeSameAs(placement);
    }

    [Fact]
    public void creating_a_vm_that_should_start_asks_for_it_running()
    {
        VmSpec.Given()
            .When(Cmd.Create(start: true))
            .ThenEvents(
                new VmCreated(Fixed.VmId, Fixed.VmName, Fixed.Vcpus, Fixed.MemoryMiB, Fixed.HostId, Fixed.Now),
                new VmOperationRequested(
                    Fixed.VmId, CreateOperation, Fixed.CreateCommandId, OperationKind.Create, Force: false,
                    DesiredPowerState: PowerState.Running, Fixed.HostId, Fixed.Actor, RequestedAt: Fixed.Now,
                    Deadline: Fixed.Now + Fixed.Timeouts.Create, Sequence: 1));
    }

    [Fact]
    public void the_create_operation_id_follows_from_the_vm_and_the_command_id()
    {
        var accepted = VmSpec.Given().When(Cmd.Create()).ThenAccepted();

        accepted.OperationId.ShouldBe(VmDecider.OperationIdFor(Fixed.VmId, Fixed.CreateCommandId));
        accepted.Events.OfType<VmOperationRequested>().Single().OperationId.ShouldBe(accepted.OperationId!.Value);
    }

    [Fact]
    public void with_the_default_timeouts_a_create_has_two_minutes()
    {
        var accepted = VmSpec.Given().When(Cmd.Create(timeouts: OperationTimeouts.Default)).ThenAccepted();

        accepted.Events.OfType<VmOperationRequested>().Single().Deadline.ShouldBe(Fixed.Now + TimeSpan.FromMinutes(2));
    }

    [Fact]
    public void a_name_with_a_lone_surrogate_is_refused()
    {
        // Not in the theory data: xunit's serialization of test data would replace the lone surrogate.
        VmLimits.CheckName("web\uD8001").ShouldBe("name contains an invisible or invalid character (U+D800) at position 3");
        VmLimits.CheckName("web\U0001F600").ShouldBeNull("a character outside the BMP, as a proper pair, is fine");
    }

    public static TheoryData<string, int, int, string> InvalidSpecs => new()
    {
        { "", Fixed.Vcpus, Fixed.MemoryMiB, "name must not be empty" },
        { "   ", Fixed.Vcpus, Fixed.MemoryMiB, "name must not be empty" },
        { "\t \n", Fixed.Vcpus, Fixed.MemoryMiB, "name must not be empty" },
        { new string('a', 65), Fixed.Vcpus, Fixed.MemoryMiB, "name is 65 characters long; at most 64 are allowed" },
        { "web\u00071", Fixed.Vcpus, Fixed.MemoryMiB, "name contains a control character (U+0007) at position 3" },
        { "web-1\n", Fixed.Vcpus, Fixed.MemoryMiB, "name contains a control character (U+000A) at position 5" },
        { "\tweb", Fixed.Vcpus, Fixed.MemoryMiB, "name contains a control character (U+0009) at position 0" },
        { "we\u007Fb", Fixed.Vcpus, Fixed.MemoryMiB, "name contains a control character (U+007F) at position 2" },
        { "web\uFFFE1", Fixed.Vcpus, Fixed.MemoryMiB, "name contains an invisible or invalid character (U+FFFE) at position 3" },
        { "admin\u202Etxt", Fixed.Vcpus, Fixed.MemoryMiB, "name contains an invisible or invalid character (U+202E) at position 5" },
        { "web\u20281", Fixed.Vcpus, Fixed.MemoryMiB, "name contains an invisible or invalid character (U+2028) at position 3" },
        { " web-1", Fixed.Vcpus, Fixed.MemoryMiB, "name must not begin or end with whitespace" },
        { "web-1 ", Fixed.Vcpus, Fixed.MemoryMiB, "name must not begin or end with whitespace" },
        { "\u00A0web-1", Fixed.Vcpus, Fixed.MemoryMiB, "name must not begin or end with whitespace" },
        { Fixed.VmName, 0, Fixed.MemoryMiB, "vcpus must be between 1 and 240, got 0" },
        { Fixed.VmName, -4, Fixed.MemoryMiB, "vcpus must be between 1 and 240, got -4" },
        { Fixed.VmName, 241, Fixed.MemoryMiB, "vcpus must be between 1 and 240, got 241" },
        { Fixed.VmName, Fixed.Vcpus, 15, "memoryMiB must be between 16 and 4194304, got 15" },
        { Fixed.VmName, Fixed.Vcpus, 0, "memoryMiB must be between 16 and 4194304, got 0" },
        { Fixed.VmName, Fixed.Vcpus, VmLimits.MaxMemoryMiB + 1, "memoryMiB must be between 16 and 4194304, got 4194305" },
    };

    [Theory]
    [MemberData(nameof(InvalidSpecs))]
    public void an_invalid_spec_is_refused_with_a_message_naming_the_problem(string name, int vcpus, int memoryMiB, string problem)
    {
        var rejection = VmSpec.Given()
            .When(Cmd.Create(name: name, vcpus: vcpus, memoryMiB: memoryMiB))
            .ThenRejected(RejectionCode.Validation, containing: problem);

        rejection.Message.ShouldBe(problem);
        rejection.Command.ShouldBe("create");
    }

    [Fact]
    public void every_problem_with_a_spec_is_named_at_once()
    {
        VmSpec.Given()
            .When(Cmd.Create(name: "", vcpus: 0, memoryMiB: 15))
            .ThenRejected(RejectionCode.Validation)
            .Message.ShouldBe(
                "name must not be empty; vcpus must be between 1 and 240, got 0; memoryMiB must be between 16 and 4194304, got 15");
    }

    public static TheoryData<string, int, int> SpecsAtTheLimits => new()
    {
        { new string('a', 64), Fixed.Vcpus, Fixed.MemoryMiB },
        { "a", 1, 16 },
        { Fixed.VmName, 240, VmLimits.MaxMemoryMiB },
        { "web server 1", Fixed.Vcpus, Fixed.MemoryMiB },
        { "wéb-ñ-データ", Fixed.Vcpus, Fixed.MemoryMiB },
    };

    [Theory]
    [MemberData(nameof(SpecsAtTheLimits))]
    public void a_spec_at_the_limits_is_accepted_as_given(string name, int vcpus, int memoryMiB)
    {
        VmSpec.Given()
            .When(Cmd.Create(name: name, vcpus: vcpus, memoryMiB: memoryMiB))
            .ThenAccepted().Events[0]
            .ShouldBe(new VmCreated(Fixed.VmId, name, vcpus, memoryMiB, Fixed.HostId, Fixed.Now));
    }

    [Fact]
    public void a_name_with_markup_characters_is_kept_exactly_as_given()
    {
        const string name = "<evil & \"x\">";

        VmSpec.Given()
            .When(Cmd.Create(name: name))
            .ThenAccepted().Events.OfType<VmCreated>().Single().Name.ShouldBe(name);
    }

    [Fact]
    public void a_vm_without_a_host_is_refused_because_no_host_is_available()
    {
        VmSpec.Given()
            .When(Cmd.Create(hostId: Guid.Empty))
            .ThenRejected(RejectionCode.NoHostAvailable, containing: "no host")
            .Command.ShouldBe("create");
    }

    [Fact]
    public void repeating_a_create_while_it_is_pending_changes_nothing()
    {
        VmSpec.Given(Vm.BeingCreated())
            .When(Cmd.Create())
            .ThenNothingChanges(CreateOperation);
    }

    [Fact]
    public void repeating_a_create_after_it_finished_changes_nothing()
    {
        VmSpec.Given([.. Vm.IdleIn(PowerState.Running), Vm.Requested(OperationKind.Pause, "pause-1")])
            .When(Cmd.Create())
            .ThenNothingChanges(CreateOperation);
    }

    [Fact]
    public void repeating_a_create_after_the_vm_was_deleted_changes_nothing()
    {
        VmSpec.Given(Vm.Gone())
            .When(Cmd.Create())
            .ThenNothingChanges(CreateOperation);
    }

    [Fact]
    public void creating_a_vm_that_exists_under_another_command_id_is_a_conflict()
    {
        var rejection = VmSpec.Given(Vm.IdleIn(PowerState.Running))
            .When(Cmd.Create(commandId: "create-again", vmId: Fixed.VmId))
            .ThenRejected(RejectionCode.Conflict, containing: $"VM {Fixed.VmId} already exists");

        rejection.Command.ShouldBe("create");
        rejection.State.ShouldBe("RUNNING");
    }
}
