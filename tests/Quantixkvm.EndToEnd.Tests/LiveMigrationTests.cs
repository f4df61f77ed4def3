using System.Diagnostics;
using System.Text.Json.Nodes;
using Quantixkvm.Libvirt;
using Quantixkvm.Testing;
using Xunit.Abstractions;

namespace Quantixkvm.EndToEnd.Tests;

/// <summary>
/// A VM migrated live between two real hosts through the GraphQL API: two QEMU session daemons, each with its own agent,
/// one control plane, PostgreSQL, RabbitMQ and Ceph; the guest (TCG) boots on A from an RBD clone and moves to B while it
/// runs. Each test boots one guest.
/// </summary>
[Collection(TwoHostGuestPlatformCollection.Name)]
public sealed class LiveMigrationTests(TwoHostGuestPlatform platform, ITestOutputHelper output)
{
    private static readonly TimeSpan Boot = TimeSpan.FromMinutes(2);
    private static readonly TimeSpan Move = TimeSpan.FromMinutes(3);

    [Fact]
    public async Task a_running_vm_migrates_live_to_the_other_host_through_the_api_and_its_guest_runs_on_there()
    {
        var api = platform.Api;
        var hosts = (await api.DataAsync("{ hosts { id name state liveMigration cluster { id } } }"))["hosts"]!.AsArray()
            .Where(h => h!["id"]!.GetValue<string>() is var id && (id == platform.HostIdA || id == platform.HostIdB)).ToList();
        hosts.Count.ShouldBe(2);
        hosts.ShouldAllBe(h => h!["state"]!.GetValue<string>() == "ONLINE" && h["liveMigration"]!.GetValue<bool>(),
            "both hosts run QEMU, which migrates live");
        hosts.ShouldAllBe(h => h!["cluster"]!["id"]!.GetValue<string>() == platform.ClusterId);

        var (vmId, console) = await BootVmOnAAsync("moving");

        await using var ws = await GraphQLSubscriptionClient.ConnectAsync(new Uri(platform.Endpoint, "graphql"));
        await ws.SubscribeAsync("migrations",
            "subscription { migrationUpdated { id vmId status fromHostId toHostId error progress { percent dataProcessedBytes dataTotalBytes } } }");
        await Task.Delay(500);

        var clock = Stopwatch.StartNew();
        var migrationId = (await api.DataAsync(
            "mutation($id: ID!, $target: ID!) { migrateVm(id: $id, targetHostId: $target, mode: LIVE) { operation { id kind } } }",
            new { id = vmId, target = platform.HostIdB }))["migrateVm"]!["operation"]!["id"]!.GetValue<string>();
        var updates = (await ws.ReadUntilAsync("migrations",
                d => d["migrationUpdated"]!["id"]!.GetValue<string>() == migrationId
                     && d["migrationUpdated"]!["status"]!.GetValue<string>() is "SUCCEEDED" or "FAILED",
                Move))
            .Select(d => d["migrationUpdated"]!).Where(m => m["id"]!.GetValue<string>() == migrationId).ToList();
        output.WriteLine($"migration {migrationId} ended after {clock.Elapsed.TotalSeconds:0.0} s; {updates.Count} updates:");
        foreach (var update in updates)
        {
            output.WriteLine(update.ToJsonString());
        }

        var last = updates[^1];
        last["status"]!.GetValue<string>().ShouldBe("SUCCEEDED", last.ToJsonString());
        updates.ShouldAllBe(u => u["vmId"]!.GetValue<string>() == vmId && u["fromHostId"]!.GetValue<string>() == platform.HostIdA
                                 && u["toHostId"]!.GetValue<string>() == platform.HostIdB);
        (await platform.OperationEndedAsync(migrationId, Move))["status"]!.GetValue<string>().ShouldBe("SUCCEEDED");

        // The control plane has the VM on B, running.
        var vm = await VmOnAsync(vmId, platform.HostIdB);
        vm["powerState"]!.GetValue<string>().ShouldBe("RUNNING");

        // libvirt agrees: the domain runs on B's daemon, and A's has no trace of it.
        var uuid = Guid.Parse(vmId);
        using (var there = platform.LibvirtB.FindDomain(uuid).ShouldNotBeNull("the domain is on B's daemon"))
        {
            there.GetState().State.ShouldBe(DomainState.Running);
            there.ListDisks().ShouldContain(d => d.SourceProtocol == "rbd", "the guest still runs from its RBD clone");
        }

        await Platform.WaitAsync(() => Task.FromResult(platform.LibvirtA.FindDomain(uuid) is null), TimeSpan.FromSeconds(30),
            "the domain to be gone from A's daemon", platform.AgentA);

        // The guest keeps running on B: a volume hot-plugged there through the API shows up on its console (QEMU on B
        // writes the same serial log).
        var dataName = $"data-{vmId[..8]}";
        platform.RemoveAfterwards(dataName);
        var (poolId, _) = await platform.TemplateAsync();
        var dataId = (await platform.StorageOperationSucceededAsync(
            "mutation($input: CreateVolumeInput!) { createVolume(input: $input) { operation { id } volume { id } } }",
            new { input = new { poolId, name = dataName, sizeBytes = 16L * 1024 * 1024 } }, "createVolume", Boot))["volume"]!["id"]!.GetValue<string>();
        await platform.VmOperationSucceededAsync("mutation($id: ID!, $disk: DiskInput!) { attachDisk(id: $id, disk: $disk) { operation { id } } }",
            new { id = vmId, disk = new { volumeId = dataId } }, "attachDisk", Boot);
        var dataSerial = Guid.Parse(dataId).ToString("N")[..20];
        await GuestImage.WaitForSerialLineAsync(console, l => l.StartsWith("QKVM-DISKS", StringComparison.Ordinal) && l.Contains(dataSerial), Boot, default);
        using (var there = platform.LibvirtB.FindDomain(uuid)!)
        {
            there.ListDisks().ShouldContain(d => d.SourceName == $"{platform.Ceph.Pool}/{dataName}", "B's agent attached the volume");
        }

        var history = await HistoryAsync(vmId);
        history.ShouldContain("vm.migration-requested.v1");
        history.ShouldContain("vm.migrated.v1");
        history.IndexOf("vm.migrated.v1").ShouldBeGreaterThan(history.IndexOf("vm.migration-requested.v1"));

        var migrations = await MigrationsAsync(vmId);
        migrations.Count.ShouldBe(1);
        migrations[0]["id"]!.GetValue<string>().ShouldBe(migrationId);
        migrations[0]["status"]!.GetValue<string>().ShouldBe("SUCCEEDED");
        migrations[0]["mode"]!.GetValue<string>().ShouldBe("LIVE");
        migrations[0]["fromHostId"]!.GetValue<string>().ShouldBe(platform.HostIdA);
        migrations[0]["toHostId"]!.GetValue<string>().ShouldBe(platform.HostIdB);
        migrations[0]["finishedAt"].ShouldNotBeNull();
    }

