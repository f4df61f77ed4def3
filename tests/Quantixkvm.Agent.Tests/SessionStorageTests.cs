using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using Quantixkvm.Agent.Storage;
using Quantixkvm.Agent.Tests.Support;
using Quantixkvm.Contracts;
using static Quantixkvm.Agent.Tests.Support.AgentParts;

namespace Quantixkvm.Agent.Tests;

/// <summary>
/// Storage operations on a real libvirt (a private session daemon's QEMU driver): real folders, image
/// files that qemu-img reads back, imports from files and HTTP.
/// </summary>
public sealed class SessionStorageTests : IClassFixture<SessionHypervisor>, IDisposable
{
    private const long MiB = 1024 * 1024;

    private readonly SessionHypervisor _host;
    private readonly List<string> _pools = [];
    private readonly string _imports;
    private readonly string _outside;

    public SessionStorageTests(SessionHypervisor host)
    {
        _host = host;
        _imports = Directory.CreateDirectory(Path.Combine(host.Scratch, "imports", Guid.NewGuid().ToString("N"))).FullName;
        _outside = Directory.CreateDirectory(Path.Combine(host.Scratch, "outside", Guid.NewGuid().ToString("N"))).FullName;
    }

    private static DateTimeOffset InAMinute => DateTimeOffset.UtcNow.AddMinutes(1);

    public void Dispose()
    {
        foreach (var name in _pools)
        {
            _host.RemovePool(name);
        }
    }

    [Fact]
    public async Task a_dir_pool_is_built_as_a_folder_refreshed_to_see_new_files_and_never_deleted_while_it_holds_any()
    {
        var pool = NewPool();

        var created = await RunAsync(StorageCommand(StorageOperationKind.CreatePool, pool, InAMinute));

        created.Succeeded.ShouldBeTrue(created.ErrorMessage);
        Directory.Exists(pool.Path).ShouldBeTrue("libvirt built the folder");
        created.CapacityBytes.ShouldNotBeNull().ShouldBeGreaterThan(0);
        created.AvailableBytes.ShouldNotBeNull().ShouldBeGreaterThan(0);
        using (var libvirtPool = _host.Libvirt.FindStoragePool(pool.LibvirtName).ShouldNotBeNull())
        {
            libvirtPool.IsActive.ShouldBeTrue();
            libvirtPool.GetXml().ShouldContain(pool.PoolId.ToString());
        }

        // Someone else's file in the folder: a refresh shows it, and the pool is not deleted over it.
        var foreign = Path.Combine(pool.Path!, "operator-notes.txt");
        await File.WriteAllBytesAsync(foreign, new byte[3 * MiB]);
        var refreshed = await RunAsync(StorageCommand(StorageOperationKind.RefreshPool, pool, InAMinute));
        var refused = await RunAsync(StorageCommand(StorageOperationKind.DeletePool, pool, InAMinute));

        refreshed.AllocationBytes.ShouldNotBeNull().ShouldBeGreaterThan(created.AllocationBytes!.Value);
        refused.Succeeded.ShouldBeFalse();
        refused.ErrorCode.ShouldBe("POOL_NOT_EMPTY");
        refused.ErrorMessage.ShouldNotBeNull().ShouldContain("operator-notes.txt");
        File.Exists(foreign).ShouldBeTrue();
        _host.Libvirt.FindStoragePool(pool.LibvirtName).ShouldNotBeNull().Dispose();

        File.Delete(foreign);
        var deleted = await RunAsync(StorageCommand(StorageOperationKind.DeletePool, pool, InAMinute));

        deleted.ShouldBe(StorageOutcome.Done);
        _host.Libvirt.FindStoragePool(pool.LibvirtName).ShouldBeNull();
        Directory.Exists(pool.Path).ShouldBeTrue("deleting a pool never deletes its folder");
    }

    [Fact]
    public async Task a_blank_qcow2_volume_is_a_thin_qcow2_image_of_the_asked_size()
    {
        var pool = NewPool();
        var volume = Volume("root.qcow2", "qcow2", 32 * MiB);

        var outcome = await RunAsync(StorageCommand(StorageOperationKind.CreateVolume, pool, InAMinute, volume));

        outcome.Succeeded.ShouldBeTrue(outcome.ErrorMessage);
        outcome.Path.ShouldBe(Path.Combine(pool.Path!, "root.qcow2"));
        outcome.CapacityBytes.ShouldBe(32 * MiB);
        outcome.AllocationBytes.ShouldNotBeNull().ShouldBeLessThan(32 * MiB);
        var info = Tools.QemuImgInfo(outcome.Path!);
        info.GetProperty("format").GetString().ShouldBe("qcow2");
        info.GetProperty("virtual-size").GetInt64().ShouldBe(32 * MiB);
    }

