using System.Text.Json.Nodes;
using Microsoft.Extensions.DependencyInjection;
using Quantixkvm.Contracts;
using Quantixkvm.ControlPlane.Dispatch;
using Quantixkvm.ControlPlane.Tests.Support;

namespace Quantixkvm.ControlPlane.Tests;

/// <summary>A VM's disks: given at create or attached later, each volume held by one VM at a time, and released when the VM goes.</summary>
public sealed class VmDiskTests(StorageFixture fixture) : IClassFixture<StorageFixture>
{
    private ControlPlaneApp App => fixture.App;

    private FakeAgent Agent => fixture.Agent;

    private string PoolId => fixture.PoolId;

    [Fact]
    public async Task a_domain_whose_disks_differ_from_the_vms_record_shows_disk_drift_until_they_agree_again()
    {
        var api = App.Api();
        var volumeId = await api.ReadyVolumeAsync(PoolId, "drifting-disk", 64L << 20);
        var created = await api.VmMutationAsync(StorageApi.CreateVm, "createVm", new
        {
            input = new { name = "drifting", vcpus = 1, memoryMiB = 64, disks = new[] { new { volumeId } } },
        });
        var vmId = Guid.Parse(created.Str("vm.id"));
        await Agent.FinishAsync(Guid.Parse(created.Str("operation.id")), succeeded: true, DomainPowerState.Stopped);
        await api.OperationEndsAsync(created.Str("operation.id"), "SUCCEEDED");
        var serial = DiskAttachment.SerialFor(Guid.Parse(volumeId));

        // Someone detached the disk by hand and attached a disk of their own.
        await App.Consumed.WaitAsync(await Agent.ReportInventoryAsync(
            new InventoryDomain(vmId, $"qkvm-{vmId:N}", DomainPowerState.Stopped, vmId, ["ffffffffffffffffffff"])));

        var drift = (await api.DataAsync("query($id: ID!) { vm(id: $id) { diskDrift { missingVolumeIds unexpectedSerials } disks { volumeId } } }",
            new { id = vmId.ToString() }))["vm"]!;
        drift.Arr("diskDrift.missingVolumeIds").Select(v => v!.GetValue<string>()).ShouldBe([volumeId]);
        drift.Arr("diskDrift.unexpectedSerials").Select(v => v!.GetValue<string>()).ShouldBe(["ffffffffffffffffffff"]);
        drift.Arr("disks").Count.ShouldBe(1, "the record keeps the disk: drift is shown beside it, for an operator to resolve");
        var events = await App.Events.StreamAsync(vmId);
        events[^1].Type.ShouldBe("vm.disk-drift-observed.v1");
        events[^1].ShouldMatchSchema();

        await App.Consumed.WaitAsync(await Agent.ReportInventoryAsync(
            new InventoryDomain(vmId, $"qkvm-{vmId:N}", DomainPowerState.Stopped, vmId, [serial])));

        (await api.DataAsync("query($id: ID!) { vm(id: $id) { diskDrift { missingVolumeIds } } }", new { id = vmId.ToString() }))["vm"]!["diskDrift"]
            .ShouldBeNull();
        (await App.Events.StreamAsync(vmId)).Count.ShouldBe(events.Count + 1, "the end of the drift is recorded once");
    }

