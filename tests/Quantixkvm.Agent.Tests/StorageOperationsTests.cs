using Quantixkvm.Agent.Hypervisor;
using Quantixkvm.Agent.Storage;
using Quantixkvm.Agent.Tests.Support;
using Quantixkvm.Contracts;
using Quantixkvm.Libvirt;
using static Quantixkvm.Agent.Tests.Support.AgentParts;

namespace Quantixkvm.Agent.Tests;

/// <summary><see cref="StorageOperations"/> against libvirt's test driver (pools and volumes without files), on a clock that moves only when told.</summary>
public sealed class StorageOperationsTests : IDisposable
{
    private const long MiB = 1024 * 1024;

    private readonly LibvirtConnection _libvirt = LibvirtConnection.Open(TestHypervisor.LibvirtUri);
    private readonly FakeTimeProvider _clock = new();
    private readonly StorageOperations _operations;
    private readonly List<string> _pools = [];

    public StorageOperationsTests() => _operations = StorageOps(new HypervisorConnection(_libvirt), _clock);

    private DateTimeOffset InAMinute => _clock.GetUtcNow().AddMinutes(1);

    public void Dispose()
    {
        foreach (var name in _pools)
        {
            using var pool = _libvirt.FindStoragePool(name);
            if (pool is null)
            {
                continue;
            }

            if (pool.IsActive)
            {
                foreach (var volume in pool.ListVolumes())
                {
                    using (volume)
                    {
                        volume.Delete();
                    }
                }

                pool.Destroy();
            }

            pool.Undefine();
        }

        _libvirt.Dispose();
    }

    [Fact]
    public async Task creating_a_pool_defines_it_with_the_pool_id_as_uuid_starts_it_and_reports_its_sizes()
    {
        var spec = NewPool();

        var outcome = await RunAsync(StorageCommand(StorageOperationKind.CreatePool, spec, InAMinute));

        outcome.Succeeded.ShouldBeTrue(outcome.ErrorMessage);
        using var pool = _libvirt.FindStoragePool(spec.LibvirtName).ShouldNotBeNull();
        pool.Uuid.ShouldBe(spec.PoolId);
        pool.IsActive.ShouldBeTrue();
        StoragePools.TargetPath(pool).ShouldBe(spec.Path);
        var info = pool.GetInfo();
        outcome.ShouldBe(new StorageOutcome(true, CapacityBytes: info.CapacityBytes, AllocationBytes: info.AllocationBytes, AvailableBytes: info.AvailableBytes));
        outcome.CapacityBytes.ShouldNotBeNull().ShouldBeGreaterThan(0);
    }

    [Fact]
    public async Task creating_a_pool_that_exists_reuses_it_and_refreshing_reports_it_again()
    {
        var spec = NewPool();
        (await RunAsync(StorageCommand(StorageOperationKind.CreatePool, spec, InAMinute))).Succeeded.ShouldBeTrue();
        using (var pool = _libvirt.FindStoragePool(spec.LibvirtName)!)
        {
            pool.CreateVolume(StorageVolumeXml.Build("kept.raw", MiB, "raw")).Dispose();
        }

        var again = await RunAsync(StorageCommand(StorageOperationKind.CreatePool, spec with { Path = "/elsewhere" }, InAMinute));
        var refresh = await RunAsync(StorageCommand(StorageOperationKind.RefreshPool, spec, InAMinute));

        again.Succeeded.ShouldBeTrue(again.ErrorMessage);
        refresh.Succeeded.ShouldBeTrue(refresh.ErrorMessage);
        refresh.CapacityBytes.ShouldNotBeNull().ShouldBeGreaterThan(0);
        refresh.AvailableBytes.ShouldNotBeNull().ShouldBeGreaterThan(0);
        using var reused = _libvirt.FindStoragePool(spec.LibvirtName).ShouldNotBeNull();
        StoragePools.TargetPath(reused).ShouldBe(spec.Path, "an existing pool is reused as it is, not redefined");
        reused.FindVolume("kept.raw").ShouldNotBeNull().Dispose();
    }

