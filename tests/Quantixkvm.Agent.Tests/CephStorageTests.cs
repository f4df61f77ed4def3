using System.Diagnostics;
using System.Security.Cryptography;
using System.Xml.Linq;
using Quantixkvm.Agent.Hypervisor;
using Quantixkvm.Agent.Storage;
using Quantixkvm.Agent.Tests.Support;
using Quantixkvm.Contracts;
using Quantixkvm.Libvirt;
using Quantixkvm.Testing;
using static Quantixkvm.Agent.Tests.Support.AgentParts;

namespace Quantixkvm.Agent.Tests;

/// <summary>
/// RBD pools on the real Ceph cluster of infra/dev/ceph.sh, through a private session libvirtd: pools, volumes,
/// RBD clones, imports and snapshots, read back with the rbd tool; and RBD volumes as network disks of a domain.
/// The Ceph pool is shared with other tests, so every image is named uniquely and removed afterwards, and the
/// libvirt pools are only undefined (never emptied).
/// </summary>
public sealed class CephStorageTests : IClassFixture<SessionHypervisor>, IClassFixture<CephFixture>, IDisposable
{
    private const long MiB = 1024 * 1024;

    private readonly SessionHypervisor _host;
    private readonly CephCluster _ceph;
    private readonly string _imports;
    private readonly string _work;
    private readonly List<string> _pools = [];
    private readonly List<string> _images = [];
    private readonly List<Guid> _vms = [];

    public CephStorageTests(SessionHypervisor host, CephFixture ceph)
    {
        _host = host;
        _ceph = ceph.Cluster;
        var scratch = Path.Combine(host.Scratch, Guid.NewGuid().ToString("N"));
        _imports = Directory.CreateDirectory(Path.Combine(scratch, "imports")).FullName;
        _work = Path.Combine(scratch, "work");
    }

    private static DateTimeOffset InAMinute => DateTimeOffset.UtcNow.AddMinutes(1);

    public void Dispose()
    {
        foreach (var vmId in _vms)
        {
            TestHypervisor.Remove(_host.Libvirt, vmId);
        }

        // Clones were named after their bases: removed first.
        _ceph.TryRemove([.. Enumerable.Reverse(_images)]);
        foreach (var name in _pools)
        {
            try
            {
                using var pool = _host.Libvirt.FindStoragePool(name);
                if (pool?.IsActive == true)
                {
                    pool.Destroy();
                }

                pool?.Undefine();
            }
            catch (LibvirtException)
            {
                // Best effort.
            }
        }
    }

    [Fact]
    public async Task a_changed_key_in_this_hosts_configuration_reaches_libvirt_with_the_next_operation_on_the_pool()
    {
        var pool = NewPool();
        (await RunAsync(StorageCommand(StorageOperationKind.CreatePool, pool, InAMinute))).Succeeded.ShouldBeTrue();

        // Another (wrong) key: libvirt must now use it, so Ceph refuses the refresh.
        var rotated = Options();
        rotated.Ceph = new CephOptions { ConfPath = _ceph.ConfPath, Key = Convert.ToBase64String(RandomNumberGenerator.GetBytes(28)) };
        var refused = await RunAsync(StorageCommand(StorageOperationKind.RefreshPool, pool, InAMinute), rotated);
        refused.Succeeded.ShouldBeFalse("the pool's secret now holds the wrong key");

        var restored = await RunAsync(StorageCommand(StorageOperationKind.RefreshPool, pool, InAMinute));
        restored.Succeeded.ShouldBeTrue(restored.ErrorMessage);
    }