    [Fact]
    public async Task a_live_migration_that_fails_leaves_the_vm_running_on_its_source_and_the_next_one_succeeds()
    {
        var api = platform.Api;
        var (vmId, console) = await BootVmOnAAsync("retried");
        var uuid = Guid.Parse(vmId);

        // B's libvirt cannot be reached: A's agent cannot open the target, and the migration fails before anything moved.
        string failedId;
        using (platform.HideLibvirtB())
        {
            failedId = await MigrateAsync(vmId);
            var failed = await MigrationEndedAsync(failedId);
            output.WriteLine($"failed migration: {failed.ToJsonString()}");
            failed["status"]!.GetValue<string>().ShouldBe("FAILED");
            failed["error"]!.GetValue<string>().ShouldContain("target host's libvirt");
        }

        (await platform.OperationEndedAsync(failedId, Move))["status"]!.GetValue<string>().ShouldBe("FAILED");
        var vm = await VmOnAsync(vmId, platform.HostIdA);
        vm["powerState"]!.GetValue<string>().ShouldBe("RUNNING");
        vm["currentOperation"].ShouldBeNull("a failed migration blocks nothing");
        using (var here = platform.LibvirtA.FindDomain(uuid).ShouldNotBeNull())
        {
            here.GetState().State.ShouldBe(DomainState.Running);
        }

        platform.LibvirtB.FindDomain(uuid).ShouldBeNull("nothing reached B");
        (await HistoryAsync(vmId)).ShouldContain("vm.migration-failed.v1");

        // B is back: the next migration (mode omitted: live for a running VM) is accepted and succeeds.
        var clock = Stopwatch.StartNew();
        var succeededId = await MigrateAsync(vmId);
        var succeeded = await MigrationEndedAsync(succeededId);
        output.WriteLine($"second migration after {clock.Elapsed.TotalSeconds:0.0} s: {succeeded.ToJsonString()}");
        succeeded["status"]!.GetValue<string>().ShouldBe("SUCCEEDED", succeeded.ToJsonString());
        succeeded["mode"]!.GetValue<string>().ShouldBe("LIVE");
        (await VmOnAsync(vmId, platform.HostIdB))["powerState"]!.GetValue<string>().ShouldBe("RUNNING");
        using (var there = platform.LibvirtB.FindDomain(uuid).ShouldNotBeNull())
        {
            there.GetState().State.ShouldBe(DomainState.Running);
        }

        await Platform.WaitAsync(() => Task.FromResult(platform.LibvirtA.FindDomain(uuid) is null), TimeSpan.FromSeconds(30),
            "the domain to be gone from A's daemon", platform.AgentA);

        // Still the same guest, booted once: its console has one READY line, written on A before the moves.
        File.ReadLines(console).Count(l => l.Contains("QKVM-GUEST-READY", StringComparison.Ordinal)).ShouldBe(1, "the guest was not restarted");

        var migrations = await MigrationsAsync(vmId);
        migrations.Select(m => m["id"]!.GetValue<string>()).ShouldBe([succeededId, failedId], "newest first");
        migrations.Select(m => m["status"]!.GetValue<string>()).ShouldBe(["SUCCEEDED", "FAILED"]);
        migrations.ShouldAllBe(m => m["fromHostId"]!.GetValue<string>() == platform.HostIdA && m["toHostId"]!.GetValue<string>() == platform.HostIdB);
    }