    [Fact]
    public async Task a_vm_created_with_a_disk_shows_it_attached_as_vda_and_its_create_names_the_pool_and_volume()
    {
        var api = App.Api();
        var volumeId = await api.ReadyVolumeAsync(PoolId, "boot-disk", 64L << 20);

        var created = await api.VmMutationAsync(StorageApi.CreateVm, "createVm", new
        {
            input = new { name = "with-disk", vcpus = 1, memoryMiB = 256, disks = new[] { new { volumeId, bootOrder = 1 } } },
        });

        var disk = created.Arr("vm.disks").Single()!;
        disk.Str("volumeId").ShouldBe(volumeId);
        disk.Str("targetDev").ShouldBe("vda");
        disk.Str("bus").ShouldBe("VIRTIO");
        disk["bootOrder"]!.GetValue<int>().ShouldBe(1);
        disk["readOnly"]!.GetValue<bool>().ShouldBeFalse();
        disk.Str("state").ShouldBe("ATTACHED");
        disk.Str("volume.name").ShouldBe("boot-disk");
        created.Str("vm.host.id").ShouldBe(Agent.HostId.ToString(), "a dir pool's volume pins the VM to the pool's host");
        var vmId = created.Str("vm.id");
        var volume = (await api.VolumeAsync(volumeId))!;
        volume.Str("attachedTo.id").ShouldBe(vmId);
        volume.Str("attachment").ShouldBe("ATTACHED");
        volume.Str("targetDev").ShouldBe("vda");

        var message = await Agent.OperationAsync(Guid.Parse(created.Str("operation.id")));
        message.Kind.ShouldBe(DomainOperationKind.Create);
        var wire = message.Disks.ShouldHaveSingleItem();
        wire.VolumeId.ShouldBe(Guid.Parse(volumeId));
        wire.VolumeName.ShouldBe("boot-disk");
        wire.Format.ShouldBe("qcow2");
        wire.TargetDev.ShouldBe("vda");
        wire.Bus.ShouldBe("virtio");
        wire.BootOrder.ShouldBe(1);
        wire.ReadOnly.ShouldBeFalse();
        wire.Pool.PoolId.ShouldBe(Guid.Parse(PoolId));
        wire.Pool.LibvirtName.ShouldBe($"qkvm-pool-{Guid.Parse(PoolId):N}");
        wire.Pool.Kind.ShouldBe("dir");
        wire.Pool.Path.ShouldBe(fixture.PoolPath);
        message.Disk.ShouldBeNull();
        message.CloudInit.ShouldBeNull();
    }

    [Fact]
    public async Task a_volume_attached_to_a_vm_cannot_be_deleted_or_resized()
    {
        var api = App.Api();
        var volumeId = await api.ReadyVolumeAsync(PoolId, "held");
        var (vmId, _) = await VmAsync("holder", running: false, volumeId);

        var (code, error) = (await api.OnTargetAsync("deleteVolume", volumeId)).Error();

        code.ShouldBe("INVALID_STATE");
        error.Str("message").ShouldContain($"attached to VM {vmId}");
        (await api.OnTargetAsync("resizeVolume", volumeId, sizeBytes: 128L << 20)).Error().Code.ShouldBe("INVALID_STATE");
        (await api.VolumeAsync(volumeId))!.Str("status").ShouldBe("READY");
    }

    [Fact]
    public async Task a_disk_attached_to_a_running_vm_is_attaching_until_its_host_reports_it_then_attached_as_vdb()
    {
        var api = App.Api();
        var bootId = await api.ReadyVolumeAsync(PoolId, "running-boot");
        var dataId = await api.ReadyVolumeAsync(PoolId, "hot-data");
        var (vmId, _) = await VmAsync("hot-plug", running: true, bootId);

        var attach = await api.VmMutationAsync(StorageApi.AttachDisk, "attachDisk", new { id = vmId, disk = new { volumeId = dataId } });

        attach.Str("operation.kind").ShouldBe("ATTACH_DISK");
        var pending = attach.Arr("vm.disks").Single(d => d!["volumeId"]!.GetValue<string>() == dataId)!;
        pending.Str("targetDev").ShouldBe("vdb");
        pending.Str("state").ShouldBe("ATTACHING");
        var reserved = (await api.VolumeAsync(dataId))!;
        reserved.Str("attachedTo.id").ShouldBe(vmId);
        reserved.Str("attachment").ShouldBe("ATTACHING");

        var message = await Agent.OperationAsync(Guid.Parse(attach.Str("operation.id")));
        message.Kind.ShouldBe(DomainOperationKind.AttachDisk);
        message.Disk.ShouldNotBeNull();
        message.Disk.VolumeId.ShouldBe(Guid.Parse(dataId));
        message.Disk.VolumeName.ShouldBe("hot-data");
        message.Disk.TargetDev.ShouldBe("vdb");
        message.Disk.Pool.LibvirtName.ShouldBe($"qkvm-pool-{Guid.Parse(PoolId):N}");
        message.Disks!.Select(d => d.TargetDev).ShouldContain("vda");
        await Agent.ReportFinishedAsync(message, succeeded: true, DomainPowerState.Running);
        await api.OperationEndsAsync(attach.Str("operation.id"), "SUCCEEDED");

        var vm = (await api.VmWithStorageAsync(vmId))!;
        vm.Arr("disks").Select(d => (d!.Str("targetDev"), d!.Str("state"))).ShouldBe([("vda", "ATTACHED"), ("vdb", "ATTACHED")], ignoreOrder: true);
        vm.Str("powerState").ShouldBe("RUNNING");
        var attached = (await api.VolumeAsync(dataId))!;
        attached.Str("attachment").ShouldBe("ATTACHED");
        attached.Str("targetDev").ShouldBe("vdb");
    }

