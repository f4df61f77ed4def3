using Microsoft.Extensions.DependencyInjection;
using Quantixkvm.Contracts;
using Quantixkvm.ControlPlane.Dispatch;
using Quantixkvm.ControlPlane.Tests.Support;
using Quantixkvm.Domain.Storage;
using StorageOperationKind = Quantixkvm.Contracts.StorageOperationKind;

namespace Quantixkvm.ControlPlane.Tests;

/// <summary>Storage pools through the API: defined by the host's agent, refused when their input is bad, deleted only when empty.</summary>
public sealed class StoragePoolTests(ControlPlaneFixture fixture) : IClassFixture<ControlPlaneFixture>
{
    private ControlPlaneApp App => fixture.App;

    private FakeAgent Agent => fixture.Agent;

    [Fact]
    public async Task a_hosts_inventory_updates_a_pools_capacity_and_the_same_reading_again_appends_nothing()
    {
        var api = App.Api();
        var poolId = await api.ReadyPoolAsync(Agent.HostId, "inventoried");
        var before = await App.Events.StreamAsync(Guid.Parse(poolId));
        var reading = new InventoryPool(Guid.Parse(poolId), 500L << 30, 123L << 30, 377L << 30);

        await App.Consumed.WaitAsync(await Agent.ReportInventoryAsync([], [reading]));

        var pool = (await api.PoolAsync(poolId))!;
        pool.Long("capacityBytes").ShouldBe(500L << 30);
        pool.Long("allocationBytes").ShouldBe(123L << 30);
        pool.Long("availableBytes").ShouldBe(377L << 30);
        var events = await App.Events.StreamAsync(Guid.Parse(poolId));
        events.Count.ShouldBe(before.Count + 1);
        events[^1].Type.ShouldBe("storage-pool.capacity-observed.v1");

        await App.Consumed.WaitAsync(await Agent.ReportInventoryAsync([], [reading]));
        (await App.Events.StreamAsync(Guid.Parse(poolId))).Count.ShouldBe(events.Count, "an unchanged reading is not news");
    }

    [Fact]
    public async Task a_dir_pool_on_a_registered_host_becomes_ready_with_the_capacity_its_agent_reported()
    {
        var correlation = Guid.NewGuid();
        var api = App.Api(correlation);
        var path = StorageApi.UniquePath("ready");
        var commandId = $"pool-{Guid.NewGuid():N}";
        Agent.OnStorage(m => m.Pool.Path == path, _ => new StorageAnswer(CapacityBytes: 107_374_182_400, AllocationBytes: 5_368_709_120, AvailableBytes: 102_005_473_280));

        var created = await api.CreatePoolAsync(StorageApi.DirPoolInput(Agent.HostId, "ready", path, commandId));

        created.Str("operation.kind").ShouldBe("CREATE_POOL");
        created.Str("operation.status").ShouldBe("PENDING");
        created.Str("operation.commandId").ShouldBe(commandId);
        created.Str("pool.status").ShouldBe("CREATING");
        created.Str("pool.kind").ShouldBe("DIR");
        created.Str("pool.hostId").ShouldBe(Agent.HostId.ToString());
        var poolId = Guid.Parse(created.Str("pool.id"));
        created.Str("operation.targetId").ShouldBe(poolId.ToString());

        var succeeded = await api.StorageOperationEndsAsync(created.Str("operation.id"), "SUCCEEDED");
        succeeded["error"].ShouldBeNull();
        succeeded["finishedAt"].ShouldNotBeNull();
        succeeded["acceptedByHostAt"].ShouldNotBeNull("the agent reported it started");
        var pool = (await api.PoolAsync(poolId.ToString()))!;
        pool.Str("status").ShouldBe("READY");
        pool.Long("capacityBytes").ShouldBe(107_374_182_400);
        pool.Long("allocationBytes").ShouldBe(5_368_709_120);
        pool.Long("availableBytes").ShouldBe(102_005_473_280);
        pool.Str("path").ShouldBe(path);
        pool["currentOperation"].ShouldBeNull();
        (await api.PoolsAsync()).ShouldContain(p => p!["id"]!.GetValue<string>() == poolId.ToString());

        var message = await Agent.StorageOperationAsync(Guid.Parse(created.Str("operation.id")));
        message.Kind.ShouldBe(StorageOperationKind.CreatePool);
        message.HostId.ShouldBe(Agent.HostId);
        message.TargetId.ShouldBe(poolId);
        message.CommandId.ShouldBe(commandId);
        message.CorrelationId.ShouldBe(correlation);
        message.Pool.ShouldBe(new StoragePoolSpecification(poolId, $"qkvm-pool-{poolId:N}", "dir", path, null, null, null));
        message.Volume.ShouldBeNull();
        message.Deadline.ShouldBe(DateTimeOffset.Parse(created.Str("operation.deadline"), System.Globalization.CultureInfo.InvariantCulture));
    }