    [Fact]
    public async Task a_pool_named_otherwise_than_after_its_id_is_refused_and_nothing_is_defined()
    {
        var spec = NewPool() with { LibvirtName = "default-pool" };

        var outcome = await RunAsync(StorageCommand(StorageOperationKind.DeletePool, spec, InAMinute));

        outcome.Succeeded.ShouldBeFalse();
        outcome.ErrorCode.ShouldBe("INVALID_SPEC");
        outcome.ErrorMessage.ShouldNotBeNull().ShouldContain(StoragePoolSpecification.LibvirtNameFor(spec.PoolId));
        using var untouched = _libvirt.FindStoragePool("default-pool").ShouldNotBeNull();
        untouched.IsActive.ShouldBeTrue();
    }

    [Fact]
    public async Task deleting_a_pool_with_volumes_is_refused_with_POOL_NOT_EMPTY_and_an_empty_one_is_undefined()
    {
        var spec = NewPool();
        var volume = new VolumeSpecification(Guid.NewGuid(), "disk-1.qcow2", "qcow2", 8 * MiB);
        (await RunAsync(StorageCommand(StorageOperationKind.CreateVolume, spec, InAMinute, volume))).Succeeded.ShouldBeTrue();

        var refused = await RunAsync(StorageCommand(StorageOperationKind.DeletePool, spec, InAMinute));

        refused.Succeeded.ShouldBeFalse();
        refused.ErrorCode.ShouldBe("POOL_NOT_EMPTY");
        refused.ErrorMessage.ShouldNotBeNull().ShouldContain("disk-1.qcow2");
        _libvirt.FindStoragePool(spec.LibvirtName).ShouldNotBeNull().Dispose();

        (await RunAsync(StorageCommand(StorageOperationKind.DeleteVolume, spec, InAMinute, volume))).Succeeded.ShouldBeTrue();
        var deleted = await RunAsync(StorageCommand(StorageOperationKind.DeletePool, spec, InAMinute));
        var again = await RunAsync(StorageCommand(StorageOperationKind.DeletePool, spec, InAMinute));

        deleted.ShouldBe(StorageOutcome.Done);
        again.ShouldBe(StorageOutcome.Done, "a pool that is gone is deleted");
        _libvirt.FindStoragePool(spec.LibvirtName).ShouldBeNull();
    }

    [Fact]
    public async Task a_blank_volume_is_created_in_a_pool_made_on_the_way_and_a_redelivery_keeps_it()
    {
        var spec = NewPool();
        var volume = new VolumeSpecification(Guid.NewGuid(), "data.qcow2", "qcow2", 16 * MiB);
        var create = StorageCommand(StorageOperationKind.CreateVolume, spec, InAMinute, volume);

        var first = await RunAsync(create);
        var again = await RunAsync(create with { Volume = volume with { SizeBytes = 64 * MiB } });

        first.Succeeded.ShouldBeTrue(first.ErrorMessage);
        first.CapacityBytes.ShouldBe(16 * MiB);
        first.Path.ShouldBe($"{spec.Path}/data.qcow2");
        again.ShouldBe(first, "the volume made by the first delivery is reported, not made again");
        using var pool = _libvirt.FindStoragePool(spec.LibvirtName).ShouldNotBeNull();
        using var made = pool.FindVolume("data.qcow2").ShouldNotBeNull();
        made.GetInfo().CapacityBytes.ShouldBe(16 * MiB);
    }

    [Fact]
    public async Task deleting_a_volume_removes_it_and_deleting_a_missing_one_succeeds()
    {
        var spec = NewPool();
        var volume = new VolumeSpecification(Guid.NewGuid(), "gone.raw", "raw", MiB);
        (await RunAsync(StorageCommand(StorageOperationKind.CreateVolume, spec, InAMinute, volume))).Succeeded.ShouldBeTrue();

        var deleted = await RunAsync(StorageCommand(StorageOperationKind.DeleteVolume, spec, InAMinute, volume));
        var again = await RunAsync(StorageCommand(StorageOperationKind.DeleteVolume, spec, InAMinute, volume));

        deleted.ShouldBe(StorageOutcome.Done);
        again.ShouldBe(StorageOutcome.Done);
        using var pool = _libvirt.FindStoragePool(spec.LibvirtName).ShouldNotBeNull();
        pool.FindVolume("gone.raw").ShouldBeNull();
    }