    [Fact]
    public async Task a_linked_clone_is_a_qcow2_overlay_whose_backing_file_is_the_source_volume()
    {
        var pool = NewPool();
        var source = Volume("template.qcow2", "qcow2", 16 * MiB);
        var baseOutcome = await RunAsync(StorageCommand(StorageOperationKind.CreateVolume, pool, InAMinute, source));
        Tools.WritePattern(baseOutcome.Path!, 0x5a);
        var clone = Volume("vm-1.qcow2", "qcow2", 8 * MiB) with { CloneOfName = "template.qcow2", CloneOfFormat = "qcow2", Linked = true };

        var outcome = await RunAsync(StorageCommand(StorageOperationKind.CreateVolume, pool, InAMinute, clone));

        outcome.Succeeded.ShouldBeTrue(outcome.ErrorMessage);
        outcome.CapacityBytes.ShouldBe(16 * MiB, "a clone is never smaller than its source");
        var info = Tools.QemuImgInfo(outcome.Path!);
        info.GetProperty("format").GetString().ShouldBe("qcow2");
        info.GetProperty("backing-filename").GetString().ShouldBe(baseOutcome.Path);
        info.GetProperty("backing-filename-format").GetString().ShouldBe("qcow2");
        Tools.HasPattern(outcome.Path!, 0x5a).ShouldBeTrue("the overlay reads the source's data");
    }

    [Fact]
    public async Task a_full_clone_is_an_independent_copy_with_the_sources_data()
    {
        var pool = NewPool();
        var source = Volume("golden.raw", "raw", 4 * MiB);
        var sourceOutcome = await RunAsync(StorageCommand(StorageOperationKind.CreateVolume, pool, InAMinute, source));
        var data = RandomNumberGenerator.GetBytes((int)(4 * MiB));
        await File.WriteAllBytesAsync(sourceOutcome.Path!, data);
        var clone = Volume("copy.raw", "raw", 4 * MiB) with { CloneOfName = "golden.raw", CloneOfFormat = "raw" };

        var outcome = await RunAsync(StorageCommand(StorageOperationKind.CreateVolume, pool, InAMinute, clone));

        outcome.Succeeded.ShouldBeTrue(outcome.ErrorMessage);
        outcome.Path.ShouldBe(Path.Combine(pool.Path!, "copy.raw"));
        (await File.ReadAllBytesAsync(outcome.Path!)).ShouldBe(data);
        Tools.QemuImgInfo(outcome.Path!).TryGetProperty("backing-filename", out _).ShouldBeFalse();
        await File.WriteAllBytesAsync(sourceOutcome.Path!, new byte[4 * MiB]);
        (await File.ReadAllBytesAsync(outcome.Path!)).ShouldBe(data, "the copy does not change with its source");
    }

    [Fact]
    public async Task a_volume_grows_a_repeat_of_the_same_size_leaves_it_and_shrinking_is_refused()
    {
        var pool = NewPool();
        var volume = Volume("data.qcow2", "qcow2", 16 * MiB);
        await RunAsync(StorageCommand(StorageOperationKind.CreateVolume, pool, InAMinute, volume));

        var grown = await RunAsync(StorageCommand(StorageOperationKind.ResizeVolume, pool, InAMinute, volume, sizeBytes: 48 * MiB));
        var repeated = await RunAsync(StorageCommand(StorageOperationKind.ResizeVolume, pool, InAMinute, volume, sizeBytes: 48 * MiB));
        var shrink = await RunAsync(StorageCommand(StorageOperationKind.ResizeVolume, pool, InAMinute, volume, sizeBytes: 8 * MiB));

        grown.Succeeded.ShouldBeTrue(grown.ErrorMessage);
        grown.CapacityBytes.ShouldBe(48 * MiB);
        repeated.ShouldBe(grown);
        shrink.Succeeded.ShouldBeFalse();
        shrink.ErrorCode.ShouldBe("VOLUME_SHRINK_REFUSED");
        Tools.QemuImgInfo(grown.Path!).GetProperty("virtual-size").GetInt64().ShouldBe(48 * MiB);
    }