    [Fact]
    public async Task an_rbd_pool_is_defined_with_this_hosts_ceph_secret_started_and_a_refresh_sees_images_made_behind_libvirts_back()
    {
        var pool = NewPool();

        var created = await RunAsync(StorageCommand(StorageOperationKind.CreatePool, pool, InAMinute));

        created.Succeeded.ShouldBeTrue(created.ErrorMessage);
        using (var libvirtPool = _host.Libvirt.FindStoragePool(pool.LibvirtName).ShouldNotBeNull())
        {
            libvirtPool.IsActive.ShouldBeTrue();
            var source = XDocument.Parse(libvirtPool.GetXml()).Root!.Element("source")!;
            source.Element("name")!.Value.ShouldBe(_ceph.Pool);
            source.Element("auth")!.Element("secret")!.Attribute("uuid")!.Value.ShouldBe(StoragePools.CephSecretUuid(_ceph.User).ToString());
        }

        _host.Libvirt.FindSecret(StoragePools.CephSecretUuid(_ceph.User)).ShouldNotBeNull().Dispose();

        var outsider = Image("outsider");
        _ceph.Rbd("create", "--size", "4M", $"{_ceph.Pool}/{outsider}");
        var refreshed = await RunAsync(StorageCommand(StorageOperationKind.RefreshPool, pool, InAMinute));

        refreshed.Succeeded.ShouldBeTrue(refreshed.ErrorMessage);
        using var again = _host.Libvirt.FindStoragePool(pool.LibvirtName)!;
        using var seen = again.FindVolume(outsider).ShouldNotBeNull();
        seen.Path.ShouldBe($"{_ceph.Pool}/{outsider}");
        seen.GetInfo().CapacityBytes.ShouldBe(4 * MiB);
    }

    [Fact]
    public async Task an_rbd_volume_is_created_raw_grown_refused_to_shrink_and_deleted_once_however_often_asked()
    {
        var pool = NewPool();
        var volume = Volume(Image("data"), 16 * MiB);

        var created = await RunAsync(StorageCommand(StorageOperationKind.CreateVolume, pool, InAMinute, volume));
        var qcow2 = await RunAsync(StorageCommand(StorageOperationKind.CreateVolume, pool, InAMinute, Volume(Image("qcow2"), MiB) with { Format = "qcow2" }));

        created.Succeeded.ShouldBeTrue(created.ErrorMessage);
        created.Path.ShouldBe($"{_ceph.Pool}/{volume.Name}");
        created.CapacityBytes.ShouldBe(16 * MiB);
        _ceph.Size(volume.Name).ShouldBe(16 * MiB);
        qcow2.ErrorCode.ShouldBe("NOT_SUPPORTED");

        var grown = await RunAsync(StorageCommand(StorageOperationKind.ResizeVolume, pool, InAMinute, volume, sizeBytes: 32 * MiB));
        var shrink = await RunAsync(StorageCommand(StorageOperationKind.ResizeVolume, pool, InAMinute, volume, sizeBytes: 8 * MiB));

        grown.CapacityBytes.ShouldBe(32 * MiB, grown.ErrorMessage);
        _ceph.Size(volume.Name).ShouldBe(32 * MiB);
        shrink.ErrorCode.ShouldBe("VOLUME_SHRINK_REFUSED");

        var deleted = await RunAsync(StorageCommand(StorageOperationKind.DeleteVolume, pool, InAMinute, volume));
        var deletedAgain = await RunAsync(StorageCommand(StorageOperationKind.DeleteVolume, pool, InAMinute, volume));

        deleted.ShouldBe(StorageOutcome.Done, deleted.ErrorMessage);
        deletedAgain.ShouldBe(StorageOutcome.Done, deletedAgain.ErrorMessage);
        _ceph.Images().ShouldNotContain(volume.Name);
    }