    [Fact]
    public async Task a_repeated_create_with_the_same_command_id_returns_the_same_operation_and_sends_it_once()
    {
        var api = App.Api();
        var input = StorageApi.DirPoolInput(Agent.HostId, "repeated", StorageApi.UniquePath("repeated"), $"pool-{Guid.NewGuid():N}");
        var first = await api.CreatePoolAsync(input);
        await api.StorageOperationEndsAsync(first.Str("operation.id"), "SUCCEEDED");

        var second = await api.CreatePoolAsync(input);

        second.Str("operation.id").ShouldBe(first.Str("operation.id"));
        second.Str("pool.id").ShouldBe(first.Str("pool.id"));
        second.Str("operation.status").ShouldBe("SUCCEEDED");
        (await App.Events.StreamAsync(Guid.Parse(first.Str("pool.id")))).Count(e => e.Type == "storage.operation-requested.v1").ShouldBe(1);
        Agent.StorageReceived.Count(m => m.OperationId == Guid.Parse(first.Str("operation.id"))).ShouldBe(1);
    }

    [Fact]
    public async Task a_pool_on_a_host_that_is_not_registered_is_refused_as_not_found()
    {
        var unknown = Guid.NewGuid();

        var (code, error) = await App.Api().ErrorAsync(StorageApi.CreatePool,
            new { input = StorageApi.DirPoolInput(unknown, "nowhere", StorageApi.UniquePath("nowhere")) });

        code.ShouldBe("NOT_FOUND");
        error.Str("message").ShouldContain(unknown.ToString());
        (await App.Api().PoolsAsync()).Names().ShouldNotContain("nowhere");
    }

    [Theory]
    [InlineData("relative/x")]
    [InlineData("/a/../b")]
    [InlineData("/a//b")]
    [InlineData("/")]
    public async Task a_pool_folder_that_is_not_a_plain_absolute_path_is_refused_as_validation(string path)
    {
        var name = $"bad-path-{Guid.NewGuid():N}"[..20];

        var (code, error) = await App.Api().ErrorAsync(StorageApi.CreatePool, new { input = StorageApi.DirPoolInput(Agent.HostId, name, path) });

        code.ShouldBe("VALIDATION");
        error.Str("message").ShouldContain($"'{path}'");
        (await App.Api().PoolsAsync()).Names().ShouldNotContain(name);
        Agent.StorageReceived.ShouldNotContain(m => m.Pool.Path == path, "nothing reaches the host");
    }

    [Fact]
    public async Task a_dir_pool_without_a_host_is_refused_as_validation()
    {
        var (code, error) = await App.Api().ErrorAsync(StorageApi.CreatePool,
            new { input = new { name = "hostless", kind = "DIR", path = StorageApi.UniquePath("hostless") } });

        code.ShouldBe("VALIDATION");
        error.Str("message").ShouldContain("hostId");
    }

