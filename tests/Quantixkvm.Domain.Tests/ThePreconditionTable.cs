using Quantixkvm.Domain.Tests.Support;
using Quantixkvm.Domain.Vms;

namespace Quantixkvm.Domain.Tests;

/// <summary>
/// Every row of <see cref="VmPreconditions.Table"/>, both ways: each allowed observed state is accepted, every other one
/// refused. The data comes from the table itself, so a new row (or a new power state) is covered without touching this.
/// </summary>
public class ThePreconditionTable
{
    private const string CommandId = "table-cmd";

    public static TheoryData<string, PowerState> AllowedCombinations
    {
        get
        {
            var data = new TheoryData<string, PowerState>();
            foreach (var (command, allowed) in VmPreconditions.Table)
            {
                foreach (var state in allowed)
                {
                    data.Add(command, state);
                }
            }

            return data;
        }
    }

    public static TheoryData<string, PowerState> RefusedCombinations
    {
        get
        {
            var data = new TheoryData<string, PowerState>();
            foreach (var (command, allowed) in VmPreconditions.Table)
            {
                foreach (var state in Enum.GetValues<PowerState>().Except(allowed))
                {
                    data.Add(command, state);
                }
            }

            return data;
        }
    }

    public static TheoryData<string> Commands => new(TableCommands.Names);

    [Theory]
    [MemberData(nameof(AllowedCombinations))]
    public void a_command_is_accepted_in_every_state_its_row_allows(string command, PowerState observed)
    {
        var row = TableCommands.For(command);
        var operationId = Fixed.OperationId(CommandId);

        var history = row.History(Vm.IdleIn(observed));

        VmSpec.Given(history)
            .When(row.Make(CommandId))
            .ThenEvents(
            [
                new VmOperationRequested(
                    Fixed.VmId, operationId, CommandId, row.Kind, row.Force, row.DesiredAfter, Fixed.HostId, Fixed.Actor,
                    RequestedAt: Fixed.Now, Deadline: Fixed.Now + row.Timeout, Sequence: history.OfType<VmOperationRequested>().Count() + 1),
                .. row.Expected(operationId, observed),
            ])
            .WithOperationId(operationId);
    }

    [Theory]
    [MemberData(nameof(RefusedCombinations))]
    public void a_command_is_refused_in_every_state_its_row_does_not_allow(string command, PowerState observed)
    {
        var row = TableCommands.For(command);
        var allowed = VmPreconditions.Table.Single(r => r.Command == command).AllowedFrom;
        var state = TableCommands.Upper(observed);

        var rejection = VmSpec.Given(row.History(Vm.IdleIn(observed)))
            .When(row.Make(CommandId))
            .ThenRejected(
                RejectionCode.InvalidState,
                containing: $"cannot {command} VM '{Fixed.VmName}' while it is {state}; allowed only when "
                            + string.Join(" or ", allowed.Select(TableCommands.Upper)));

        rejection.State.ShouldBe(state);
        rejection.Command.ShouldBe(command);
    }

    [Fact]
    public void the_theories_over_the_table_cover_every_row_and_every_power_state()
    {
        var states = Enum.GetValues<PowerState>().Length;

        VmPreconditions.Table.Count.ShouldBeGreaterThan(0);
        (AllowedCombinations.Count() + RefusedCombinations.Count()).ShouldBe(VmPreconditions.Table.Count * states);
    }

    [Fact]
    public void the_table_has_one_row_per_lifecycle_command()
    {
        TableCommands.Names.ShouldBeUnique();
        TableCommands.Names.ShouldBe(
            [
                "start", "stop", "stop --force", "reboot", "pause", "resume", "delete",
                "attach-disk", "detach-disk", "create-snapshot", "revert-snapshot", "delete-snapshot", "attach-nic", "detach-nic",
            ],
            ignoreOrder: true);
    }

    [Theory]
    [MemberData(nameof(Commands))]
    public void each_row_is_what_the_decider_looks_up_for_its_command(string command)
    {
        var row = TableCommands.For(command);

        VmPreconditions.CommandName(row.Kind, row.Force).ShouldBe(command);
        VmPreconditions.AllowedFrom(row.Kind, row.Force)
            .ShouldBe(VmPreconditions.Table.Single(r => r.Command == command).AllowedFrom);
    }

    [Fact]
    public void a_create_has_no_row_because_it_needs_no_vm()
    {
        Should.Throw<ArgumentOutOfRangeException>(() => VmPreconditions.AllowedFrom(OperationKind.Create, force: false));
    }

    [Theory]
    [MemberData(nameof(Commands))]
    public void every_command_on_a_vm_that_does_not_exist_is_not_found(string command)
    {
        var rejection = VmSpec.Given()
            .When(TableCommands.For(command).Make(CommandId))
            .ThenRejected(RejectionCode.NotFound, containing: "does not exist");

        rejection.State.ShouldBe("NONEXISTENT");
        rejection.Command.ShouldBe(command);
    }

    [Theory]
    [MemberData(nameof(Commands))]
    public void every_command_on_a_deleted_vm_is_not_found(string command)
    {
        var rejection = VmSpec.Given(Vm.Gone())
            .When(TableCommands.For(command).Make(CommandId))
            .ThenRejected(RejectionCode.NotFound, containing: $"VM {Fixed.VmId} was deleted");

        rejection.State.ShouldBe("DELETED");
        rejection.Command.ShouldBe(command);
    }
}
