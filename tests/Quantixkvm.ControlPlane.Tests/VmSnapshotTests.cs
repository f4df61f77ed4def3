using Quantixkvm.Contracts;
using Quantixkvm.ControlPlane.Tests.Support;

namespace Quantixkvm.ControlPlane.Tests;

/// <summary>VM snapshots: with memory while the guest runs, disk-only when stopped, kept as a tree with a current snapshot.</summary>
public sealed class VmSnapshotTests(ControlPlaneFixture fixture) : IClassFixture<ControlPlaneFixture>
{
    public const string CreateSnapshot =
        $"mutation($id: ID!, $name: String!, $description: String) {{ createVmSnapshot(id: $id, name: $name, description: $description) {{ {StorageApi.VmPayload} }} }}";

    public const string RevertSnapshot = $"mutation($id: ID!, $name: String!) {{ revertVmSnapshot(id: $id, name: $name) {{ {StorageApi.VmPayload} }} }}";

    public const string DeleteSnapshot = $"mutation($id: ID!, $name: String!) {{ deleteVmSnapshot(id: $id, name: $name) {{ {StorageApi.VmPayload} }} }}";

    private ControlPlaneApp App => fixture.App;

    private FakeAgent Agent => fixture.Agent;

    [Fact]
    public async Task a_snapshot_of_a_running_vm_is_taken_with_its_memory()
    {
        var api = App.Api();
        var vmId = await VmAsync("warm", running: true);

        var taken = await api.VmMutationAsync(CreateSnapshot, "createVmSnapshot", new { id = vmId, name = "before-patch", description = "kernel 6.1 → 6.6" });

        taken.Str("operation.kind").ShouldBe("CREATE_SNAPSHOT");
        taken.Arr("vm.snapshots").ShouldBeEmpty("the snapshot exists once the host has taken it");
        var message = await Agent.FinishAsync(Guid.Parse(taken.Str("operation.id")), succeeded: true, DomainPowerState.Running);
        message.Kind.ShouldBe(DomainOperationKind.CreateSnapshot);
        message.Snapshot.ShouldBe(new SnapshotSpecification("before-patch", "kernel 6.1 → 6.6", WithMemory: true));
        await api.OperationEndsAsync(taken.Str("operation.id"), "SUCCEEDED");

        var vm = (await api.VmWithStorageAsync(vmId))!;
        var snapshot = vm.Arr("snapshots").Single()!;
        snapshot.Str("name").ShouldBe("before-patch");
        snapshot.Str("description").ShouldBe("kernel 6.1 → 6.6");
        snapshot["withMemory"]!.GetValue<bool>().ShouldBeTrue();
        snapshot.Str("powerState").ShouldBe("RUNNING");
        snapshot["parent"].ShouldBeNull();
        vm.Str("currentSnapshot").ShouldBe("before-patch");
    }

    [Fact]
    public async Task a_snapshot_of_a_stopped_vm_holds_its_disks_only()
    {
        var api = App.Api();
        var vmId = await VmAsync("cold", running: false);

        var taken = await api.VmMutationAsync(CreateSnapshot, "createVmSnapshot", new { id = vmId, name = "cold-1" });
        var message = await Agent.FinishAsync(Guid.Parse(taken.Str("operation.id")), succeeded: true, DomainPowerState.Stopped);
        await api.OperationEndsAsync(taken.Str("operation.id"), "SUCCEEDED");

        message.Snapshot!.WithMemory.ShouldBeFalse();
        var snapshot = (await api.VmWithStorageAsync(vmId))!.Arr("snapshots").Single()!;
        snapshot["withMemory"]!.GetValue<bool>().ShouldBeFalse();
        snapshot.Str("powerState").ShouldBe("STOPPED");
        snapshot.Str("description").ShouldBe("");
    }

    [Fact]
    public async Task snapshots_form_a_tree_that_follows_reverts_and_deletes()
    {
        var api = App.Api();
        var vmId = await VmAsync("tree", running: false);
        await DoneAsync(vmId, CreateSnapshot, "createVmSnapshot", "s1");
        await DoneAsync(vmId, CreateSnapshot, "createVmSnapshot", "s2");

        var vm = (await api.VmWithStorageAsync(vmId))!;
        Parents(vm).ShouldBe(new Dictionary<string, string?> { ["s1"] = null, ["s2"] = "s1" });
        vm.Str("currentSnapshot").ShouldBe("s2");

        var revert = await DoneAsync(vmId, RevertSnapshot, "revertVmSnapshot", "s1");
        revert.Kind.ShouldBe(DomainOperationKind.RevertSnapshot);
        revert.Snapshot!.Name.ShouldBe("s1");
        (await api.VmWithStorageAsync(vmId))!.Str("currentSnapshot").ShouldBe("s1");

        await DoneAsync(vmId, CreateSnapshot, "createVmSnapshot", "s3");
        vm = (await api.VmWithStorageAsync(vmId))!;
        Parents(vm).ShouldBe(new Dictionary<string, string?> { ["s1"] = null, ["s2"] = "s1", ["s3"] = "s1" }, "s3 descends from the reverted-to s1");
        vm.Str("currentSnapshot").ShouldBe("s3");

        var delete = await DoneAsync(vmId, DeleteSnapshot, "deleteVmSnapshot", "s1");
        delete.Kind.ShouldBe(DomainOperationKind.DeleteSnapshot);
        delete.Snapshot!.Name.ShouldBe("s1");
        vm = (await api.VmWithStorageAsync(vmId))!;
        Parents(vm).ShouldBe(new Dictionary<string, string?> { ["s2"] = null, ["s3"] = null }, "the deleted snapshot's children move up to its parent");
        vm.Str("currentSnapshot").ShouldBe("s3");

        await DoneAsync(vmId, DeleteSnapshot, "deleteVmSnapshot", "s3");
        vm = (await api.VmWithStorageAsync(vmId))!;
        vm["currentSnapshot"].ShouldBeNull("the current snapshot moves up to the deleted one's parent (none)");
        vm.Arr("snapshots").Names().ShouldBe(["s2"]);
    }

