using Quantixkvm.Contracts;
using Quantixkvm.ControlPlane.Tests.Support;

namespace Quantixkvm.ControlPlane.Tests.Fleet;

/// <summary>
/// The live migration saga between fake agents that can live-migrate: the Migrate operation goes to the source with its
/// target, progress is shown, and the source's outcome decides where the VM is.
/// </summary>
public sealed class LiveMigrationTests(LiveMigrationTests.Fixture fixture) : IClassFixture<LiveMigrationTests.Fixture>
{
    public sealed class Fixture : FleetFixture;

    private static void LiveHost(FakeAgent agent)
    {
        agent.LiveMigration = true;
        agent.LibvirtUri = "qemu:///system";
        agent.PeerLibvirtUri = $"qemu+tls://{agent.Name}.example/system";
        agent.MigrateAddress = $"{agent.Name}.migration.example";
        agent.CpuFeatures = ["sse4_2", "avx2"];
    }

    /// <summary>Two live-capable hosts in a cluster of their own, and a RUNNING VM on the first.</summary>
    private async Task<(FakeAgent Source, FakeAgent Target, string VmId)> RunningVmAsync(string name)
    {
        var api = fixture.App.Api();
        var source = await FakeAgent.StartOnlineAsync(fixture.App, configure: LiveHost);
        var target = await FakeAgent.StartOnlineAsync(fixture.App, configure: LiveHost);
        await api.ClusterWithAsync(null, source, target);
        source.AutoAnswer = m => m.Kind == DomainOperationKind.Create ? DomainAnswer.AsAsked(m) : null;
        var vmId = await api.VmOnAsync(source, name, start: true);
        return (source, target, vmId);
    }

    [Fact]
    public async Task a_live_migration_sends_migrate_to_the_source_with_its_target_shows_progress_and_moves_the_vm_when_the_source_succeeds()
    {
        var api = fixture.App.Api();
        var (source, target, vmId) = await RunningVmAsync("mover");
        await using var _ = source;
        await using var __ = target;
        (await api.HostAsync(source.HostId, "liveMigration cpuFeatures"))["liveMigration"]!.GetValue<bool>().ShouldBeTrue();

        var answer = await api.MigrateAsync(vmId, target.HostId);
        answer["errors"].ShouldBeNull(answer.ToJsonString());
        var operation = answer["data"]!["migrateVm"]!["operation"]!;
        operation.Str("kind").ShouldBe("MIGRATE");
        operation.Str("hostId").ShouldBe(source.HostId.ToString(), "a live migration runs on its source");
        var migrationId = operation.Str("id");

        var message = await source.NextOperationAsync(Guid.Parse(migrationId));
        message.Kind.ShouldBe(DomainOperationKind.Migrate);
        message.HostId.ShouldBe(source.HostId);
        message.Migration.ShouldNotBeNull();
        message.Migration.HostId.ShouldBe(target.HostId);
        message.Migration.LibvirtUri.ShouldBe(target.PeerLibvirtUri);
        message.Migration.MigrateAddress.ShouldBe(target.MigrateAddress);
        target.Received.ShouldBeEmpty("the target's agent is not asked anything");
        var running = (await api.VmHostAsync(vmId))["migration"]!;
        running.Str("id").ShouldBe(migrationId);
        running.Str("status").ShouldBe("RUNNING");
        running.Str("mode").ShouldBe("LIVE");
        running.Str("toHostId").ShouldBe(target.HostId.ToString());

        await using var ws = await TestServerSubscriptions.ConnectAsync(fixture.App);
        await ws.SubscribeAsync("mig", "subscription($id: ID) { migrationUpdated(id: $id) { id status progress { percent dataRemainingBytes } } }", new { id = migrationId });
        await Task.Delay(300); // the subscription is registered before the report is published
        await source.ReportStartedAsync(message);
        await fixture.App.Consumed.WaitAsync(await source.ReportProgressAsync(message, totalBytes: 4L << 30, processedBytes: 1L << 30, elapsedSeconds: 2));
        var progress = await Eventually.WaitAsync(
            async () => await api.MigrationAsync(migrationId), m => m?["progress"] is not null, "the migration's progress");
        progress!["progress"]!["percent"]!.GetValue<double>().ShouldBe(25);
        progress["progress"]!["dataRemainingBytes"]!.GetValue<double>().ShouldBe(3L << 30);
        progress["progress"]!["elapsedSeconds"]!.GetValue<double>().ShouldBe(2);
        await source.ReportProgressAsync(message, totalBytes: 4L << 30, processedBytes: 3L << 30, elapsedSeconds: 3);
        var pushed = await ws.ReadUntilAsync("mig", d => d["migrationUpdated"]?["progress"]?["percent"]?.GetValue<double>() == 75, TimeSpan.FromSeconds(10));
        pushed[^1]["migrationUpdated"]!.Str("id").ShouldBe(migrationId);

        await source.ReportFinishedAsync(message, succeeded: true, DomainPowerState.Running);

        var done = await api.MigrationEndsAsync(migrationId, "SUCCEEDED");
        done["error"].ShouldBeNull();
        done["finishedAt"].ShouldNotBeNull();
        var vm = await api.VmHostAsync(vmId);
        vm.Str("host.id").ShouldBe(target.HostId.ToString());
        vm.Str("powerState").ShouldBe("RUNNING");
        vm["migration"].ShouldBeNull();
        (await api.MigrationsAsync(vmId)).Select(m => m!.Str("status")).ShouldBe(["SUCCEEDED"]);
        await Eventually.WaitAsync(() => Task.FromResult(source.Releases.Any(r => r.VmIds.Contains(Guid.Parse(vmId)))), "ReleaseDomains on the source");
        target.Releases.ShouldBeEmpty();
    }