    [Fact]
    public async Task a_slow_live_migration_reports_its_progress_and_a_cancel_leaves_the_guest_running_on_its_source()
    {
        var api = platform.Api;
        var (vmId, console) = await BootVmOnAAsync("cancelled");
        var uuid = Guid.Parse(vmId);

        // 1 MiB/s: the guest's memory takes minutes to copy, so the migration is surely still under way when it is cancelled.
        var migrationId = (await api.DataAsync(
            "mutation($id: ID!, $target: ID!) { migrateVm(id: $id, targetHostId: $target, bandwidthMiBs: 1) { operation { id } } }",
            new { id = vmId, target = platform.HostIdB }))["migrateVm"]!["operation"]!["id"]!.GetValue<string>();
        JsonNode? running = null;
        await Platform.WaitAsync(async () =>
        {
            running = (await api.DataAsync(
                "query($id: ID!) { migration(id: $id) { status progress { percent dataProcessedBytes dataTotalBytes } } }", new { id = migrationId }))["migration"];
            return running?["progress"]?["dataProcessedBytes"]?.GetValue<double>() > 0;
        }, Move, "the source to report the migration's progress", platform.AgentA);
        output.WriteLine($"under way: {running!.ToJsonString()}");
        running["status"]!.GetValue<string>().ShouldBe("RUNNING");
        running["progress"]!["percent"]!.GetValue<double>().ShouldBeLessThan(100);

        var cancel = (await api.DataAsync(
            "mutation($vmId: ID!) { cancelMigration(vmId: $vmId) { id cancelRequestedAt } }", new { vmId }))["cancelMigration"]!;
        cancel["id"]!.GetValue<string>().ShouldBe(migrationId);
        cancel["cancelRequestedAt"].ShouldNotBeNull();

        var ended = await MigrationEndedAsync(migrationId);
        output.WriteLine($"after the cancel: {ended.ToJsonString()}");
        ended["status"]!.GetValue<string>().ShouldBe("FAILED");
        ended["error"]!.GetValue<string>().ShouldContain("MIGRATION_CANCELLED");
        (await VmOnAsync(vmId, platform.HostIdA))["powerState"]!.GetValue<string>().ShouldBe("RUNNING");
        using (var here = platform.LibvirtA.FindDomain(uuid).ShouldNotBeNull())
        {
            here.GetState().State.ShouldBe(DomainState.Running);
        }

        platform.LibvirtB.FindDomain(uuid).ShouldBeNull("an aborted migration leaves nothing on the target");
        File.ReadLines(console).Count(l => l.Contains("QKVM-GUEST-READY", StringComparison.Ordinal)).ShouldBe(1, "the guest was not restarted");
    }