    [Fact]
    public async Task an_import_with_the_right_checksum_becomes_an_rbd_image_that_reads_back_as_the_file_and_leaves_no_temporary_file_or_image()
    {
        var pool = NewPool();
        var (file, data, sha) = await SourceFileAsync();
        var volume = Volume(Image("imported"), MiB) with { ImportUrl = new Uri(file).AbsoluteUri, Sha256 = sha };
        var import = StorageCommand(StorageOperationKind.CreateVolume, pool, InAMinute, volume);

        var outcome = await RunAsync(import);

        outcome.Succeeded.ShouldBeTrue(outcome.ErrorMessage);
        outcome.Path.ShouldBe($"{_ceph.Pool}/{volume.Name}");
        outcome.CapacityBytes.ShouldBe(data.Length);
        _ceph.Export(volume.Name).ShouldBe(data);
        _ceph.Images().ShouldNotContain(StorageOperations.StagingImageName(import.OperationId));
        Directory.GetFiles(_work).ShouldBeEmpty("the downloaded image is removed once written");

        File.Delete(file);
        var again = await RunAsync(import);
        again.ShouldBe(outcome, "a redelivery finds the volume made by the first");
    }

    [Fact]
    public async Task an_import_with_the_wrong_checksum_fails_with_CHECKSUM_MISMATCH_and_leaves_no_image_and_no_file()
    {
        var pool = NewPool();
        var (file, _, sha) = await SourceFileAsync();
        var wrong = new string(sha.Reverse().ToArray());
        var volume = Volume(Image("bad"), MiB) with { ImportUrl = new Uri(file).AbsoluteUri, Sha256 = wrong };
        var import = StorageCommand(StorageOperationKind.CreateVolume, pool, InAMinute, volume);

        var outcome = await RunAsync(import);

        outcome.Succeeded.ShouldBeFalse();
        outcome.ErrorCode.ShouldBe("CHECKSUM_MISMATCH");
        outcome.ErrorMessage.ShouldNotBeNull().ShouldContain(sha);
        var images = _ceph.Images();
        images.ShouldNotContain(volume.Name);
        images.ShouldNotContain(StorageOperations.StagingImageName(import.OperationId));
        Directory.GetFiles(_work).ShouldBeEmpty();
    }

    [Fact]
    public async Task an_import_into_ceph_still_running_at_the_deadline_is_cut_off_with_DEADLINE_PASSED_and_leaves_no_file_and_no_image()
    {
        var pool = NewPool();
        await using var server = new TinyHttpServer("/slow.raw", new byte[4 * MiB], stallAfter: (int)MiB);
        var clock = new FakeTimeProvider();
        var operations = StorageOps(_host.Hypervisor, clock, Options());
        var volume = Volume(Image("slow"), MiB) with { ImportUrl = server.Url, Sha256 = new string('0', 64) };
        var import = StorageCommand(StorageOperationKind.CreateVolume, pool, clock.GetUtcNow().AddMinutes(10), volume);

        var running = operations.RunAsync(import, CancellationToken.None);
        await Eventually.UntilAsync(
            () => Directory.Exists(_work) && Directory.GetFiles(_work).Any(f => new FileInfo(f).Length >= MiB), "the first MiB downloaded");
        running.IsCompleted.ShouldBeFalse();
        clock.Advance(TimeSpan.FromMinutes(10));
        var outcome = await running.WaitAsync(TimeSpan.FromSeconds(30));

        outcome.ErrorCode.ShouldBe("DEADLINE_PASSED", outcome.ErrorMessage);
        Directory.GetFiles(_work).ShouldBeEmpty();
        var images = _ceph.Images();
        images.ShouldNotContain(volume.Name);
        images.ShouldNotContain(StorageOperations.StagingImageName(import.OperationId));
    }