    [Fact]
    public async Task a_failed_live_migration_leaves_the_vm_on_its_source_records_the_error_and_does_not_block_the_next_one()
    {
        var api = fixture.App.Api();
        var (source, target, vmId) = await RunningVmAsync("stays");
        await using var _ = source;
        await using var __ = target;

        var first = (await api.MigrateAsync(vmId, target.HostId))["data"]!["migrateVm"]!.Str("operation.id");
        var message = await source.NextOperationAsync(Guid.Parse(first));
        await source.ReportFinishedAsync(message, succeeded: false, DomainPowerState.Running, "VIR_ERR_OPERATION_FAILED", "migration failed: connection refused");

        var failed = await api.MigrationEndsAsync(first, "FAILED");
        failed.Str("error").ShouldContain("VIR_ERR_OPERATION_FAILED");
        failed.Str("error").ShouldContain("connection refused");
        var vm = await api.VmHostAsync(vmId);
        vm.Str("host.id").ShouldBe(source.HostId.ToString());
        vm["migration"].ShouldBeNull();
        source.Releases.ShouldBeEmpty("the VM still lives on its source");

        var second = await api.MigrateAsync(vmId, target.HostId);
        second["errors"].ShouldBeNull(second.ToJsonString());
        var secondId = second["data"]!["migrateVm"]!.Str("operation.id");
        secondId.ShouldNotBe(first);
        (await source.NextOperationAsync(Guid.Parse(secondId))).Kind.ShouldBe(DomainOperationKind.Migrate);
        (await api.MigrationsAsync(vmId)).Select(m => m!.Str("status")).ShouldBe(["RUNNING", "FAILED"], "newest first");
    }

    [Fact]
    public async Task cancel_migration_sends_cancel_domain_operation_to_the_source_and_the_source_reporting_the_abort_fails_the_migration()
    {
        var api = fixture.App.Api();
        var (source, target, vmId) = await RunningVmAsync("cancelled");
        await using var _ = source;
        await using var __ = target;
        var (noneCode, _) = await api.ErrorAsync("mutation($vmId: ID!) { cancelMigration(vmId: $vmId) { id } }", new { vmId });
        noneCode.ShouldBe("INVALID_STATE", "nothing to cancel yet");

        var migrationId = (await api.MigrateAsync(vmId, target.HostId))["data"]!["migrateVm"]!.Str("operation.id");
        var message = await source.NextOperationAsync(Guid.Parse(migrationId));
        await source.ReportStartedAsync(message);

        var cancelled = (await api.DataAsync(
            $"mutation($vmId: ID!) {{ cancelMigration(vmId: $vmId) {{ {FleetApi.MigrationFields} }} }}", new { vmId }))["cancelMigration"]!;
        cancelled.Str("id").ShouldBe(migrationId);
        cancelled["cancelRequestedAt"].ShouldNotBeNull();

        var cancel = await Eventually.WaitAsync(
            () => Task.FromResult(source.Cancels.FirstOrDefault()), c => c is not null, "CancelDomainOperation on the source's queue");
        cancel!.OperationId.ShouldBe(Guid.Parse(migrationId));
        cancel.VmId.ShouldBe(Guid.Parse(vmId));
        cancel.HostId.ShouldBe(source.HostId);
        target.Cancels.ShouldBeEmpty();

        await source.ReportFinishedAsync(message, succeeded: false, DomainPowerState.Running, "VIR_ERR_OPERATION_ABORTED", "migration job: canceled by client");
        (await api.MigrationEndsAsync(migrationId, "FAILED")).Str("error").ShouldContain("canceled");
        (await api.HostOfVmAsync(vmId)).ShouldBe(source.HostId.ToString());
    }