    [Fact]
    public async Task a_volume_attached_to_one_vm_is_refused_to_another()
    {
        var api = App.Api();
        var volumeId = await api.ReadyVolumeAsync(PoolId, "exclusive");
        var (ownerId, _) = await VmAsync("owner", running: false, volumeId);
        var (otherId, _) = await VmAsync("other", running: false);

        var (code, error) = (await api.SendAsync(StorageApi.AttachDisk, new { id = otherId, disk = new { volumeId } })).Error();

        // RejectionCode.Conflict is published as ALREADY_EXISTS (docs/api.md); there is no CONFLICT code.
        code.ShouldBe("ALREADY_EXISTS");
        error.Str("message").ShouldContain(ownerId);
        (await api.VmWithStorageAsync(otherId))!.Arr("disks").ShouldBeEmpty();
        (await api.VolumeAsync(volumeId))!.Str("attachedTo.id").ShouldBe(ownerId);
        var (createCode, _) = (await api.SendAsync(StorageApi.CreateVm,
            new { input = new { name = "greedy", vcpus = 1, memoryMiB = 64, disks = new[] { new { volumeId } } } })).Error();
        createCode.ShouldBe("ALREADY_EXISTS");
    }

    [Fact]
    public async Task parallel_attaches_of_one_volume_to_different_vms_give_it_to_one()
    {
        var api = App.Api();
        var volumeId = await api.ReadyVolumeAsync(PoolId, "raced-for");
        var vms = new List<string>();
        for (var i = 0; i < 4; i++)
        {
            vms.Add((await VmAsync($"racer-{i}", running: false)).VmId);
        }

        var answers = await Task.WhenAll(vms.Select(vmId => Task.Run(() => api.SendAsync(StorageApi.AttachDisk, new { id = vmId, disk = new { volumeId } }))));

        var winners = answers.Where(a => a["errors"] is null).ToList();
        winners.Count.ShouldBe(1, string.Join("\n", answers.Select(a => a.ToJsonString())));
        answers.Where(a => a["errors"] is not null).Select(a => a.Error().Code).ShouldAllBe(c => c == "ALREADY_EXISTS");
        (await api.VolumeAsync(volumeId))!.Str("attachedTo.id").ShouldBe(winners[0]["data"]!["attachDisk"]!.Str("vm.id"));
    }

    [Fact]
    public async Task an_attach_its_host_fails_releases_the_volume_and_leaves_no_disk()
    {
        var api = App.Api();
        var volumeId = await api.ReadyVolumeAsync(PoolId, "refused-by-qemu");
        var (vmId, _) = await VmAsync("attach-fails", running: true);
        var attach = await api.VmMutationAsync(StorageApi.AttachDisk, "attachDisk", new { id = vmId, disk = new { volumeId } });

        await Agent.FinishAsync(Guid.Parse(attach.Str("operation.id")), succeeded: false, DomainPowerState.Running,
            "VIR_ERR_OPERATION_FAILED", "unable to execute QEMU command 'device_add': Bus 'pci.0' does not support hotplugging");
        var failed = await api.OperationEndsAsync(attach.Str("operation.id"), "FAILED");

        failed.Str("error.code").ShouldBe("VIR_ERR_OPERATION_FAILED");
        (await api.VmWithStorageAsync(vmId))!.Arr("disks").ShouldBeEmpty();
        var volume = (await api.VolumeAsync(volumeId))!;
        volume["attachedTo"].ShouldBeNull();
        volume["attachment"].ShouldBeNull();
        volume["targetDev"].ShouldBeNull();
        var released = (await App.Events.StreamAsync(Guid.Parse(vmId)))[^1];
        released.Type.ShouldBe("vm.disk-detached.v1");
        released.Data["reason"]!.GetValue<string>().ShouldContain("does not support hotplugging");
        released.ShouldMatchSchema();
    }