    [Fact]
    public async Task a_pool_is_not_deleted_while_it_holds_a_volume_and_is_deleted_once_empty()
    {
        var api = App.Api();
        var poolId = await api.ReadyPoolAsync(Agent.HostId, "doomed-pool");
        var volumeId = await api.ReadyVolumeAsync(poolId, "last-volume");

        var refused = await api.OnTargetAsync("deleteStoragePool", poolId);

        var (code, error) = refused.Error();
        code.ShouldBe("INVALID_STATE");
        error.Str("message").ShouldContain("1 volume(s)");
        error.Str("extensions.command").ShouldBe("delete-pool");
        (await api.PoolAsync(poolId))!.Str("status").ShouldBe("READY");

        var deleteVolume = await api.OnTargetOkAsync("deleteVolume", volumeId);
        await api.StorageOperationEndsAsync(deleteVolume.Str("operation.id"), "SUCCEEDED");
        (await api.VolumeAsync(volumeId)).ShouldBeNull();

        var deletePool = await api.OnTargetOkAsync("deleteStoragePool", poolId);
        deletePool.Str("operation.kind").ShouldBe("DELETE_POOL");
        await api.StorageOperationEndsAsync(deletePool.Str("operation.id"), "SUCCEEDED");

        (await api.PoolAsync(poolId)).ShouldBeNull();
        (await api.PoolsAsync()).ShouldNotContain(p => p!["id"]!.GetValue<string>() == poolId);
        var message = await Agent.StorageOperationAsync(Guid.Parse(deletePool.Str("operation.id")));
        message.Kind.ShouldBe(StorageOperationKind.DeletePool);
        message.Pool.LibvirtName.ShouldBe($"qkvm-pool-{Guid.Parse(poolId):N}");
        // The host's "started" report may be recorded after its outcome; nothing else follows the deletion.
        var stream = (await App.Events.StreamAsync(Guid.Parse(poolId))).Select(e => e.Type).ToList();
        stream.ShouldContain("storage-pool.deleted.v1");
        stream.Skip(stream.IndexOf("storage-pool.deleted.v1") + 1).ShouldAllBe(type => type == "storage.operation-started.v1");
        var (afterCode, _) = (await api.OnTargetAsync("refreshStoragePool", poolId)).Error();
        afterCode.ShouldBe("NOT_FOUND");
    }

    [Fact]
    public async Task refreshing_a_pool_records_the_capacity_its_agent_reads_now()
    {
        var api = App.Api();
        var path = StorageApi.UniquePath("refreshed");
        var poolId = await api.ReadyPoolAsync(Agent.HostId, "refreshed", path);
        Agent.OnStorage(m => m.Pool.Path == path && m.Kind == StorageOperationKind.RefreshPool,
            _ => new StorageAnswer(CapacityBytes: 1_000_000_000, AllocationBytes: 400_000_000, AvailableBytes: 600_000_000));

        var refresh = await api.OnTargetOkAsync("refreshStoragePool", poolId);
        await api.StorageOperationEndsAsync(refresh.Str("operation.id"), "SUCCEEDED");

        var pool = (await api.PoolAsync(poolId))!;
        pool.Long("capacityBytes").ShouldBe(1_000_000_000);
        pool.Long("allocationBytes").ShouldBe(400_000_000);
        pool.Long("availableBytes").ShouldBe(600_000_000);
        pool.Str("status").ShouldBe("READY");
    }

    [Fact]
    public async Task a_pool_whose_creation_the_agent_fails_is_failed_with_the_agents_error()
    {
        var api = App.Api();
        var path = StorageApi.UniquePath("unbuildable");
        Agent.OnStorage(m => m.Pool.Path == path, _ => StorageAnswer.Failure("VIR_ERR_STORAGE_POOL_BUILT", "cannot create directory: Permission denied"));

        var created = await api.CreatePoolAsync(StorageApi.DirPoolInput(Agent.HostId, "unbuildable", path));
        var failed = await api.StorageOperationEndsAsync(created.Str("operation.id"), "FAILED");

        failed.Str("error.code").ShouldBe("VIR_ERR_STORAGE_POOL_BUILT");
        failed.Str("error.message").ShouldBe("cannot create directory: Permission denied");
        var pool = (await api.PoolAsync(created.Str("pool.id")))!;
        pool.Str("status").ShouldBe("FAILED");
        pool.Str("lastError").ShouldBe("cannot create directory: Permission denied");
        var (code, _) = (await api.SendAsync(StorageApi.CreateVolume,
            new { input = new { poolId = created.Str("pool.id"), name = "in-failed-pool", sizeBytes = 1L << 20 } })).Error();
        code.ShouldBe("INVALID_STATE");
    }

