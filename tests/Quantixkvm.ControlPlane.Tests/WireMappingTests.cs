using Quantixkvm.Contracts;
using Quantixkvm.ControlPlane.Agents;
using Quantixkvm.Domain.Vms;

namespace Quantixkvm.ControlPlane.Tests;

/// <summary>Every domain value has a wire value and back, so a renamed member fails here, not on a host.</summary>
public sealed class WireMappingTests
{
    [Fact]
    public void every_operation_kind_has_its_wire_name()
    {
        foreach (var kind in Enum.GetValues<OperationKind>())
        {
            kind.ToWire().ToString().ShouldBe(kind.ToString());
        }

        Enum.GetValues<DomainOperationKind>().Length.ShouldBe(Enum.GetValues<OperationKind>().Length);
    }

    [Fact]
    public void every_power_state_goes_to_the_wire_and_back()
    {
        foreach (var state in Enum.GetValues<PowerState>())
        {
            state.ToWire().ToDomain().ShouldBe(state);
        }

        Enum.GetValues<DomainPowerState>().Length.ShouldBe(Enum.GetValues<PowerState>().Length);
    }

    [Fact]
    public void a_power_state_this_version_does_not_know_is_unknown()
    {
        ((DomainPowerState)99).ToDomain().ShouldBe(PowerState.Unknown);
    }
}