    [Fact]
    public async Task a_detached_disk_leaves_the_vm_and_its_volume_is_free_again()
    {
        var api = App.Api();
        var volumeId = await api.ReadyVolumeAsync(PoolId, "unplugged");
        var (vmId, _) = await VmAsync("detacher", running: true, volumeId);

        var detach = await api.VmMutationAsync(StorageApi.DetachDisk, "detachDisk", new { id = vmId, volumeId });

        detach.Str("operation.kind").ShouldBe("DETACH_DISK");
        detach.Arr("vm.disks").Single()!.Str("state").ShouldBe("DETACHING");
        (await api.VolumeAsync(volumeId))!.Str("attachment").ShouldBe("DETACHING");
        var message = await Agent.FinishAsync(Guid.Parse(detach.Str("operation.id")), succeeded: true, DomainPowerState.Running);
        message.Kind.ShouldBe(DomainOperationKind.DetachDisk);
        message.Disk!.VolumeId.ShouldBe(Guid.Parse(volumeId));
        message.Disk.TargetDev.ShouldBe("vda");
        await api.OperationEndsAsync(detach.Str("operation.id"), "SUCCEEDED");

        (await api.VmWithStorageAsync(vmId))!.Arr("disks").ShouldBeEmpty();
        var volume = (await api.VolumeAsync(volumeId))!;
        volume["attachedTo"].ShouldBeNull();
        volume["attachment"].ShouldBeNull();
        (await api.SendAsync(StorageApi.DetachDisk, new { id = vmId, volumeId })).Error().Code.ShouldBe("NOT_FOUND");
        var delete = await api.OnTargetOkAsync("deleteVolume", volumeId);
        await api.StorageOperationEndsAsync(delete.Str("operation.id"), "SUCCEEDED");
    }

    [Fact]
    public async Task a_detach_its_host_fails_leaves_the_disk_attached_in_the_vm_and_in_the_volume()
    {
        var api = App.Api();
        var volumeId = await api.ReadyVolumeAsync(PoolId, "stuck-in");
        var (vmId, _) = await VmAsync("detach-fails", running: true, volumeId);
        var detach = await api.VmMutationAsync(StorageApi.DetachDisk, "detachDisk", new { id = vmId, volumeId });

        await Agent.FinishAsync(Guid.Parse(detach.Str("operation.id")), succeeded: false, DomainPowerState.Running,
            "VIR_ERR_OPERATION_TIMEOUT", "guest did not release the device");
        await api.OperationEndsAsync(detach.Str("operation.id"), "FAILED");

        (await api.VmWithStorageAsync(vmId))!.Arr("disks").Single()!.Str("state").ShouldBe("ATTACHED");
        var volume = (await api.VolumeAsync(volumeId))!;
        volume.Str("attachedTo.id").ShouldBe(vmId);
        volume.Str("attachment").ShouldBe("ATTACHED", "the volume and the VM must agree (the projection promises they never disagree)");
    }