    [Fact]
    public async Task an_rbd_pool_is_made_by_an_online_host_from_its_ceph_pool_monitors_and_user()
    {
        var api = App.Api();

        var created = await api.CreatePoolAsync(new
        {
            name = "ceph", kind = "RBD", cephPool = "qkvm", cephMonitors = new[] { "10.0.0.1:6789", "[fd00::2]:3300" }, cephUser = "quantixkvm",
        });
        await api.StorageOperationEndsAsync(created.Str("operation.id"), "SUCCEEDED");

        var message = await Agent.StorageOperationAsync(Guid.Parse(created.Str("operation.id")));
        message.HostId.ShouldBe(Agent.HostId, "the one online host");
        message.Pool.Kind.ShouldBe("rbd");
        message.Pool.Path.ShouldBeNull();
        message.Pool.CephPool.ShouldBe("qkvm");
        message.Pool.CephMonitors.ShouldBe(["10.0.0.1:6789", "[fd00::2]:3300"]);
        message.Pool.CephUser.ShouldBe("quantixkvm");
        var pool = (await api.PoolAsync(created.Str("pool.id")))!;
        pool.Str("kind").ShouldBe("RBD");
        pool["hostId"].ShouldBeNull();
        pool.Str("status").ShouldBe("READY");
    }

    [Theory]
    [InlineData("qkvm", new[] { "no-port" }, "quantixkvm", "host:port")]
    [InlineData("qkvm", new string[0], "quantixkvm", "monitor")]
    [InlineData("qkvm;rm", new[] { "10.0.0.1:6789" }, "quantixkvm", "Ceph pool name")]
    [InlineData("qkvm", new[] { "10.0.0.1:6789" }, "client.admin key", "Ceph user name")]
    public async Task an_rbd_pool_with_bad_ceph_settings_is_refused_as_validation(string cephPool, string[] cephMonitors, string cephUser, string mentions)
    {
        var (code, error) = await App.Api().ErrorAsync(StorageApi.CreatePool, new { input = new { name = "bad-ceph", kind = "RBD", cephPool, cephMonitors, cephUser } });

        code.ShouldBe("VALIDATION");
        error.Str("message").ShouldContain(mentions);
    }