    [Fact]
    public async Task an_operation_whose_deadline_has_passed_fails_with_DEADLINE_PASSED_and_defines_nothing()
    {
        var spec = NewPool();
        var create = StorageCommand(StorageOperationKind.CreatePool, spec, _clock.GetUtcNow().AddSeconds(5));
        _clock.Advance(TimeSpan.FromSeconds(5));

        var outcome = await RunAsync(create);

        outcome.Succeeded.ShouldBeFalse();
        outcome.ErrorCode.ShouldBe("DEADLINE_PASSED");
        outcome.ErrorMessage.ShouldNotBeNull().ShouldContain(create.Deadline.ToString("O"));
        _libvirt.FindStoragePool(spec.LibvirtName).ShouldBeNull();
    }

    [Fact]
    public async Task a_libvirt_error_fails_with_libvirts_code_and_its_own_message()
    {
        var spec = NewPool();
        var volume = new VolumeSpecification(Guid.NewGuid(), "grow.raw", "raw", MiB);
        (await RunAsync(StorageCommand(StorageOperationKind.CreateVolume, spec, InAMinute, volume))).Succeeded.ShouldBeTrue();

        // The test driver has no volume resize.
        var outcome = await RunAsync(StorageCommand(StorageOperationKind.ResizeVolume, spec, InAMinute, volume, sizeBytes: 2 * MiB));

        outcome.Succeeded.ShouldBeFalse();
        outcome.ErrorCode.ShouldBe("LIBVIRT_NO_SUPPORT");
        outcome.ErrorMessage.ShouldNotBeNull().ShouldContain("virStorageVolResize");
    }

    [Theory]
    [InlineData(StorageOperationKind.ResizeVolume)]
    [InlineData(StorageOperationKind.SnapshotVolume)]
    public async Task an_operation_on_a_volume_the_pool_does_not_hold_fails_with_VOLUME_NOT_FOUND(StorageOperationKind kind)
    {
        var spec = NewPool();
        var volume = new VolumeSpecification(Guid.NewGuid(), "absent.qcow2", "qcow2", MiB);

        var outcome = await RunAsync(StorageCommand(kind, spec, InAMinute, volume, snapshotName: "s1", sizeBytes: 2 * MiB));

        outcome.Succeeded.ShouldBeFalse();
        outcome.ErrorCode.ShouldBe("VOLUME_NOT_FOUND");
        outcome.ErrorMessage.ShouldNotBeNull().ShouldContain("absent.qcow2");
    }

    [Fact]
    public async Task a_snapshot_of_a_raw_volume_is_refused_with_NOT_SUPPORTED_saying_why()
    {
        var spec = NewPool();
        var volume = new VolumeSpecification(Guid.NewGuid(), "plain.raw", "raw", MiB);

        var outcome = await RunAsync(StorageCommand(StorageOperationKind.SnapshotVolume, spec, InAMinute, volume, snapshotName: "s1"));

        outcome.Succeeded.ShouldBeFalse();
        outcome.ErrorCode.ShouldBe("NOT_SUPPORTED");
        outcome.ErrorMessage.ShouldNotBeNull().ShouldContain("qcow2");
    }

    [Fact]
    public async Task a_clone_of_a_volume_the_pool_does_not_hold_fails_with_VOLUME_NOT_FOUND()
    {
        var spec = NewPool();
        var volume = new VolumeSpecification(Guid.NewGuid(), "clone.qcow2", "qcow2", MiB, CloneOfName: "base.qcow2", CloneOfFormat: "qcow2", Linked: true);

        var outcome = await RunAsync(StorageCommand(StorageOperationKind.CreateVolume, spec, InAMinute, volume));

        outcome.ErrorCode.ShouldBe("VOLUME_NOT_FOUND");
        outcome.ErrorMessage.ShouldNotBeNull().ShouldContain("base.qcow2");
    }