    [Fact]
    public async Task a_linked_clone_is_an_rbd_clone_a_full_clone_stands_alone_and_the_base_is_deleted_once_no_clone_depends_on_it()
    {
        var pool = NewPool();
        var (file, data, sha) = await SourceFileAsync();
        var source = Volume(Image("base"), MiB) with { ImportUrl = new Uri(file).AbsoluteUri, Sha256 = sha };
        (await RunAsync(StorageCommand(StorageOperationKind.CreateVolume, pool, InAMinute, source))).Succeeded.ShouldBeTrue();
        var linked = Volume(Image("linked"), MiB) with { CloneOfName = source.Name, CloneOfFormat = "raw", Linked = true };
        var full = Volume(Image("full"), 2 * MiB) with { CloneOfName = source.Name, CloneOfFormat = "raw" };

        var linkedOutcome = await RunAsync(StorageCommand(StorageOperationKind.CreateVolume, pool, InAMinute, linked));
        var fullOutcome = await RunAsync(StorageCommand(StorageOperationKind.CreateVolume, pool, InAMinute, full));

        linkedOutcome.Succeeded.ShouldBeTrue(linkedOutcome.ErrorMessage);
        linkedOutcome.CapacityBytes.ShouldBe(data.Length);
        _ceph.Parent(linked.Name).ShouldNotBeNull().ShouldStartWith($"{_ceph.Pool}/{source.Name}@libvirt-");
        _ceph.Export(linked.Name).ShouldBe(data);
        fullOutcome.Succeeded.ShouldBeTrue(fullOutcome.ToString());
        fullOutcome.CapacityBytes.ShouldBe(2 * MiB, "a clone grows to the asked size");
        _ceph.Parent(full.Name).ShouldBeNull("a full clone is flattened");
        _ceph.Export(full.Name)[..data.Length].ShouldBe(data);

        var refused = await RunAsync(StorageCommand(StorageOperationKind.DeleteVolume, pool, InAMinute, source));

        refused.Succeeded.ShouldBeFalse("Ceph keeps a base while a linked clone depends on it");
        _ceph.Images().ShouldContain(source.Name);
        _ceph.Export(linked.Name).ShouldBe(data);

        (await RunAsync(StorageCommand(StorageOperationKind.DeleteVolume, pool, InAMinute, linked))).ShouldBe(StorageOutcome.Done);
        var deleted = await RunAsync(StorageCommand(StorageOperationKind.DeleteVolume, pool, InAMinute, source));

        deleted.ShouldBe(StorageOutcome.Done, deleted.ErrorMessage);
        _ceph.Images().ShouldNotContain(source.Name);
        _ceph.Export(full.Name)[..data.Length].ShouldBe(data, "the full clone outlives its source");
    }

    [Fact]
    public async Task an_rbd_volume_snapshot_is_taken_once_reverted_to_and_deleted_with_the_key_from_the_agents_configuration()
    {
        // The key itself, no keyring file: the agent writes a keyring for each rbd run and removes it.
        var options = Options();
        options.Ceph = new CephOptions { ConfPath = _ceph.ConfPath, Key = _ceph.Key };
        var pool = NewPool();
        var volume = Volume(Image("snap"), 8 * MiB);
        (await RunAsync(StorageCommand(StorageOperationKind.CreateVolume, pool, InAMinute, volume), options)).Succeeded.ShouldBeTrue();
        WritePattern(volume.Name, 0x11);

        var taken = await RunAsync(StorageCommand(StorageOperationKind.SnapshotVolume, pool, InAMinute, volume, snapshotName: "before upgrade"), options);
        var takenAgain = await RunAsync(StorageCommand(StorageOperationKind.SnapshotVolume, pool, InAMinute, volume, snapshotName: "before upgrade"), options);
        WritePattern(volume.Name, 0x22);
        var reverted = await RunAsync(StorageCommand(StorageOperationKind.RevertVolume, pool, InAMinute, volume, snapshotName: "before upgrade"), options);

        taken.Succeeded.ShouldBeTrue(taken.ErrorMessage);
        takenAgain.Succeeded.ShouldBeTrue(takenAgain.ErrorMessage);
        reverted.Succeeded.ShouldBeTrue(reverted.ErrorMessage);
        _ceph.Snapshots(volume.Name).ShouldBe(["before upgrade"], "a repeated snapshot is not taken twice");
        _ceph.Export(volume.Name)[..65536].ShouldAllBe(b => b == 0x11, "the revert brought back the data of the snapshot");

        var deleted = await RunAsync(StorageCommand(StorageOperationKind.DeleteVolumeSnapshot, pool, InAMinute, volume, snapshotName: "before upgrade"), options);
        var deletedAgain = await RunAsync(StorageCommand(StorageOperationKind.DeleteVolumeSnapshot, pool, InAMinute, volume, snapshotName: "before upgrade"), options);
        var revertMissing = await RunAsync(StorageCommand(StorageOperationKind.RevertVolume, pool, InAMinute, volume, snapshotName: "before upgrade"), options);
        var reserved = await RunAsync(StorageCommand(StorageOperationKind.SnapshotVolume, pool, InAMinute, volume, snapshotName: "libvirt-1"), options);

        deleted.Succeeded.ShouldBeTrue(deleted.ErrorMessage);
        deletedAgain.Succeeded.ShouldBeTrue(deletedAgain.ErrorMessage);
        _ceph.Snapshots(volume.Name).ShouldBeEmpty();
        revertMissing.ErrorCode.ShouldBe("SNAPSHOT_NOT_FOUND");
        reserved.ErrorCode.ShouldBe("INVALID_SPEC");
        Directory.GetFiles(_work).ShouldBeEmpty("no keyring is left behind");
    }