    [Fact]
    public async Task deleting_a_vm_releases_its_volumes_which_stay_in_their_pool()
    {
        var api = App.Api();
        var bootId = await api.ReadyVolumeAsync(PoolId, "outliving-boot");
        var dataId = await api.ReadyVolumeAsync(PoolId, "outliving-data");
        var (vmId, _) = await VmAsync("short-lived", running: false, bootId, dataId);

        var delete = await api.SendLifecycleAsync("deleteVm", vmId);
        delete["errors"].ShouldBeNull(delete.ToJsonString());
        var message = await Agent.FinishAsync(Guid.Parse(delete["data"]!["deleteVm"]!.Str("operation.id")), succeeded: true, DomainPowerState.Stopped);
        message.Disks!.Select(d => d.VolumeName).ShouldBe(["outliving-boot", "outliving-data"], ignoreOrder: true);
        await api.OperationEndsAsync(message.OperationId.ToString(), "SUCCEEDED");

        (await api.VmAsync(vmId)).ShouldBeNull();
        foreach (var volumeId in new[] { bootId, dataId })
        {
            var volume = (await api.VolumeAsync(volumeId))!;
            volume.Str("status").ShouldBe("READY");
            volume["attachedTo"].ShouldBeNull();
            volume["attachment"].ShouldBeNull();
        }

        var (reusedId, _) = await VmAsync("successor", running: false, bootId);
        (await api.VolumeAsync(bootId))!.Str("attachedTo.id").ShouldBe(reusedId);
    }

    [Fact]
    public async Task a_dir_pools_volume_pins_its_vm_to_the_pools_host_and_is_refused_to_vms_elsewhere_while_an_rbd_volume_is_not()
    {
        var api = App.Api();
        var localId = await api.ReadyVolumeAsync(PoolId, "local-only");
        // More free memory than the pool's host: placement alone would pick it.
        await using var elsewhere = await FakeAgent.StartOnlineAsync(App, memoryMiB: 4L * 1024 * 1024);

        var pinned = await api.VmMutationAsync(StorageApi.CreateVm, "createVm", new
        {
            input = new { name = "pinned", vcpus = 1, memoryMiB = 64, disks = new[] { new { volumeId = localId } } },
        });
        pinned.Str("vm.host.id").ShouldBe(Agent.HostId.ToString(), "the disk's dir pool lives on that host");
        await Agent.FinishAsync(Guid.Parse(pinned.Str("operation.id")), succeeded: true, DomainPowerState.Stopped);
        await api.OperationEndsAsync(pinned.Str("operation.id"), "SUCCEEDED");

        var far = await api.CreateVmAsync("far-away", hostId: elsewhere.HostId, memoryMiB: 64);
        await elsewhere.FinishAsync(Guid.Parse(far.Str("operation.id")), succeeded: true, DomainPowerState.Stopped);
        await api.OperationEndsAsync(far.Str("operation.id"), "SUCCEEDED");
        var otherLocalId = await api.ReadyVolumeAsync(PoolId, "also-local");

        var (code, error) = (await api.SendAsync(StorageApi.AttachDisk, new { id = far.Str("vm.id"), disk = new { volumeId = otherLocalId } })).Error();

        code.ShouldBe("INVALID_STATE");
        error.Str("message").ShouldContain("cannot reach");
        (await api.VolumeAsync(otherLocalId))!["attachedTo"].ShouldBeNull();
        var (createCode, createError) = (await api.SendAsync(StorageApi.CreateVm, new
        {
            input = new { name = "pinned-wrong", vcpus = 1, memoryMiB = 64, hostId = elsewhere.HostId.ToString(), disks = new[] { new { volumeId = otherLocalId } } },
        })).Error();
        createCode.ShouldBe("INVALID_STATE");
        createError.Str("message").ShouldContain(elsewhere.HostId.ToString());

        var ceph = await api.CreatePoolAsync(new { name = "shared", kind = "RBD", cephPool = "qkvm", cephMonitors = new[] { "127.0.0.1:16789" }, cephUser = "quantixkvm" });
        await api.StorageOperationEndsAsync(ceph.Str("operation.id"), "SUCCEEDED");
        var sharedId = await api.ReadyVolumeAsync(ceph.Str("pool.id"), "shared-disk");
        var attach = await api.VmMutationAsync(StorageApi.AttachDisk, "attachDisk", new { id = far.Str("vm.id"), disk = new { volumeId = sharedId } });
        var message = await elsewhere.FinishAsync(Guid.Parse(attach.Str("operation.id")), succeeded: true, DomainPowerState.Stopped);
        message.Disk!.Pool.Kind.ShouldBe("rbd");
        message.Disk.Format.ShouldBe("raw", "RBD volumes are RAW");
        message.Disk.Pool.CephPool.ShouldBe("qkvm");
        await api.OperationEndsAsync(attach.Str("operation.id"), "SUCCEEDED");
        (await api.VolumeAsync(sharedId))!.Str("attachedTo.id").ShouldBe(far.Str("vm.id"));
    }