    [Fact]
    public async Task an_import_from_a_file_under_the_import_roots_with_the_right_checksum_becomes_the_volume()
    {
        var pool = NewPool();
        var (file, data, sha) = await SourceFileAsync(_imports);
        var volume = Volume("imported.raw", "raw", MiB) with { ImportUrl = new Uri(file).AbsoluteUri, Sha256 = sha.ToUpperInvariant() };
        var import = StorageCommand(StorageOperationKind.CreateVolume, pool, InAMinute, volume);

        var outcome = await RunAsync(import);

        outcome.Succeeded.ShouldBeTrue(outcome.ErrorMessage);
        outcome.Path.ShouldBe(Path.Combine(pool.Path!, "imported.raw"));
        outcome.CapacityBytes.ShouldBe(data.Length);
        (await File.ReadAllBytesAsync(outcome.Path!)).ShouldBe(data);
        // The daemon's user (who made the pool's folder) owns the image, as it owns the volumes it makes itself.
        Tools.Run("stat", "-c", "%U:%G", outcome.Path!).ShouldBe(Tools.Run("stat", "-c", "%U:%G", pool.Path!));
        using (var libvirtPool = _host.Libvirt.FindStoragePool(pool.LibvirtName)!)
        {
            libvirtPool.FindVolume("imported.raw").ShouldNotBeNull().Dispose();
        }

        PartFiles(pool).ShouldBeEmpty();
        File.Delete(file);
        var again = await RunAsync(import);
        again.ShouldBe(outcome, "a redelivery finds the volume made by the first");
    }

    [Fact]
    public async Task an_import_with_the_wrong_checksum_fails_with_CHECKSUM_MISMATCH_and_leaves_no_file()
    {
        var pool = NewPool();
        var (file, _, sha) = await SourceFileAsync(_imports);
        var wrong = new string(sha.Reverse().ToArray());
        var volume = Volume("bad.raw", "raw", MiB) with { ImportUrl = new Uri(file).AbsoluteUri, Sha256 = wrong };

        var outcome = await RunAsync(StorageCommand(StorageOperationKind.CreateVolume, pool, InAMinute, volume));

        outcome.Succeeded.ShouldBeFalse();
        outcome.ErrorCode.ShouldBe("CHECKSUM_MISMATCH");
        outcome.ErrorMessage.ShouldNotBeNull().ShouldContain(sha);
        outcome.ErrorMessage.ShouldContain(wrong);
        File.Exists(Path.Combine(pool.Path!, "bad.raw")).ShouldBeFalse();
        PartFiles(pool).ShouldBeEmpty();
    }

    [Fact]
    public async Task an_import_from_a_file_outside_the_import_roots_fails_with_PATH_NOT_ALLOWED_even_through_a_link()
    {
        var pool = NewPool();
        var (file, _, sha) = await SourceFileAsync(_outside);
        var link = Path.Combine(_imports, "link-out.raw");
        File.CreateSymbolicLink(link, file);
        var sneaky = Path.Combine(_imports, "..", Path.GetFileName(_imports), "..", "..", "outside", Path.GetFileName(_outside), Path.GetFileName(file));

        var direct = await RunAsync(StorageCommand(StorageOperationKind.CreateVolume, pool, InAMinute,
            Volume("a.raw", "raw", MiB) with { ImportUrl = new Uri(file).AbsoluteUri, Sha256 = sha }));
        var linked = await RunAsync(StorageCommand(StorageOperationKind.CreateVolume, pool, InAMinute,
            Volume("b.raw", "raw", MiB) with { ImportUrl = new Uri(link).AbsoluteUri, Sha256 = sha }));
        var dotted = await RunAsync(StorageCommand(StorageOperationKind.CreateVolume, pool, InAMinute,
            Volume("c.raw", "raw", MiB) with { ImportUrl = "file://" + sneaky, Sha256 = sha }));

        foreach (var outcome in new[] { direct, linked, dotted })
        {
            outcome.Succeeded.ShouldBeFalse();
            outcome.ErrorCode.ShouldBe("PATH_NOT_ALLOWED");
            outcome.ErrorMessage.ShouldNotBeNull().ShouldContain(file);
        }

        Directory.GetFiles(pool.Path!).ShouldBeEmpty();
    }

