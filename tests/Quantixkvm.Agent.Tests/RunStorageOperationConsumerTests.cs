using Quantixkvm.Agent.Tests.Support;
using Quantixkvm.Contracts;
using Quantixkvm.Libvirt;
using static Quantixkvm.Agent.Tests.Support.AgentParts;

namespace Quantixkvm.Agent.Tests;

/// <summary>The storage consumer on the real RabbitMQ, wired as Program.cs wires it, against libvirt's test driver.</summary>
public sealed class RunStorageOperationConsumerTests(AgentOnTheBus agent) : IClassFixture<AgentOnTheBus>, IDisposable
{
    private const long MiB = 1024 * 1024;

    private readonly StoragePoolSpecification _pool = DirPool($"/qkvm-bus/{Guid.NewGuid():N}");

    private static DateTimeOffset InAMinute => DateTimeOffset.UtcNow.AddMinutes(1);

    public void Dispose()
    {
        using var pool = agent.Libvirt.FindStoragePool(_pool.LibvirtName);
        if (pool is null)
        {
            return;
        }

        foreach (var volume in pool.ListVolumes())
        {
            using (volume)
            {
                volume.Delete();
            }
        }

        pool.Destroy();
        pool.Undefine();
    }

    [Fact]
    public async Task a_storage_operation_is_reported_started_then_finished_with_its_ids_and_libvirts_figures()
    {
        var create = Command(StorageOperationKind.CreatePool, null);

        await agent.SendAsync(create);

        var finished = (await agent.Log.WaitForAsync<StorageOperationFinished>(f => f.OperationId == create.OperationId)).ShouldHaveSingleItem();
        var started = agent.Log.Of<StorageOperationStarted>(s => s.OperationId == create.OperationId).ShouldHaveSingleItem();
        started.Sequence.ShouldBeLessThan(finished.Sequence, "Started comes before Finished");
        started.Message.ShouldBe(new StorageOperationStarted(
            create.OperationId, create.CommandId, create.CorrelationId, _pool.PoolId, agent.Options.HostId, started.Message.StartedAt));
        started.CorrelationId.ShouldBe(create.CorrelationId);
        var f = finished.Message;
        (f.OperationId, f.CommandId, f.CorrelationId, f.TargetId, f.HostId).ShouldBe(
            (create.OperationId, create.CommandId, create.CorrelationId, _pool.PoolId, agent.Options.HostId));
        finished.CorrelationId.ShouldBe(create.CorrelationId);
        f.Succeeded.ShouldBeTrue(f.ErrorMessage);
        (f.ErrorCode, f.ErrorMessage, f.Path).ShouldBe((null, null, null));
        using var pool = agent.Libvirt.FindStoragePool(_pool.LibvirtName).ShouldNotBeNull();
        var info = pool.GetInfo();
        (f.CapacityBytes, f.AllocationBytes, f.AvailableBytes).ShouldBe((info.CapacityBytes, info.AllocationBytes, info.AvailableBytes));
    }

    [Fact]
    public async Task a_redelivered_volume_create_is_reported_again_without_creating_the_volume_a_second_time()
    {
        var volume = new VolumeSpecification(Guid.NewGuid(), "once.qcow2", "qcow2", 4 * MiB);
        var create = Command(StorageOperationKind.CreateVolume, volume);
        await agent.SendAsync(create);
        var first = (await agent.Log.WaitForAsync<StorageOperationFinished>(f => f.OperationId == create.OperationId)).Single().Message;
        first.Succeeded.ShouldBeTrue(first.ErrorMessage);
        first.CapacityBytes.ShouldBe(4 * MiB);
        first.Path.ShouldBe($"{_pool.Path}/once.qcow2");

        // Take the volume away by hand: acting on the copy would create it again.
        using (var pool = agent.Libvirt.FindStoragePool(_pool.LibvirtName)!)
        using (var made = pool.FindVolume("once.qcow2")!)
        {
            made.Delete();
        }

        await agent.SendAsync(create);

        var finished = await agent.Log.WaitForAsync<StorageOperationFinished>(f => f.OperationId == create.OperationId, count: 2);
        finished[1].Message.ShouldBe(first with { FinishedAt = finished[1].Message.FinishedAt });
        agent.Log.Of<StorageOperationStarted>(s => s.OperationId == create.OperationId).Count.ShouldBe(1);
        using var after = agent.Libvirt.FindStoragePool(_pool.LibvirtName)!;
        after.FindVolume("once.qcow2").ShouldBeNull("the volume must not have been created a second time");
    }

    [Fact]
    public async Task a_failed_storage_operation_is_reported_finished_with_its_error_code_and_message()
    {
        var volume = new VolumeSpecification(Guid.NewGuid(), "raw.raw", "raw", MiB);
        var snapshot = Command(StorageOperationKind.SnapshotVolume, volume) with { SnapshotName = "s1" };

        await agent.SendAsync(snapshot);

        var finished = (await agent.Log.WaitForAsync<StorageOperationFinished>(f => f.OperationId == snapshot.OperationId)).ShouldHaveSingleItem().Message;
        finished.Succeeded.ShouldBeFalse();
        finished.ErrorCode.ShouldBe("NOT_SUPPORTED");
        finished.ErrorMessage.ShouldNotBeNull().ShouldContain("raw");
        finished.TargetId.ShouldBe(volume.VolumeId);
    }

    private RunStorageOperation Command(StorageOperationKind kind, VolumeSpecification? volume) =>
        StorageCommand(kind, _pool, InAMinute, volume) with { HostId = agent.Options.HostId };
}
