using Quantixkvm.Contracts;
using Quantixkvm.ControlPlane.Tests.Support;

namespace Quantixkvm.ControlPlane.Tests;

/// <summary>A host's inventory against what the control plane believes: differences become drift events, sameness appends nothing.</summary>
public sealed class InventoryDriftTests(ControlPlaneFixture fixture) : IClassFixture<ControlPlaneFixture>
{
    private ControlPlaneApp App => fixture.App;

    private FakeAgent Agent => fixture.Agent;

    [Fact]
    public async Task a_running_vm_reported_stopped_is_recorded_as_observed_stopped_once()
    {
        var vmId = await RunningVmAsync("drifted");
        var before = await App.Events.StreamAsync(vmId);
        var inventory = new InventoryDomain(vmId, "drifted", DomainPowerState.Stopped, vmId);

        await App.Consumed.WaitAsync(await Agent.ReportInventoryAsync(inventory));

        var events = await App.Events.StreamAsync(vmId);
        events.Count.ShouldBe(before.Count + 1);
        var drift = events[^1];
        drift.Type.ShouldBe("vm.power-state-observed.v1");
        drift.Data["observedPowerState"]!.GetValue<string>().ShouldBe("Stopped");
        drift.Data["source"]!.GetValue<string>().ShouldBe("inventory");
        drift.UserName.ShouldBe($"agent:{Agent.HostId}");
        drift.ShouldMatchSchema();
        var vm = (await App.Api().VmAsync(vmId.ToString()))!;
        vm.Str("powerState").ShouldBe("STOPPED");
        vm.Str("desiredPowerState").ShouldBe("RUNNING", "drift changes what is observed, not what was asked");

        await App.Consumed.WaitAsync(await Agent.ReportInventoryAsync(inventory));

        (await App.Events.StreamAsync(vmId)).Count.ShouldBe(events.Count, "the same inventory again appends nothing");
    }

    [Fact]
    public async Task a_vm_missing_from_its_hosts_inventory_is_observed_unknown()
    {
        var vmId = await RunningVmAsync("vanished");

        await App.Consumed.WaitAsync(await Agent.ReportInventoryAsync(
            new InventoryDomain(Guid.NewGuid(), "not-ours", DomainPowerState.Running, VmId: null)));

        var events = await App.Events.StreamAsync(vmId);
        events[^1].Type.ShouldBe("vm.power-state-observed.v1");
        events[^1].Data["observedPowerState"]!.GetValue<string>().ShouldBe("Unknown");
        (await App.Api().VmAsync(vmId.ToString()))!.Str("powerState").ShouldBe("UNKNOWN");
    }

    [Fact]
    public async Task an_inventory_taken_while_an_operation_is_under_way_records_no_drift()
    {
        var vmId = await RunningVmAsync("busy");
        var stop = await App.Api().SendLifecycleAsync("stopVm", vmId.ToString());
        stop["errors"].ShouldBeNull(stop.ToJsonString());
        var before = await App.Events.StreamAsync(vmId);

        await App.Consumed.WaitAsync(await Agent.ReportInventoryAsync(new InventoryDomain(vmId, "busy", DomainPowerState.Stopped, vmId)));

        (await App.Events.StreamAsync(vmId)).Count.ShouldBe(before.Count, "the stop's own outcome will say what the host did");
        (await App.Api().VmAsync(vmId.ToString()))!.Str("powerState").ShouldBe("RUNNING");
    }

    /// <summary>A VM the host reported RUNNING when it created and started it.</summary>
    private async Task<Guid> RunningVmAsync(string name)
    {
        var api = App.Api();
        var created = await api.CreateVmAsync(name, start: true);
        var message = await Agent.NextOperationAsync(Guid.Parse(created.Str("operation.id")));
        await Agent.ReportFinishedAsync(message, succeeded: true, DomainPowerState.Running);
        await api.OperationEndsAsync(created.Str("operation.id"), "SUCCEEDED");
        (await api.VmAsync(created.Str("vm.id")))!.Str("powerState").ShouldBe("RUNNING");
        return Guid.Parse(created.Str("vm.id"));
    }
}