    [Fact]
    public async Task an_import_under_a_name_that_is_a_path_is_refused_with_INVALID_SPEC_and_writes_nothing()
    {
        var pool = NewPool();
        var (file, _, sha) = await SourceFileAsync(_imports);

        var outcome = await RunAsync(StorageCommand(StorageOperationKind.CreateVolume, pool, InAMinute,
            Volume("../escaped.raw", "raw", MiB) with { ImportUrl = new Uri(file).AbsoluteUri, Sha256 = sha }));

        outcome.ErrorCode.ShouldBe("INVALID_SPEC");
        File.Exists(Path.Combine(_host.Root, "escaped.raw")).ShouldBeFalse();
        Directory.GetFiles(pool.Path!).ShouldBeEmpty();
    }

    [Fact]
    public async Task an_import_from_a_url_nobody_listens_on_fails_with_IMPORT_UNREACHABLE_and_the_reason()
    {
        var pool = NewPool();
        var volume = Volume("never.raw", "raw", MiB) with { ImportUrl = $"http://127.0.0.1:{ClosedPort()}/image.raw", Sha256 = new string('a', 64) };

        var outcome = await RunAsync(StorageCommand(StorageOperationKind.CreateVolume, pool, InAMinute, volume));

        outcome.Succeeded.ShouldBeFalse();
        outcome.ErrorCode.ShouldBe("IMPORT_UNREACHABLE");
        outcome.ErrorMessage.ShouldNotBeNull().ShouldContain("Connection refused");
        Directory.GetFiles(pool.Path!).ShouldBeEmpty();
    }

    [Fact]
    public async Task an_import_over_http_with_the_right_checksum_becomes_the_volume_and_a_404_is_unreachable()
    {
        var pool = NewPool();
        var data = RandomNumberGenerator.GetBytes(3 * 1024 * 1024 + 17);
        await using var server = new TinyHttpServer("/images/disk.raw", data);
        var sha = Convert.ToHexStringLower(SHA256.HashData(data));

        var outcome = await RunAsync(StorageCommand(StorageOperationKind.CreateVolume, pool, InAMinute,
            Volume("web.raw", "raw", MiB) with { ImportUrl = server.Url, Sha256 = sha }));
        var missing = await RunAsync(StorageCommand(StorageOperationKind.CreateVolume, pool, InAMinute,
            Volume("missing.raw", "raw", MiB) with { ImportUrl = server.Url + ".gone", Sha256 = sha }));

        outcome.Succeeded.ShouldBeTrue(outcome.ErrorMessage);
        (await File.ReadAllBytesAsync(outcome.Path!)).ShouldBe(data);
        outcome.CapacityBytes.ShouldBe(data.Length);
        missing.ErrorCode.ShouldBe("IMPORT_UNREACHABLE");
        missing.ErrorMessage.ShouldNotBeNull().ShouldContain("404");
        File.Exists(Path.Combine(pool.Path!, "missing.raw")).ShouldBeFalse();
        PartFiles(pool).ShouldBeEmpty();
    }

    [Fact]
    public async Task an_import_still_running_at_the_deadline_is_cut_off_with_DEADLINE_PASSED_and_leaves_no_file()
    {
        var pool = NewPool();
        await using var server = new TinyHttpServer("/slow.raw", new byte[4 * MiB], stallAfter: (int)MiB);
        var clock = new FakeTimeProvider();
        var operations = StorageOps(_host.Hypervisor, clock);
        var import = StorageCommand(StorageOperationKind.CreateVolume, pool, clock.GetUtcNow().AddMinutes(10),
            Volume("slow.raw", "raw", MiB) with { ImportUrl = server.Url, Sha256 = new string('0', 64) });

        var running = operations.RunAsync(import, CancellationToken.None);
        await Eventually.UntilAsync(() => PartFiles(pool).Any(f => new FileInfo(f).Length >= MiB), "the first MiB written");
        running.IsCompleted.ShouldBeFalse();
        clock.Advance(TimeSpan.FromMinutes(10));
        var outcome = await running.WaitAsync(TimeSpan.FromSeconds(30));

        outcome.Succeeded.ShouldBeFalse();
        outcome.ErrorCode.ShouldBe("DEADLINE_PASSED");
        outcome.ErrorMessage.ShouldNotBeNull().ShouldContain(import.Deadline.ToString("O"));
        Directory.GetFiles(pool.Path!).ShouldBeEmpty();
        using var libvirtPool = _host.Libvirt.FindStoragePool(pool.LibvirtName)!;
        libvirtPool.ListVolumes().ShouldBeEmpty();
    }

