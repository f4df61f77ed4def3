using System.Diagnostics;
using System.Globalization;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using Quantixkvm.Contracts;
using Quantixkvm.ControlPlane.Tests.Support;

namespace Quantixkvm.ControlPlane.Tests;

/// <summary>No storage operation hangs forever either: past its deadline it ends TIMED_OUT and its pool or volume takes commands again.</summary>
public sealed class StorageDeadlineTests(StorageDeadlineTests.ShortDeadlines fixture) : IClassFixture<StorageDeadlineTests.ShortDeadlines>
{
    private const int TimeoutSeconds = 2;

    /// <summary>Two-second deadlines, scanned four times a second; the agent answers storage operations unless a test says otherwise.</summary>
    public sealed class ShortDeadlines : ControlPlaneFixture
    {
        protected override IReadOnlyDictionary<string, string?> Settings => new Dictionary<string, string?>
        {
            ["ControlPlane:OperationTimeoutSeconds"] = TimeoutSeconds.ToString(CultureInfo.InvariantCulture),
            ["ControlPlane:DeadlineScanSeconds"] = "0.25",
        };
    }

    private ControlPlaneApp App => fixture.App;

    private FakeAgent Agent => fixture.Agent;

    [Fact]
    public async Task a_volume_operation_no_agent_answers_times_out_and_the_volume_can_then_be_deleted()
    {
        var api = App.Api();
        var poolId = await api.ReadyPoolAsync(Agent.HostId, "deadline-pool");
        Agent.OnStorage(m => m.Volume?.Name == "never-made" && m.Kind == StorageOperationKind.CreateVolume, _ => null);

        var created = await api.CreateVolumeAsync(poolId, "never-made", 8L << 20);
        var operationId = created.Str("operation.id");
        var deadline = DateTimeOffset.Parse(created.Str("operation.deadline"), CultureInfo.InvariantCulture);
        (deadline - DateTimeOffset.Parse(created.Str("operation.startedAt"), CultureInfo.InvariantCulture)).ShouldBe(TimeSpan.FromSeconds(TimeoutSeconds));
        await Agent.StorageOperationAsync(Guid.Parse(operationId));

        var timedOut = await api.StorageOperationEndsAsync(operationId, "TIMED_OUT");

        timedOut.Str("error.code").ShouldBe("TIMED_OUT");
        timedOut.Str("error.message").ShouldContain("deadline");
        DateTimeOffset.Parse(timedOut.Str("finishedAt"), CultureInfo.InvariantCulture).ShouldBeGreaterThanOrEqualTo(deadline, "nothing times out before its deadline");
        var volumeId = created.Str("volume.id");
        var volume = (await api.VolumeAsync(volumeId))!;
        volume["currentOperation"].ShouldBeNull();
        volume.Str("lastError").ShouldContain("deadline");
        volume.Str("status").ShouldNotBe("READY");
        var last = (await App.Events.StreamAsync(Guid.Parse(volumeId)))[^1];
        last.Type.ShouldBe("storage.operation-timed-out.v1");
        last.UserName.ShouldBe("system:deadline-watcher");
        last.ShouldMatchSchema();

        var delete = await api.OnTargetOkAsync("deleteVolume", volumeId);
        await api.StorageOperationEndsAsync(delete.Str("operation.id"), "SUCCEEDED");
        (await api.VolumeAsync(volumeId)).ShouldBeNull();
    }