    [Fact]
    public async Task storage_pool_changed_and_storage_operation_updated_follow_a_pool_being_made()
    {
        var api = App.Api();
        var commandId = $"watched-pool-{Guid.NewGuid():N}";
        var poolId = PoolDecider.PoolIdForCreate(commandId);
        var operationId = StorageOperations.OperationIdFor(poolId, commandId);
        var path = StorageApi.UniquePath("watched");
        Agent.OnStorage(m => m.Pool.Path == path, _ => null);
        var hub = App.Services.GetRequiredService<ChangeHub>();
        var (pools, operations) = (hub.Pools.SubscriberCount, hub.StorageOperations.SubscriberCount);
        await using var ws = await TestServerSubscriptions.ConnectAsync(App);
        await ws.SubscribeAsync("pool", "subscription($id: ID) { storagePoolChanged(id: $id) { id status capacityBytes } }", new { id = poolId.ToString() });
        await Eventually.WaitAsync(() => Task.FromResult(hub.Pools.SubscriberCount > pools), "the pool subscription to be listening");

        var created = await api.CreatePoolAsync(StorageApi.DirPoolInput(Agent.HostId, "watched", path, commandId));
        created.Str("operation.id").ShouldBe(operationId.ToString());
        // Like operationUpdated: subscribed after the mutation, it starts with the operation as it is, so nothing is missed.
        await ws.SubscribeAsync("op", "subscription($id: ID!) { storageOperationUpdated(id: $id) { id kind status acceptedByHostAt error { code } } }",
            new { id = operationId.ToString() });
        await Eventually.WaitAsync(() => Task.FromResult(hub.StorageOperations.SubscriberCount > operations), "the operation subscription to be listening");
        var message = await Agent.StorageOperationAsync(operationId);
        await Agent.ReportStorageStartedAsync(message);
        await api.StorageOperationEndsAsync(operationId.ToString(), "RUNNING");
        await Agent.ReportStorageFinishedAsync(message, Agent.DefaultAnswer(message));

        // Both subscriptions share the socket: read it once, sorting the messages by subscription.
        var poolStates = new List<System.Text.Json.Nodes.JsonNode>();
        var operationStates = new List<System.Text.Json.Nodes.JsonNode>();
        while (poolStates is not [.., var p] || p.Str("status") != "READY" || operationStates is not [.., var o] || o.Str("status") != "SUCCEEDED")
        {
            var next = await ws.NextMessageAsync(TimeSpan.FromSeconds(10));
            if (next.Str("type") == "complete")
            {
                // The operation's stream ends after its final state; the pool's goes on.
                next.Str("id").ShouldBe("op");
                continue;
            }

            next.Str("type").ShouldBe("next", next.ToJsonString());
            (next.Str("id") == "pool" ? poolStates : operationStates).Add(next["payload"]!["data"]!.AsObject().Single().Value!);
        }

        poolStates.ShouldAllBe(d => d["id"]!.GetValue<string>() == poolId.ToString());
        poolStates[^1]["capacityBytes"]!.GetValue<long>().ShouldBe(Agent.PoolCapacityBytes);
        // Storage changes are published as they are when the feed reads them, so a step may be skipped, but never reordered.
        var order = new[] { "PENDING", "RUNNING", "SUCCEEDED" };
        var steps = operationStates.Select(d => Array.IndexOf(order, d["status"]!.GetValue<string>())).ToList();
        steps.ShouldBe(steps.Order().ToList(), string.Join(", ", operationStates.Select(d => d.ToJsonString())));
        operationStates[^1]["acceptedByHostAt"].ShouldNotBeNull();
        operationStates[^1]["kind"]!.GetValue<string>().ShouldBe("CREATE_POOL");
    }

    [Fact]
    public async Task storage_operation_updated_completes_after_the_operations_final_state()
    {
        var api = App.Api();
        var commandId = $"completing-{Guid.NewGuid():N}";
        var operationId = StorageOperations.OperationIdFor(PoolDecider.PoolIdForCreate(commandId), commandId);
        await using var ws = await TestServerSubscriptions.ConnectAsync(App);
        await ws.SubscribeAsync("missing", "subscription($id: ID!) { storageOperationUpdated(id: $id) { id status } }", new { id = operationId.ToString() });
        var answer = await ws.NextMessageAsync(TimeSpan.FromSeconds(10));
        var errors = answer["type"]!.GetValue<string>() == "error" ? answer["payload"]!.AsArray() : answer["payload"]!["errors"]!.AsArray();
        errors[0]!["extensions"]!["code"]!.GetValue<string>().ShouldBe("NOT_FOUND", "an operation that does not exist yet");

        var created = await api.CreatePoolAsync(StorageApi.DirPoolInput(Agent.HostId, "completing", StorageApi.UniquePath("completing"), commandId));
        await ws.SubscribeAsync("op", "subscription($id: ID!) { storageOperationUpdated(id: $id) { id status } }", new { id = operationId.ToString() });
        await ws.ReadUntilAsync("op", d => d["storageOperationUpdated"]!["status"]!.GetValue<string>() == "SUCCEEDED", TimeSpan.FromSeconds(10));

        var complete = await ws.NextMessageAsync(TimeSpan.FromSeconds(5));
        complete.Str("type").ShouldBe("complete", $"the server completes after the final state, as operationUpdated does; got {complete.ToJsonString()}");
        complete.Str("id").ShouldBe("op");
        created.Str("operation.id").ShouldBe(operationId.ToString());
    }
}
