using System.Security.Cryptography;
using System.Text.Json.Nodes;
using Quantixkvm.Testing;

namespace Quantixkvm.EndToEnd.Tests;

/// <summary>
/// The real-guest platform whose agent also reaches the private Ceph cluster of infra/dev/ceph.sh (started if it does
/// not run, and left running): ceph.conf and the client keyring in its settings, a work folder for imports into Ceph.
/// The Ceph pool is shared with other tests: the images this platform's tests make are named uniquely and removed
/// once the guests are gone.
/// </summary>
public class CephGuestPlatform : GuestPlatform
{
    private readonly List<string> _images = [];

    public CephCluster Ceph { get; private set; } = null!;

    /// <summary>Ceph images to remove when the platform stops (children before their parents).</summary>
    public void RemoveAfterwards(params string[] images)
    {
        lock (_images)
        {
            _images.AddRange(images);
        }
    }

    protected override async Task PrepareAsync(Quantixkvm.Testing.LibvirtDaemon daemon)
    {
        Ceph = await CephCluster.StartAsync();
        await base.PrepareAsync(daemon);
    }

    protected override IEnumerable<KeyValuePair<string, string>> AgentSettings(Quantixkvm.Testing.LibvirtDaemon daemon) =>
    [
        .. base.AgentSettings(daemon),
        new("Agent__WorkDirectory", Path.Combine(daemon.Root, "agent-work")),
        new("Agent__Ceph__ConfPath", Ceph.ConfPath),
        new("Agent__Ceph__KeyringPath", Ceph.KeyringPath),
    ];

    /// <summary>
    /// An RBD pool on the shared Ceph pool, the guest image imported into it (removed afterwards), and a template of it
    /// (1 vCPU, 128 MiB) for VMs that boot from RBD clones of the image; returns the pool's and the template's ids.
    /// </summary>
    public async Task<(string PoolId, string TemplateId)> RbdGuestTemplateAsync(string suffix, TimeSpan timeout)
    {
        var pool = await StorageOperationSucceededAsync(
            "mutation($input: CreateStoragePoolInput!) { createStoragePool(input: $input) { operation { id } pool { id } } }",
            new { input = new { name = $"ceph-{suffix}", kind = "RBD", cephPool = Ceph.Pool, cephMonitors = new[] { Ceph.Monitor }, cephUser = Ceph.User } },
            "createStoragePool", timeout);
        var poolId = pool["pool"]!["id"]!.GetValue<string>();
        var imageName = $"busybox-{suffix}";
        RemoveAfterwards(imageName);
        var sha256 = Convert.ToHexStringLower(SHA256.HashData(await File.ReadAllBytesAsync(GuestImage)));
        var image = await StorageOperationSucceededAsync(
            "mutation($input: ImportImageInput!) { importImage(input: $input) { operation { id } volume { id } } }",
            new { input = new { poolId, name = imageName, url = new Uri(GuestImage).AbsoluteUri, sha256, format = "RAW" } }, "importImage", timeout);
        var templateId = (await Api.DataAsync(
            "mutation($input: CreateTemplateInput!) { createTemplate(input: $input) { id } }",
            new { input = new { name = $"busybox-ceph-{suffix}", vcpus = 1, memoryMiB = 128, imageId = image["volume"]!["id"]!.GetValue<string>() } }))
            ["createTemplate"]!["id"]!.GetValue<string>();
        return (poolId, templateId);
    }

    public override async Task DisposeAsync()
    {
        // The guests are destroyed first (QEMU keeps its images open), then their images go: twice over, so that a
        // base whose clone was listed after it goes in the second round.
        await base.DisposeAsync();
        Ceph?.TryRemove([.. _images]);
        Ceph?.TryRemove([.. _images]);
    }
}

[CollectionDefinition(Name)]
public sealed class CephGuestPlatformCollection : ICollectionFixture<CephGuestPlatform>
{
    public const string Name = "ceph-guest-platform";
}

/// <summary>
/// A real QEMU guest on Ceph: an RBD pool, the guest image imported into it by URL with its SHA-256, a template, a VM
/// made from it as an RBD clone that boots from Ceph (QEMU's rbd driver), and a hot-plugged RBD volume the guest sees
/// by its serial, then detached.
/// </summary>
[Collection(CephGuestPlatformCollection.Name)]
public sealed class CephGuestTests(CephGuestPlatform platform)
{
    private static readonly TimeSpan Boot = TimeSpan.FromSeconds(90);