    [Theory]
    [InlineData(true, false, "more than once")]
    [InlineData(false, true, "boot order 1 is already taken")]
    public async Task a_vm_given_one_volume_twice_or_two_disks_with_one_boot_order_is_refused_as_validation(bool sameVolume, bool sameBootOrder, string mentions)
    {
        var api = App.Api();
        var first = await api.ReadyVolumeAsync(PoolId, $"twice-a-{Guid.NewGuid():N}"[..16]);
        var second = sameVolume ? first : await api.ReadyVolumeAsync(PoolId, $"twice-b-{Guid.NewGuid():N}"[..16]);

        var (code, error) = (await api.SendAsync(StorageApi.CreateVm, new
        {
            input = new
            {
                name = "doubled", vcpus = 1, memoryMiB = 64, hostId = Agent.HostId.ToString(),
                disks = new[] { new { volumeId = first, bootOrder = 1 }, new { volumeId = second, bootOrder = sameBootOrder ? 1 : 2 } },
            },
        })).Error();

        code.ShouldBe("VALIDATION");
        error.Str("message").ShouldContain(mentions);
        (await api.VolumeAsync(first))!["attachedTo"].ShouldBeNull();
    }

    [Fact]
    public async Task a_volume_that_is_not_ready_or_does_not_exist_is_refused_to_a_vm()
    {
        var api = App.Api();
        Agent.OnStorage(m => m.Volume?.Name == "still-copying", _ => null);
        var copying = await api.CreateVolumeAsync(PoolId, "still-copying", 8L << 20);
        var (vmId, _) = await VmAsync("impatient", running: false);

        var (code, error) = (await api.SendAsync(StorageApi.AttachDisk, new { id = vmId, disk = new { volumeId = copying.Str("volume.id") } })).Error();

        code.ShouldBe("INVALID_STATE");
        error.Str("message").ShouldContain("CREATING");
        var unknown = Guid.NewGuid().ToString();
        (await api.SendAsync(StorageApi.AttachDisk, new { id = vmId, disk = new { volumeId = unknown } })).Error().Code.ShouldBe("NOT_FOUND");
        (await api.VmWithStorageAsync(vmId))!.Arr("disks").ShouldBeEmpty();
    }

    [Fact]
    public async Task a_volume_whose_delete_is_under_way_is_refused_to_a_vm()
    {
        var api = App.Api();
        var volumeId = await api.ReadyVolumeAsync(PoolId, "being-deleted");
        Agent.OnStorage(m => m.TargetId == Guid.Parse(volumeId) && m.Kind == StorageOperationKind.DeleteVolume, _ => null);
        var delete = await api.OnTargetOkAsync("deleteVolume", volumeId);
        await Agent.StorageOperationAsync(Guid.Parse(delete.Str("operation.id")));
        var (vmId, _) = await VmAsync("too-late", running: false);

        var answer = await api.SendAsync(StorageApi.AttachDisk, new { id = vmId, disk = new { volumeId } });

        answer.Error().Code.ShouldBe("INVALID_STATE");
    }

