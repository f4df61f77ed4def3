using Quantixkvm.Contracts;
using Quantixkvm.ControlPlane.Tests.Support;

namespace Quantixkvm.ControlPlane.Tests.Fleet;

/// <summary>Maintenance empties a host through placement and the hosts' agents, and says what it cannot move.</summary>
public sealed class MaintenanceTests(MaintenanceTests.Fixture fixture) : IClassFixture<MaintenanceTests.Fixture>
{
    public sealed class Fixture : FleetFixture
    {
        protected override IReadOnlyDictionary<string, string?> Settings => new Dictionary<string, string?>
        {
            ["ControlPlane:Fleet:MaintenanceScanSeconds"] = "0.5",
        };
    }

    private const string Enter = "mutation($id: ID!, $cold: Boolean) { enterMaintenance(hostId: $id, allowColdMigration: $cold) { id maintenance } }";

    [Fact]
    public async Task a_host_with_a_stopped_vm_enters_maintenance_once_the_vm_is_moved_cold_and_its_domain_released_on_the_old_host()
    {
        var api = fixture.App.Api();
        await using var source = await FakeAgent.StartOnlineAsync(fixture.App, configure: FleetApi.AnswerEverything);
        await using var target = await FakeAgent.StartOnlineAsync(fixture.App);
        await api.ClusterWithAsync(null, source, target);
        var vmId = await api.VmOnAsync(source, "idle", start: false);

        var entering = (await api.DataAsync(Enter, new { id = source.HostId.ToString() }))["enterMaintenance"]!;
        entering.Str("maintenance").ShouldBe("ENTERING");

        var recover = await target.NextOperationAsync(m => m.Domain.VmId == Guid.Parse(vmId), TimeSpan.FromSeconds(15));
        recover.Kind.ShouldBe(DomainOperationKind.Recover, "a stopped VM is defined on its new host, not live-migrated");
        recover.DesiredPowerState.ShouldBe(DomainPowerState.Stopped);
        recover.HostId.ShouldBe(target.HostId);
        await target.ReportFinishedAsync(recover, succeeded: true, DomainPowerState.Stopped);

        var host = await api.HostUntilAsync(source.HostId, h => h.Str("maintenance") == "IN_MAINTENANCE", "the emptied host to be IN_MAINTENANCE");
        host["stuckVms"]!.AsArray().ShouldBeEmpty();
        (await api.HostOfVmAsync(vmId)).ShouldBe(target.HostId.ToString());
        var migration = (await api.MigrationsAsync(vmId)).ShouldHaveSingleItem()!;
        migration.Str("mode").ShouldBe("COLD");
        migration.Str("status").ShouldBe("SUCCEEDED");
        migration.Str("actor").ShouldBe("system:maintenance");
        migration.Str("reason").ShouldContain("maintenance");
        var released = await Eventually.WaitAsync(
            () => Task.FromResult(source.Releases), r => r.Any(x => x.VmIds.Contains(Guid.Parse(vmId))), "ReleaseDomains for the moved VM on the old host");
        released.ShouldAllBe(r => r.HostId == source.HostId);
        target.Releases.ShouldBeEmpty("the new host keeps the VM");
        source.Received.ShouldNotContain(m => m.Domain.VmId == Guid.Parse(vmId) && m.Kind != DomainOperationKind.Create, "nothing runs on the old host");
    }

    [Fact]
    public async Task a_running_vm_on_a_host_that_cannot_live_migrate_keeps_it_entering_with_the_vm_named_as_stuck_until_maintenance_is_exited()
    {
        var api = fixture.App.Api();
        await using var source = await FakeAgent.StartOnlineAsync(fixture.App, configure: a =>
        {
            a.LiveMigration = false;
            FleetApi.AnswerEverything(a);
        });
        await using var target = await FakeAgent.StartOnlineAsync(fixture.App, configure: a => a.LiveMigration = false);
        await api.ClusterWithAsync(null, source, target);
        var vmId = await api.VmOnAsync(source, "busy", start: true);

        await api.DataAsync(Enter, new { id = source.HostId.ToString() });

        var host = await api.HostUntilAsync(source.HostId, h => h["stuckVms"]!.AsArray().Count > 0, "the evacuation to report a stuck VM");
        var stuck = host["stuckVms"]!.AsArray().ShouldHaveSingleItem()!;
        stuck.Str("vmId").ShouldBe(vmId);
        stuck.Str("vmName").ShouldBe("busy");
        stuck.Str("reason").ShouldContain("cannot live-migrate");
        stuck.Str("reason").ShouldContain("allowColdMigration");
        host.Str("maintenance").ShouldBe("ENTERING");
        await Task.Delay(TimeSpan.FromSeconds(1.5)); // three more scans
        (await api.HostAsync(source.HostId)).Str("maintenance").ShouldBe("ENTERING", "a host with a VM on it never counts as in maintenance");
        (await api.HostOfVmAsync(vmId)).ShouldBe(source.HostId.ToString());
        target.Received.ShouldBeEmpty("nothing was moved");
        (await api.MigrationsAsync(vmId)).ShouldBeEmpty();

        var exited = (await api.DataAsync("mutation($id: ID!) { exitMaintenance(hostId: $id) { maintenance stuckVms { vmId } } }", new { id = source.HostId.ToString() }))["exitMaintenance"]!;
        exited.Str("maintenance").ShouldBe("NONE");
        exited["stuckVms"]!.AsArray().ShouldBeEmpty();
        (await api.HistoryAsync("host", source.HostId.ToString())).ShouldContain("host.maintenance-exited.v1");
    }
}
