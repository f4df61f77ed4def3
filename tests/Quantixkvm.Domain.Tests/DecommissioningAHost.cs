using Quantixkvm.Domain.Hosts;
using Quantixkvm.Domain.Tests.Support;

namespace Quantixkvm.Domain.Tests;

/// <summary>A host leaves the fleet for good once it is empty and in maintenance (or fenced); after that it refuses commands.</summary>
public class DecommissioningAHost
{
    private static DecommissionHost Decommission(int vmsRemaining = 0) => new(Fixed.Context("decommission-1"), vmsRemaining);

    [Fact]
    public void an_empty_host_in_maintenance_is_decommissioned()
    {
        var state = HostSpec.Given(Host.InMaintenance())
            .When(Decommission())
            .ThenEvents(new HostDecommissioned(Fixed.HostId, Fixed.Actor, Fixed.Now))
            .WithOperationId(null)
            .ThenState();

        state.Status.ShouldBe(HostStatus.Decommissioned);
        state.Describe().ShouldBe("DECOMMISSIONED");
    }

    [Fact]
    public void an_empty_fenced_host_is_decommissioned()
    {
        HostSpec.Given(Host.Fenced())
            .When(Decommission())
            .ThenEvents(new HostDecommissioned(Fixed.HostId, Fixed.Actor, Fixed.Now))
            .ThenState().Describe().ShouldBe("DECOMMISSIONED");
    }

    [Theory]
    [InlineData("online", "ONLINE")]
    [InlineData("entering maintenance", "ENTERING_MAINTENANCE")]
    [InlineData("unreachable", "UNREACHABLE")]
    [InlineData("being fenced", "FENCING")]
    public void a_host_neither_in_maintenance_nor_fenced_is_not_decommissioned(string history, string described)
    {
        var rejection = HostSpec.Given(Host.In(history))
            .When(Decommission())
            .ThenRejected(RejectionCode.InvalidState, containing: $"host 'kvm-01' is {described}: put it in maintenance first (or it must be fenced)");

        rejection.Command.ShouldBe("decommission-host");
        rejection.State.ShouldBe(described);
    }

    [Theory]
    [InlineData("in maintenance")]
    [InlineData("fenced")]
    public void a_host_that_still_holds_vms_is_not_decommissioned(string history)
    {
        HostSpec.Given(Host.In(history))
            .When(Decommission(vmsRemaining: 3))
            .ThenRejected(RejectionCode.InvalidState, containing: "host 'kvm-01' still holds 3 VMs; move or delete them first");
    }

    [Theory]
    [MemberData(nameof(HostLiveness.HostCommands), MemberType = typeof(HostLiveness))]
    public void a_decommissioned_host_refuses_commands(string command)
    {
        var rejection = HostSpec.Given(Host.Decommissioned())
            .When(HostLiveness.CommandNamed(command))
            .ThenRejected(RejectionCode.InvalidState, containing: "host 'kvm-01' is decommissioned");

        rejection.State.ShouldBe("DECOMMISSIONED");
    }

    [Fact]
    public void a_decommissioned_host_whose_agent_registers_again_stays_decommissioned()
    {
        var upgraded = Host.Facts with { AgentVersion = "1.5.0" };

        HostSpec.Given(Host.Decommissioned()).When(Host.Register()).ThenNothingChanges(null);
        HostSpec.Given(Host.Decommissioned()).When(Host.Register(upgraded)).ThenState().Status.ShouldBe(HostStatus.Decommissioned);
    }
}