    [Fact]
    public async Task an_rbd_volume_is_a_network_disk_of_its_domain_and_is_attached_and_detached_once_however_often_asked()
    {
        var options = Options();
        var domains = Domains(_host.Hypervisor, TimeProvider.System, options);
        var pool = NewPool();
        var root = Volume(Image("root"), 8 * MiB);
        var data = Volume(Image("extra"), 8 * MiB);
        foreach (var volume in new[] { root, data })
        {
            (await RunAsync(StorageCommand(StorageOperationKind.CreateVolume, pool, InAMinute, volume))).Succeeded.ShouldBeTrue();
        }

        var vmId = Guid.NewGuid();
        _vms.Add(vmId);
        var created = await domains.RunAsync(TestHypervisor.Command(DomainOperationKind.Create, vmId, InAMinute) with
        {
            DesiredPowerState = DomainPowerState.Stopped,
            Disks = [new DiskAttachment(root.VolumeId, "vda", "virtio", 1, false, pool, root.Name, "raw")],
        }, TimeSpan.FromSeconds(1), CancellationToken.None);

        created.ShouldBe(new DomainOutcome(true, DomainPowerState.Stopped), created.ErrorMessage);
        using var domain = _host.Libvirt.FindDomain(vmId).ShouldNotBeNull();
        domain.ListDisks().ShouldBe([new DomainDisk("vda", "disk", null, null, null, DomainOperations.DiskSerial(root.VolumeId), "rbd", $"{_ceph.Pool}/{root.Name}")]);
        var disk = XDocument.Parse(domain.GetXml()).Root!.Element("devices")!.Element("disk")!;
        disk.Attribute("type")!.Value.ShouldBe("network");
        disk.Element("driver")!.Attribute("cache")!.Value.ShouldBe("none");
        var source = disk.Element("source")!;
        $"{source.Element("host")!.Attribute("name")!.Value}:{source.Element("host")!.Attribute("port")!.Value}".ShouldBe(_ceph.Monitor);
        source.Element("auth")!.Attribute("username")!.Value.ShouldBe(_ceph.User);
        source.Element("auth")!.Element("secret")!.Attribute("uuid")!.Value.ShouldBe(StoragePools.CephSecretUuid(_ceph.User).ToString());

        var extra = new DiskAttachment(data.VolumeId, "vdb", "virtio", null, false, pool, data.Name, "raw");
        var attached = await domains.RunAsync(TestHypervisor.Command(DomainOperationKind.AttachDisk, vmId, InAMinute) with { Disk = extra }, TimeSpan.FromSeconds(1), CancellationToken.None);
        var attachedAgain = await domains.RunAsync(TestHypervisor.Command(DomainOperationKind.AttachDisk, vmId, InAMinute) with { Disk = extra }, TimeSpan.FromSeconds(1), CancellationToken.None);

        attached.ShouldBe(new DomainOutcome(true, DomainPowerState.Stopped), attached.ErrorMessage);
        attachedAgain.ShouldBe(attached, attachedAgain.ErrorMessage);
        domain.ListDisks().Select(d => (d.TargetDev, d.SourceName)).ShouldBe([("vda", $"{_ceph.Pool}/{root.Name}"), ("vdb", $"{_ceph.Pool}/{data.Name}")]);

        // Another volume at vdb is not this disk: left alone.
        var other = extra with { VolumeId = Guid.NewGuid(), VolumeName = root.Name + "-other" };
        (await domains.RunAsync(TestHypervisor.Command(DomainOperationKind.DetachDisk, vmId, InAMinute) with { Disk = other }, TimeSpan.FromSeconds(1), CancellationToken.None))
            .Succeeded.ShouldBeTrue();
        domain.ListDisks().Count.ShouldBe(2);
        var detached = await domains.RunAsync(TestHypervisor.Command(DomainOperationKind.DetachDisk, vmId, InAMinute) with { Disk = extra }, TimeSpan.FromSeconds(1), CancellationToken.None);
        var detachedAgain = await domains.RunAsync(TestHypervisor.Command(DomainOperationKind.DetachDisk, vmId, InAMinute) with { Disk = extra }, TimeSpan.FromSeconds(1), CancellationToken.None);

        detached.Succeeded.ShouldBeTrue(detached.ErrorMessage);
        detachedAgain.Succeeded.ShouldBeTrue(detachedAgain.ErrorMessage);
        domain.ListDisks().Select(d => d.TargetDev).ShouldBe(["vda"]);
    }