    [Fact]
    public async Task a_qcow2_volume_or_import_in_an_rbd_pool_fails_with_NOT_SUPPORTED_before_touching_libvirt()
    {
        var rbd = RbdPool("vms", ["127.0.0.1:6789"], "libvirt");
        _pools.Add(rbd.LibvirtName);
        var volume = new VolumeSpecification(Guid.NewGuid(), "image", "qcow2", MiB);

        var blank = await RunAsync(StorageCommand(StorageOperationKind.CreateVolume, rbd, InAMinute, volume));
        var import = await RunAsync(StorageCommand(StorageOperationKind.CreateVolume, rbd, InAMinute,
            volume with { ImportUrl = "http://127.0.0.1:1/x.qcow2", Sha256 = new string('0', 64) }));

        blank.ErrorCode.ShouldBe("NOT_SUPPORTED");
        blank.ErrorMessage.ShouldNotBeNull().ShouldContain("RBD images are raw");
        import.ErrorCode.ShouldBe("NOT_SUPPORTED");
        _libvirt.FindStoragePool(rbd.LibvirtName).ShouldBeNull();
    }

    [Fact]
    public async Task an_rbd_pool_without_a_configured_cephx_key_fails_with_CEPH_KEY_MISSING()
    {
        var id = Guid.NewGuid();
        var rbd = new StoragePoolSpecification(id, StoragePoolSpecification.LibvirtNameFor(id), "rbd", null, "vms", ["127.0.0.1:6789"], "qkvm-nobody");
        _pools.Add(rbd.LibvirtName);

        var outcome = await RunAsync(StorageCommand(StorageOperationKind.CreatePool, rbd, InAMinute));

        outcome.ErrorCode.ShouldBe("CEPH_KEY_MISSING");
        outcome.ErrorMessage.ShouldNotBeNull().ShouldContain("client.qkvm-nobody");
        _libvirt.FindStoragePool(rbd.LibvirtName).ShouldBeNull();
    }

    [Theory]
    [InlineData("10.0.0.1:6789", "10.0.0.1", 6789)]
    [InlineData("mon-a:3300", "mon-a", 3300)]
    [InlineData("mon-b", "mon-b", 6789)]
    [InlineData("[::1]:16790", "::1", 16790)]
    public void ceph_monitors_are_read_as_host_and_port(string monitor, string host, int port) =>
        StoragePools.ParseMonitors([monitor]).ShouldBe([(host, port)]);

    [Theory]
    [InlineData("mon:")]
    [InlineData("mon:99999")]
    [InlineData(":6789")]
    [InlineData("[::1]x")]
    public void a_monitor_that_is_not_host_and_port_is_refused_with_INVALID_SPEC(string monitor) =>
        Should.Throw<OperationFailure>(() => StoragePools.ParseMonitors([monitor])).Code.ShouldBe("INVALID_SPEC");

    [Fact]
    public void the_key_of_the_pools_user_is_read_from_its_own_keyring_section()
    {
        const string keyring = "[client.admin]\n\tkey = AQadmin==\n[client.libvirt]\n\tkey = AQlibvirt==\n\tcaps mon = \"profile rbd\"\n";

        StoragePools.KeyFromKeyring(keyring, "libvirt").ShouldBe("AQlibvirt==");
        StoragePools.KeyFromKeyring(keyring, "admin").ShouldBe("AQadmin==");
        StoragePools.KeyFromKeyring(keyring, "other").ShouldBeNull();
    }

    [Fact]
    public void the_ceph_secret_uuid_is_the_same_for_a_user_on_every_host_and_differs_between_users()
    {
        StoragePools.CephSecretUuid("libvirt").ShouldBe(StoragePools.CephSecretUuid("libvirt"));
        StoragePools.CephSecretUuid("libvirt").ShouldNotBe(StoragePools.CephSecretUuid("quantixkvm"));
        StoragePools.CephSecretUuid("libvirt").ToString()[14].ShouldBe('5');
    }

    private StoragePoolSpecification NewPool()
    {
        var spec = DirPool($"/qkvm-test/{Guid.NewGuid():N}");
        _pools.Add(spec.LibvirtName);
        return spec;
    }

    private Task<StorageOutcome> RunAsync(RunStorageOperation command) => _operations.RunAsync(command, CancellationToken.None);
}