    /// <summary>Creates a VM on host A from an RBD linked clone of the guest image, started, and waits until its guest has booted.</summary>
    private async Task<(string VmId, string Console)> BootVmOnAAsync(string name)
    {
        var (_, templateId) = await platform.TemplateAsync();
        var created = (await platform.Api.DataAsync(
            "mutation($input: CreateVmFromTemplateInput!) { createVmFromTemplate(input: $input) { operation { id } vm { id } } }",
            new { input = new { templateId, name = $"{name}-{Guid.NewGuid():N}"[..20], hostId = platform.HostIdA, start = true } }))["createVmFromTemplate"]!;
        var vmId = created["vm"]!["id"]!.GetValue<string>();
        var rootName = (await platform.Api.DataAsync("query($id: ID!) { vm(id: $id) { disks { volume { name } } } }", new { id = vmId }))
            ["vm"]!["disks"]!.AsArray().Single()!["volume"]!["name"]!.GetValue<string>();
        platform.RemoveAfterwards(rootName);
        var operation = await platform.OperationEndedAsync(created["operation"]!["id"]!.GetValue<string>(), Boot);
        operation["status"]!.GetValue<string>().ShouldBe("SUCCEEDED", operation.ToJsonString());
        using (var domain = platform.LibvirtA.FindDomain(Guid.Parse(vmId)).ShouldNotBeNull("the VM was placed on A"))
        {
            domain.GetState().State.ShouldBe(DomainState.Running);
        }

        var console = platform.ConsoleLogOf(vmId);
        var clock = Stopwatch.StartNew();
        await GuestImage.WaitForSerialLineAsync(console, l => l.StartsWith("QKVM-GUEST-READY", StringComparison.Ordinal), Boot, default);
        output.WriteLine($"guest {vmId} booted on A in {clock.Elapsed.TotalSeconds:0.0} s");
        return (vmId, console);
    }

    private async Task<string> MigrateAsync(string vmId) =>
        (await platform.Api.DataAsync(
            "mutation($id: ID!, $target: ID!) { migrateVm(id: $id, targetHostId: $target) { operation { id } } }",
            new { id = vmId, target = platform.HostIdB }))["migrateVm"]!["operation"]!["id"]!.GetValue<string>();

    /// <summary>Polls the migration until it has ended and returns it.</summary>
    private async Task<JsonNode> MigrationEndedAsync(string migrationId)
    {
        JsonNode? migration = null;
        await Platform.WaitAsync(async () =>
        {
            migration = (await platform.Api.DataAsync(
                "query($id: ID!) { migration(id: $id) { id status mode error fromHostId toHostId finishedAt progress { percent } } }",
                new { id = migrationId }))["migration"];
            return migration?["status"]?.GetValue<string>() is "SUCCEEDED" or "FAILED";
        }, Move, $"migration {migrationId} to end", platform.AgentA);
        return migration!;
    }

    /// <summary>Waits until the control plane has the VM on the host, and returns the VM.</summary>
    private async Task<JsonNode> VmOnAsync(string vmId, string hostId)
    {
        JsonNode? vm = null;
        await Platform.WaitAsync(async () =>
        {
            vm = (await platform.Api.DataAsync(
                "query($id: ID!) { vm(id: $id) { id powerState host { id } currentOperation { id } } }", new { id = vmId }))["vm"];
            return vm?["host"]?["id"]?.GetValue<string>() == hostId && vm["currentOperation"] is null;
        }, TimeSpan.FromSeconds(30), $"VM {vmId} to be on host {hostId} with no operation under way", platform.ControlPlane);
        return vm!;
    }

    private async Task<List<string>> HistoryAsync(string vmId) =>
        (await platform.Api.DataAsync("query($id: ID!) { vm(id: $id) { history { type } } }", new { id = vmId }))["vm"]!["history"]!.AsArray()
        .Select(h => h!["type"]!.GetValue<string>()).ToList();

    private async Task<List<JsonNode>> MigrationsAsync(string vmId) =>
        (await platform.Api.DataAsync(
            "query($vmId: ID!) { migrations(vmId: $vmId) { id status mode fromHostId toHostId finishedAt } }", new { vmId }))["migrations"]!.AsArray()
        .Select(m => m!).ToList();
}
