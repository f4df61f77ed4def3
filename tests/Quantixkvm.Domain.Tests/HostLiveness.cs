using Quantixkvm.Domain.Hosts;
using Quantixkvm.Domain.Tests.Support;

namespace Quantixkvm.Domain.Tests;

/// <summary>What heartbeats imply: a host that stops sending them is unreachable; one that sends them again is back.</summary>
public class HostLiveness
{
    [Fact]
    public void an_online_host_without_heartbeats_becomes_unreachable()
    {
        HostSpec.Given(Host.Online())
            .When(Host.MarkUnreachable())
            .ThenEvents(new HostUnreachable(Fixed.HostId, Host.LastHeartbeat, 15, Fixed.Now))
            .WithOperationId(null);
    }

    [Fact]
    public void an_unreachable_host_is_described_as_such_and_keeps_its_facts()
    {
        var state = HostSpec.Given(Host.Online()).When(Host.MarkUnreachable()).ThenState();

        state.Status.ShouldBe(HostStatus.Unreachable);
        state.Describe().ShouldBe("UNREACHABLE");
        state.Facts.ShouldBe(Host.Facts);
    }

    [Fact]
    public void a_host_that_never_sent_a_heartbeat_can_be_unreachable()
    {
        HostSpec.Given(Host.Online())
            .When(new MarkHostUnreachable(Fixed.Context("liveness-1"), LastHeartbeatAt: null, 30))
            .ThenEvents(new HostUnreachable(Fixed.HostId, null, 30, Fixed.Now));
    }

    [Theory]
    [InlineData("unreachable")]
    [InlineData("being fenced")]
    [InlineData("fenced")]
    public void a_host_already_out_of_touch_is_not_marked_unreachable_again(string state)
    {
        HostSpec.Given(Host.In(state)).When(Host.MarkUnreachable()).ThenNothingChanges(null);
    }

    [Fact]
    public void a_host_in_maintenance_that_stops_sending_heartbeats_becomes_unreachable_and_stays_in_maintenance()
    {
        var state = HostSpec.Given(Host.InMaintenance())
            .When(Host.MarkUnreachable())
            .ThenEvents(new HostUnreachable(Fixed.HostId, Host.LastHeartbeat, 15, Fixed.Now))
            .ThenState();

        state.Status.ShouldBe(HostStatus.Unreachable);
        state.Maintenance.ShouldBe(MaintenanceState.InMaintenance);
    }

    [Fact]
    public void an_unreachable_host_whose_heartbeats_return_is_online_again_and_was_not_fenced()
    {
        var state = HostSpec.Given(Host.Unreachable())
            .When(Host.MarkRecovered())
            .ThenEvents(new HostRecovered(Fixed.HostId, WasFenced: false, Fixed.Now))
            .ThenState();

        state.Status.ShouldBe(HostStatus.Online);
        state.Describe().ShouldBe("ONLINE");
    }

    [Fact]
    public void a_fenced_host_that_comes_back_is_online_and_says_its_old_vms_may_run_elsewhere()
    {
        var state = HostSpec.Given(Host.Fenced())
            .When(Host.MarkRecovered())
            .ThenEvents(new HostRecovered(Fixed.HostId, WasFenced: true, Fixed.Now))
            .ThenState();

        state.Status.ShouldBe(HostStatus.Online);
        state.CurrentFenceId.ShouldBeNull();
    }

    [Fact]
    public void a_host_that_comes_back_while_it_is_being_fenced_ends_the_round()
    {
        var state = HostSpec.Given(Host.BeingFenced())
            .When(Host.MarkRecovered())
            .ThenEvents(new HostRecovered(Fixed.HostId, WasFenced: false, Fixed.Now))
            .ThenState();

        state.Status.ShouldBe(HostStatus.Online);
        state.CurrentFenceId.ShouldBeNull();
        state.Describe().ShouldBe("ONLINE");
    }

    [Theory]
    [InlineData("online")]
    [InlineData("entering maintenance")]
    [InlineData("in maintenance")]
    public void heartbeats_from_a_host_that_is_online_change_nothing(string state)
    {
        HostSpec.Given(Host.In(state)).When(Host.MarkRecovered()).ThenNothingChanges(null);
    }

    [Fact]
    public void a_host_can_become_unreachable_again_after_it_came_back()
    {
        HostSpec.Given([.. Host.Fenced(), new HostRecovered(Fixed.HostId, true, Fixed.Earlier)])
            .When(Host.MarkUnreachable())
            .ThenEvents(new HostUnreachable(Fixed.HostId, Host.LastHeartbeat, 15, Fixed.Now));
    }

    public static TheoryData<string> HostCommands => new()
    {
        "set-host-labels", "assign-host-to-cluster", "configure-fencing", "mark-unreachable", "start-fencing", "record-fence-attempt",
        "mark-recovered", "enter-maintenance", "complete-maintenance", "report-evacuation-incomplete", "exit-maintenance", "decommission-host",
    };

    /// <summary>Every host command but registration, with valid arguments.</summary>
    internal static HostCommand CommandNamed(string name)
    {
        var context = Fixed.Context(name + "-1");
        return name switch
        {
            "set-host-labels" => new SetHostLabels(context, new Dictionary<string, string> { ["rack"] = "r1" }),
            "assign-host-to-cluster" => new AssignHostToCluster(context, Cluster.Id),
            "configure-fencing" => new ConfigureFencing(context, HostFencing.Default),
            "mark-unreachable" => new MarkHostUnreachable(context, Host.LastHeartbeat, 15),
            "start-fencing" => new StartFencing(context, Host.SecondRound, ["agent"]),
            "record-fence-attempt" => new RecordFenceAttempt(context, Host.FirstRound, "agent", true, "off", LastFencer: true),
            "mark-recovered" => new MarkHostRecovered(context),
            "enter-maintenance" => new EnterMaintenance(context, AllowColdMigration: false),
            "complete-maintenance" => new CompleteMaintenance(context, VmsRemaining: 0),
            "report-evacuation-incomplete" => new ReportEvacuationIncomplete(context, [new StuckVm(Fixed.VmId, Fixed.VmName, "no host fits")]),
            "exit-maintenance" => new ExitMaintenance(context),
            "decommission-host" => new DecommissionHost(context, VmsRemaining: 0),
            _ => throw new ArgumentOutOfRangeException(nameof(name), name, "no such host command"),
        };
    }

    [Theory]
    [MemberData(nameof(HostCommands))]
    public void a_command_to_a_host_that_never_registered_is_not_found(string command)
    {
        HostSpec.Given().When(CommandNamed(command)).ThenRejected(RejectionCode.NotFound, containing: "the host is not registered");
    }
}