    [Fact]
    public async Task a_guest_cloned_from_an_image_imported_into_ceph_boots_from_rbd_and_sees_a_hot_plugged_rbd_volume()
    {
        var api = platform.Api;
        var ceph = platform.Ceph;
        var suffix = Guid.NewGuid().ToString("N")[..8];
        string imageName = $"busybox-{suffix}", vmName = $"guest-{suffix}", dataName = $"data-{suffix}";

        var pool = await platform.StorageOperationSucceededAsync(
            "mutation($input: CreateStoragePoolInput!) { createStoragePool(input: $input) { operation { id } pool { id } } }",
            new { input = new { name = $"ceph-{suffix}", kind = "RBD", cephPool = ceph.Pool, cephMonitors = new[] { ceph.Monitor }, cephUser = ceph.User } },
            "createStoragePool", Boot);
        var poolId = pool["pool"]!["id"]!.GetValue<string>();

        // The image goes into Ceph through the agent's work folder, checked against its SHA-256.
        var bytes = await File.ReadAllBytesAsync(platform.GuestImage);
        var sha256 = Convert.ToHexStringLower(SHA256.HashData(bytes));
        platform.RemoveAfterwards(dataName, imageName);
        var image = await platform.StorageOperationSucceededAsync(
            "mutation($input: ImportImageInput!) { importImage(input: $input) { operation { id } volume { id } } }",
            new { input = new { poolId, name = imageName, url = new Uri(platform.GuestImage).AbsoluteUri, sha256, format = "RAW" } }, "importImage", Boot);
        var imageId = image["volume"]!["id"]!.GetValue<string>();
        var imported = (await api.DataAsync("query($id: ID!) { volume(id: $id) { status sizeBytes path } }", new { id = imageId }))["volume"]!;
        imported["status"]!.GetValue<string>().ShouldBe("READY");
        imported["sizeBytes"]!.GetValue<long>().ShouldBe(bytes.Length);
        imported["path"]!.GetValue<string>().ShouldBe($"{ceph.Pool}/{imageName}");
        Convert.ToHexStringLower(SHA256.HashData(ceph.Export(imageName))).ShouldBe(sha256, "Ceph holds the image as it was imported");

        var templateId = (await api.DataAsync(
            "mutation($input: CreateTemplateInput!) { createTemplate(input: $input) { id } }",
            new { input = new { name = $"busybox-ceph-{suffix}", vcpus = 1, memoryMiB = 128, imageId } }))["createTemplate"]!["id"]!.GetValue<string>();
        var created = (await api.DataAsync(
            "mutation($input: CreateVmFromTemplateInput!) { createVmFromTemplate(input: $input) { operation { id } vm { id } } }",
            new { input = new { templateId, name = vmName, start = true } }))["createVmFromTemplate"]!;
        var vmId = created["vm"]!["id"]!.GetValue<string>();
        var rootName = (await api.DataAsync("query($id: ID!) { vm(id: $id) { disks { volume { name } } } }", new { id = vmId }))
            ["vm"]!["disks"]!.AsArray().Single()!["volume"]!["name"]!.GetValue<string>();
        platform.RemoveAfterwards(rootName);
        var createOperation = await platform.OperationEndedAsync(created["operation"]!["id"]!.GetValue<string>(), Boot);
        createOperation["status"]!.GetValue<string>().ShouldBe("SUCCEEDED", createOperation.ToJsonString());

        // A linked clone in Ceph: an RBD clone of the image, which the guest boots from through QEMU's rbd driver.
        ceph.Parent(rootName).ShouldNotBeNull().ShouldStartWith($"{ceph.Pool}/{imageName}@");
        var console = platform.ConsoleLogOf(vmId);
        await GuestImage.WaitForSerialLineAsync(console, l => l.StartsWith("QKVM-GUEST-READY", StringComparison.Ordinal), Boot, default);

        var data = await platform.StorageOperationSucceededAsync(
            "mutation($input: CreateVolumeInput!) { createVolume(input: $input) { operation { id } volume { id } } }",
            new { input = new { poolId, name = dataName, sizeBytes = 16L * 1024 * 1024 } }, "createVolume", Boot);
        var dataId = data["volume"]!["id"]!.GetValue<string>();
        var dataSerial = Guid.Parse(dataId).ToString("N")[..20];
        await platform.VmOperationSucceededAsync("mutation($id: ID!, $disk: DiskInput!) { attachDisk(id: $id, disk: $disk) { operation { id } } }",
            new { id = vmId, disk = new { volumeId = dataId } }, "attachDisk", Boot);
        await GuestImage.WaitForSerialLineAsync(console, l => l.StartsWith("QKVM-DISKS", StringComparison.Ordinal) && l.Contains(dataSerial), Boot, default);

        using (var domain = platform.Libvirt.FindDomainByName($"qkvm-{Guid.Parse(vmId):N}")!)
        {
            domain.ListDisks().Where(d => d.SourceProtocol == "rbd").Select(d => d.SourceName).Order(StringComparer.Ordinal)
                .ShouldBe(new[] { $"{ceph.Pool}/{rootName}", $"{ceph.Pool}/{dataName}" }.Order(StringComparer.Ordinal));
        }

        await platform.VmOperationSucceededAsync("mutation($id: ID!, $volumeId: ID!) { detachDisk(id: $id, volumeId: $volumeId) { operation { id } } }",
            new { id = vmId, volumeId = dataId }, "detachDisk", Boot);
        await GuestImage.WaitForSerialLineAsync(console, l => l.StartsWith("QKVM-DISKS", StringComparison.Ordinal) && !l.Contains(dataSerial), Boot, default);
        (await api.DataAsync("query($id: ID!) { volume(id: $id) { attachedTo { id } } }", new { id = dataId }))["volume"]!["attachedTo"].ShouldBeNull();

        await platform.VmOperationSucceededAsync("mutation($id: ID!) { stopVm(id: $id, force: true) { operation { id } } }", new { id = vmId }, "stopVm", Boot);
        await platform.VmOperationSucceededAsync("mutation($id: ID!) { deleteVm(id: $id) { operation { id } } }", new { id = vmId }, "deleteVm", Boot);
        platform.Libvirt.FindDomainByName($"qkvm-{Guid.Parse(vmId):N}").ShouldBeNull();
    }
}