    [Theory]
    [InlineData("revertVmSnapshot")]
    [InlineData("deleteVmSnapshot")]
    public async Task a_snapshot_the_vm_does_not_have_is_not_found(string mutation)
    {
        var vmId = await VmAsync($"no-{mutation}", running: false);

        var (code, error) = (await App.Api().SendAsync(mutation == "revertVmSnapshot" ? RevertSnapshot : DeleteSnapshot, new { id = vmId, name = "ghost" })).Error();

        code.ShouldBe("NOT_FOUND");
        error.Str("message").ShouldContain("'ghost'");
    }

    [Theory]
    [InlineData("../escape")]
    [InlineData("with space")]
    [InlineData("-flag")]
    [InlineData("")]
    public async Task a_snapshot_name_outside_the_resource_name_rules_is_refused_as_validation(string name)
    {
        var vmId = await VmAsync($"badly-named-{Guid.NewGuid():N}"[..20], running: false);
        var before = (await App.Events.StreamAsync(Guid.Parse(vmId))).Count;

        var (code, _) = (await App.Api().SendAsync(CreateSnapshot, new { id = vmId, name })).Error();

        code.ShouldBe("VALIDATION");
        (await App.Events.StreamAsync(Guid.Parse(vmId))).Count.ShouldBe(before);
    }

    [Fact]
    public async Task a_second_snapshot_with_the_same_name_is_refused_as_already_existing()
    {
        var vmId = await VmAsync("twice", running: false);
        await DoneAsync(vmId, CreateSnapshot, "createVmSnapshot", "only-one");

        var (code, _) = (await App.Api().SendAsync(CreateSnapshot, new { id = vmId, name = "only-one" })).Error();

        code.ShouldBe("ALREADY_EXISTS");
    }

    [Fact]
    public async Task a_snapshot_its_host_fails_to_take_is_not_recorded()
    {
        var api = App.Api();
        var vmId = await VmAsync("unsnappable", running: true);
        var taken = await api.VmMutationAsync(CreateSnapshot, "createVmSnapshot", new { id = vmId, name = "never" });

        await Agent.FinishAsync(Guid.Parse(taken.Str("operation.id")), succeeded: false, DomainPowerState.Running,
            "VIR_ERR_OPERATION_INVALID", "cannot create snapshot with memory on a raw disk");
        await api.OperationEndsAsync(taken.Str("operation.id"), "FAILED");

        var vm = (await api.VmWithStorageAsync(vmId))!;
        vm.Arr("snapshots").ShouldBeEmpty();
        vm["currentSnapshot"].ShouldBeNull();
        await DoneAsync(vmId, CreateSnapshot, "createVmSnapshot", "never");
        (await api.VmWithStorageAsync(vmId))!.Arr("snapshots").Names().ShouldBe(["never"], "the name is free again");
    }

    private static Dictionary<string, string?> Parents(System.Text.Json.Nodes.JsonNode vm) =>
        vm.Arr("snapshots").ToDictionary(s => s!.Str("name"), s => s!["parent"]?.GetValue<string>());

    /// <summary>A snapshot command the host carries out (keeping the VM's power state); returns the message it got.</summary>
    private async Task<RunDomainOperation> DoneAsync(string vmId, string mutation, string field, string name)
    {
        var api = App.Api();
        var payload = await api.VmMutationAsync(mutation, field, new { id = vmId, name });
        var state = payload.Str("vm.powerState") == "RUNNING" ? DomainPowerState.Running : DomainPowerState.Stopped;
        var message = await Agent.FinishAsync(Guid.Parse(payload.Str("operation.id")), succeeded: true, state);
        await api.OperationEndsAsync(payload.Str("operation.id"), "SUCCEEDED");
        return message;
    }

    private async Task<string> VmAsync(string name, bool running)
    {
        var api = App.Api();
        var created = await api.CreateVmAsync(name, start: running, memoryMiB: 64);
        await Agent.FinishAsync(Guid.Parse(created.Str("operation.id")), succeeded: true, running ? DomainPowerState.Running : DomainPowerState.Stopped);
        await api.OperationEndsAsync(created.Str("operation.id"), "SUCCEEDED");
        return created.Str("vm.id");
    }
}