    [Fact]
    public async Task reverting_to_a_snapshot_taken_with_other_disks_is_refused_until_the_disks_match()
    {
        var api = App.Api();
        var bootId = await api.ReadyVolumeAsync(PoolId, "snap-boot");
        var extraId = await api.ReadyVolumeAsync(PoolId, "snap-extra");
        var (vmId, _) = await VmAsync("disk-snapshots", running: false, bootId);
        await FinishVmAsync(vmId, await api.VmMutationAsync(VmSnapshotTests.CreateSnapshot, "createVmSnapshot", new { id = vmId, name = "one-disk" }));
        await FinishVmAsync(vmId, await api.VmMutationAsync(StorageApi.AttachDisk, "attachDisk", new { id = vmId, disk = new { volumeId = extraId } }));

        var (code, error) = (await api.SendAsync(VmSnapshotTests.RevertSnapshot, new { id = vmId, name = "one-disk" })).Error();

        code.ShouldBe("INVALID_STATE");
        error.Str("message").ShouldContain(extraId);
        await FinishVmAsync(vmId, await api.VmMutationAsync(StorageApi.DetachDisk, "detachDisk", new { id = vmId, volumeId = extraId }));
        var revert = await api.VmMutationAsync(VmSnapshotTests.RevertSnapshot, "revertVmSnapshot", new { id = vmId, name = "one-disk" });
        var message = await FinishVmAsync(vmId, revert);
        message.Disks!.Select(d => d.VolumeId).ShouldBe([Guid.Parse(bootId)]);
    }

    [Fact]
    public async Task volume_changed_shows_a_volume_being_attached_to_a_vm()
    {
        var api = App.Api();
        var volumeId = await api.ReadyVolumeAsync(PoolId, "watched-volume");
        var (vmId, _) = await VmAsync("watcher", running: true);
        var hub = App.Services.GetRequiredService<ChangeHub>();
        var before = hub.Volumes.SubscriberCount;
        await using var ws = await TestServerSubscriptions.ConnectAsync(App);
        await ws.SubscribeAsync("vol", "subscription($id: ID) { volumeChanged(id: $id) { id name status attachment targetDev attachedTo { id } } }",
            new { id = volumeId });
        await Eventually.WaitAsync(() => Task.FromResult(hub.Volumes.SubscriberCount > before), "the subscription to be listening");

        var attach = await api.VmMutationAsync(StorageApi.AttachDisk, "attachDisk", new { id = vmId, disk = new { volumeId } });
        await Agent.FinishAsync(Guid.Parse(attach.Str("operation.id")), succeeded: true, DomainPowerState.Running);

        var seen = await ws.ReadUntilAsync("vol", d => d["volumeChanged"]?["attachment"]?.GetValue<string>() == "ATTACHED", TimeSpan.FromSeconds(15));
        seen.ShouldAllBe(d => d["volumeChanged"]!["id"]!.GetValue<string>() == volumeId, "only the volume asked for");
        var last = seen[^1]["volumeChanged"]!;
        last.Str("attachedTo.id").ShouldBe(vmId);
        last.Str("targetDev").ShouldBe("vda");
    }

    /// <summary>A VM on the fixture's host, with these volumes as disks (vda, vdb, …), whose create the host reported done.</summary>
    private async Task<(string VmId, RunDomainOperation Create)> VmAsync(string name, bool running, params string[] volumeIds)
    {
        var api = App.Api();
        var created = await api.VmMutationAsync(StorageApi.CreateVm, "createVm", new
        {
            input = new
            {
                name, vcpus = 1, memoryMiB = 64, start = running, hostId = Agent.HostId.ToString(),
                disks = volumeIds.Select(v => new { volumeId = v }).ToArray(),
            },
        });
        var message = await Agent.FinishAsync(
            Guid.Parse(created.Str("operation.id")), succeeded: true, running ? DomainPowerState.Running : DomainPowerState.Stopped);
        await api.OperationEndsAsync(created.Str("operation.id"), "SUCCEEDED");
        return (created.Str("vm.id"), message);
    }

    /// <summary>Has the host report the payload's operation done (keeping the VM's power state); returns the message it got.</summary>
    private async Task<RunDomainOperation> FinishVmAsync(string vmId, JsonNode payload)
    {
        var api = App.Api();
        var state = (await api.VmAsync(vmId))!.Str("powerState") == "RUNNING" ? DomainPowerState.Running : DomainPowerState.Stopped;
        var message = await Agent.FinishAsync(Guid.Parse(payload.Str("operation.id")), succeeded: true, state);
        await api.OperationEndsAsync(payload.Str("operation.id"), "SUCCEEDED");
        return message;
    }
}