    private AgentOptions Options() => new()
    {
        ImportRoots = [_imports],
        WorkDirectory = _work,
        Ceph = new CephOptions { ConfPath = _ceph.ConfPath, KeyringPath = _ceph.KeyringPath },
    };

    private StoragePoolSpecification NewPool()
    {
        var spec = RbdPool(_ceph.Pool, [_ceph.Monitor], _ceph.User);
        _pools.Add(spec.LibvirtName);
        return spec;
    }

    private string Image(string suffix)
    {
        var name = CephCluster.UniqueImage(suffix);
        _images.Add(name);
        return name;
    }

    private static VolumeSpecification Volume(string name, long size) => new(Guid.NewGuid(), name, "raw", size);

    private async Task<(string File, byte[] Data, string Sha256)> SourceFileAsync()
    {
        var data = RandomNumberGenerator.GetBytes((int)MiB + 4096);
        var file = Path.Combine(_imports, $"image-{Guid.NewGuid():N}.raw");
        await File.WriteAllBytesAsync(file, data);
        return (file, data, Convert.ToHexStringLower(SHA256.HashData(data)));
    }

    /// <summary>Writes a byte pattern into the first 64 KiB of an image, as a guest would (qemu-io through QEMU's rbd driver).</summary>
    private void WritePattern(string image, byte pattern)
    {
        var start = new ProcessStartInfo("qemu-io") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var argument in new[] { "-f", "raw", "-c", $"write -P 0x{pattern:x2} 0 64k", _ceph.QemuName(image) })
        {
            start.ArgumentList.Add(argument);
        }

        using var process = Process.Start(start)!;
        var output = process.StandardOutput.ReadToEnd() + process.StandardError.ReadToEnd();
        process.WaitForExit();
        process.ExitCode.ShouldBe(0, output);
    }

    private Task<StorageOutcome> RunAsync(RunStorageOperation command, AgentOptions? options = null) =>
        StorageOps(_host.Hypervisor, TimeProvider.System, options ?? Options()).RunAsync(command, CancellationToken.None);
}