    [Fact]
    public async Task an_imported_qcow2_that_names_a_backing_file_is_refused_as_IMAGE_UNSAFE()
    {
        var pool = NewPool();
        var image = Path.Combine(_imports, "sneaky.qcow2");
        Tools.Run("qemu-img", "create", "-f", "qcow2", "-F", "raw", "-b", "/etc/hostname", image, "1M");
        var sha = Convert.ToHexStringLower(SHA256.HashData(await File.ReadAllBytesAsync(image)));

        var outcome = await RunAsync(StorageCommand(StorageOperationKind.CreateVolume, pool, InAMinute,
            Volume("sneaky.qcow2", "qcow2", MiB) with { ImportUrl = new Uri(image).AbsoluteUri, Sha256 = sha }));

        outcome.ErrorCode.ShouldBe("IMAGE_UNSAFE");
        Directory.GetFiles(pool.Path!).ShouldBeEmpty();
    }

    [Fact]
    public async Task a_qcow2_volume_snapshot_is_taken_once_reverted_to_and_deleted_with_qemu_img()
    {
        var pool = NewPool();
        var volume = Volume("snap.qcow2", "qcow2", 16 * MiB);
        var path = (await RunAsync(StorageCommand(StorageOperationKind.CreateVolume, pool, InAMinute, volume))).Path!;
        Tools.WritePattern(path, 0x11);

        var taken = await RunAsync(StorageCommand(StorageOperationKind.SnapshotVolume, pool, InAMinute, volume, snapshotName: "before upgrade"));
        var takenAgain = await RunAsync(StorageCommand(StorageOperationKind.SnapshotVolume, pool, InAMinute, volume, snapshotName: "before upgrade"));
        Tools.WritePattern(path, 0x22);
        var reverted = await RunAsync(StorageCommand(StorageOperationKind.RevertVolume, pool, InAMinute, volume, snapshotName: "before upgrade"));

        taken.Succeeded.ShouldBeTrue(taken.ErrorMessage);
        takenAgain.Succeeded.ShouldBeTrue(takenAgain.ErrorMessage);
        reverted.Succeeded.ShouldBeTrue(reverted.ErrorMessage);
        Tools.SnapshotNames(path).ShouldBe(["before upgrade"], "a repeated snapshot is not taken twice");
        Tools.HasPattern(path, 0x11).ShouldBeTrue("the revert brought back the data of the snapshot");

        var deleted = await RunAsync(StorageCommand(StorageOperationKind.DeleteVolumeSnapshot, pool, InAMinute, volume, snapshotName: "before upgrade"));
        var deletedAgain = await RunAsync(StorageCommand(StorageOperationKind.DeleteVolumeSnapshot, pool, InAMinute, volume, snapshotName: "before upgrade"));
        var revertMissing = await RunAsync(StorageCommand(StorageOperationKind.RevertVolume, pool, InAMinute, volume, snapshotName: "before upgrade"));

        deleted.Succeeded.ShouldBeTrue(deleted.ErrorMessage);
        deletedAgain.Succeeded.ShouldBeTrue(deletedAgain.ErrorMessage);
        Tools.SnapshotNames(path).ShouldBeEmpty();
        revertMissing.ErrorCode.ShouldBe("SNAPSHOT_NOT_FOUND");
        Tools.HasPattern(path, 0x11).ShouldBeTrue();
    }

    private StoragePoolSpecification NewPool()
    {
        var spec = DirPool(Path.Combine(_host.Root, $"pool-{Guid.NewGuid():N}"));
        _pools.Add(spec.LibvirtName);
        return spec;
    }

    private static VolumeSpecification Volume(string name, string format, long size) => new(Guid.NewGuid(), name, format, size);

    private static IEnumerable<string> PartFiles(StoragePoolSpecification pool) =>
        Directory.GetFiles(pool.Path!, ".qkvm-import-*");

    private static async Task<(string File, byte[] Data, string Sha256)> SourceFileAsync(string folder)
    {
        var data = RandomNumberGenerator.GetBytes((int)MiB + 4096);
        var file = Path.Combine(folder, $"image-{Guid.NewGuid():N}.raw");
        await File.WriteAllBytesAsync(file, data);
        return (file, data, Convert.ToHexStringLower(SHA256.HashData(data)));
    }

    private static int ClosedPort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    private Task<StorageOutcome> RunAsync(RunStorageOperation command) =>
        StorageOps(_host.Hypervisor, TimeProvider.System, new AgentOptions { ImportRoots = [Path.Combine(_host.Scratch, "imports")] })
            .RunAsync(command, CancellationToken.None);
}