    [Fact]
    public async Task a_live_migration_to_or_from_a_host_that_cannot_live_migrate_is_refused_naming_the_reason()
    {
        var api = fixture.App.Api();
        var (source, target, vmId) = await RunningVmAsync("pinned");
        await using var _ = source;
        await using var __ = target;
        await using var testDriver = await FakeAgent.StartOnlineAsync(fixture.App, configure: a => a.LiveMigration = false);
        await api.AssignAsync(testDriver.HostId, (await api.HostAsync(source.HostId)).Str("cluster.id"));

        var toTestDriver = await api.MigrateAsync(vmId, testDriver.HostId);
        var (code, error) = toTestDriver.Error();
        code.ShouldBe("NO_HOST_AVAILABLE");
        var rejection = FleetApi.RejectionOf(error["extensions"]!["rejections"]!, testDriver.HostId);
        rejection.Str("filter").ShouldBe("live-migration");
        rejection.Str("reason").ShouldContain("cannot receive a live migration");
        error.Str("message").ShouldContain("live-migration");
        (await api.MigrationsAsync(vmId)).ShouldBeEmpty();

        testDriver.AutoAnswer = DomainAnswer.AsAsked;
        var stuckId = await api.VmOnAsync(testDriver, "on-test-driver", start: true);
        var fromTestDriver = await api.MigrateAsync(stuckId, source.HostId, mode: "LIVE");
        var (fromCode, fromError) = fromTestDriver.Error();
        fromCode.ShouldBe("INVALID_STATE");
        fromError.Str("message").ShouldContain("cannot live-migrate");
        fromError.Str("message").ShouldContain(testDriver.Name);
        testDriver.Received.ShouldNotContain(m => m.Kind == DomainOperationKind.Migrate);
    }

    [Fact]
    public async Task a_vm_whose_volume_is_in_a_dir_pool_cannot_migrate_and_the_refusal_names_the_pool()
    {
        var api = fixture.App.Api();
        await using var source = await FakeAgent.StartOnlineAsync(fixture.App, configure: LiveHost);
        await using var target = await FakeAgent.StartOnlineAsync(fixture.App, configure: LiveHost);
        await api.ClusterWithAsync(null, source, target);
        source.AutoAnswer = DomainAnswer.AsAsked;
        var poolName = FleetApi.Unique("local");
        var poolId = await api.ReadyPoolAsync(source.HostId, poolName);
        var volumeId = await api.ReadyVolumeAsync(poolId, "root-disk");
        var created = (await api.DataAsync(StorageApi.CreateVm, new
        {
            input = new { name = "with-local-disk", vcpus = 1, memoryMiB = 256, hostId = source.HostId.ToString(), disks = new[] { new { volumeId } } },
        }))["createVm"]!;
        await api.OperationEndsAsync(created.Str("operation.id"), "SUCCEEDED");
        var vmId = created.Str("vm.id");

        var (code, error) = (await api.MigrateAsync(vmId, target.HostId)).Error();

        code.ShouldBe("INVALID_STATE");
        error.Str("message").ShouldContain($"dir pool '{poolName}'");
        error.Str("message").ShouldContain("root-disk");
        (await api.MigrationsAsync(vmId)).ShouldBeEmpty();
        target.Received.ShouldBeEmpty();
    }
}