    [Fact]
    public async Task a_pool_operation_the_agent_started_but_never_finished_times_out_too()
    {
        var api = App.Api();
        var path = StorageApi.UniquePath("half-made");
        Agent.OnStorage(m => m.Pool.Path == path && m.Kind == StorageOperationKind.CreatePool, _ => null);
        var created = await api.CreatePoolAsync(StorageApi.DirPoolInput(Agent.HostId, "half-made", path));
        var message = await Agent.StorageOperationAsync(Guid.Parse(created.Str("operation.id")));
        await Agent.ReportStorageStartedAsync(message);

        var timedOut = await api.StorageOperationEndsAsync(created.Str("operation.id"), "TIMED_OUT");

        timedOut["acceptedByHostAt"].ShouldNotBeNull("it was RUNNING before its deadline");
        timedOut.Str("error.code").ShouldBe("TIMED_OUT");
        var pool = (await api.PoolAsync(created.Str("pool.id")))!;
        pool["currentOperation"].ShouldBeNull();
        pool.Str("lastError").ShouldContain("deadline");

        // A late "finished" is news the pool no longer waits for: the operation stays ended.
        await App.Consumed.WaitAsync(await Agent.ReportStorageFinishedAsync(message, Agent.DefaultAnswer(message)));
        (await api.StorageOperationAsync(created.Str("operation.id")))!.Str("status").ShouldBe("TIMED_OUT");

        var delete = await api.OnTargetOkAsync("deleteStoragePool", created.Str("pool.id"));
        await api.StorageOperationEndsAsync(delete.Str("operation.id"), "SUCCEEDED");
        (await api.PoolAsync(created.Str("pool.id"))).ShouldBeNull();
    }

    [Fact]
    public async Task an_attach_no_agent_answers_times_out_and_releases_its_volume()
    {
        var api = App.Api();
        var poolId = await api.ReadyPoolAsync(Agent.HostId, "attach-pool");
        var volumeId = await api.ReadyVolumeAsync(poolId, "never-plugged");
        var created = await api.CreateVmAsync("slow-plug", hostId: Agent.HostId, memoryMiB: 64);
        await Agent.FinishAsync(Guid.Parse(created.Str("operation.id")), succeeded: true, DomainPowerState.Stopped);
        await api.OperationEndsAsync(created.Str("operation.id"), "SUCCEEDED");

        var attach = await api.VmMutationAsync(StorageApi.AttachDisk, "attachDisk", new { id = created.Str("vm.id"), disk = new { volumeId } });
        (await api.VolumeAsync(volumeId))!.Str("attachment").ShouldBe("ATTACHING");

        await api.OperationEndsAsync(attach.Str("operation.id"), "TIMED_OUT");
        (await api.VmWithStorageAsync(created.Str("vm.id")))!.Arr("disks").ShouldBeEmpty();
        var volume = (await api.VolumeAsync(volumeId))!;
        volume["attachedTo"].ShouldBeNull();
        volume["attachment"].ShouldBeNull();
        var released = (await App.Events.StreamAsync(Guid.Parse(created.Str("vm.id"))))[^1];
        released.Type.ShouldBe("vm.disk-detached.v1");
        released.Data["reason"]!.GetValue<string>().ShouldContain("timed out");
    }

    [Fact]
    public async Task a_vm_from_a_template_whose_boot_clone_times_out_is_refused_instead_of_waiting_forever()
    {
        var api = App.Api();
        var poolId = await api.ReadyPoolAsync(Agent.HostId, "template-pool");
        var imageId = await api.ReadyImageAsync(poolId, "slow-image");
        var templateId = (await api.DataAsync(StorageApi.CreateTemplate, new { input = new { name = "slow", vcpus = 1, memoryMiB = 64, imageId } }))
            .Str("createTemplate.id");
        Agent.OnStorage(m => m.Volume?.Name == "stalled-boot", _ => null);
        var clock = Stopwatch.StartNew();
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(TimeoutSeconds * 5));

        JsonNode answer;
        try
        {
            using var response = await api.Http.PostAsJsonAsync("graphql",
                new { query = StorageApi.CreateVmFromTemplate, variables = new { input = new { templateId, name = "stalled" } } }, cts.Token);
            answer = JsonNode.Parse(await response.Content.ReadAsStringAsync(cts.Token))!;
        }
        catch (OperationCanceledException)
        {
            throw new ShouldAssertException($"createVmFromTemplate did not answer within {clock.Elapsed} although its clone's deadline was {TimeoutSeconds} s");
        }

        answer.Error().Code.ShouldBe("INVALID_STATE");
        answer.Error().Error.Str("message").ShouldContain("boot volume");
    }
}
