using System.Text.Json.Nodes;
using Quantixkvm.Testing;

namespace Quantixkvm.EndToEnd.Tests;

/// <summary>
/// What a new user does, with a real QEMU guest: import an image, make a template, create a VM from it
/// with cloud-init, boot it, hot-plug a disk, snapshot with memory, detach, revert. The guest reports
/// on its serial console what it sees (its disks by serial, its cloud-init seed), and the read model
/// is compared with what libvirt holds.
/// </summary>
[Collection(GuestPlatformCollection.Name)]
public sealed class RealGuestStorageTests(GuestPlatform platform)
{
    private static readonly TimeSpan Boot = TimeSpan.FromSeconds(90);

    [Fact]
    public async Task a_guest_made_from_an_imported_image_boots_sees_its_seed_and_a_hot_plugged_disk_and_survives_snapshot_and_revert()
    {
        var api = platform.Api;
        var (poolId, imageId) = await platform.ImportGuestImageAsync(Boot);
        var imported = (await api.DataAsync("query($id: ID!) { volume(id: $id) { status sizeBytes isImage path } }", new { id = imageId }))["volume"]!;
        imported["status"]!.GetValue<string>().ShouldBe("READY");
        imported["sizeBytes"]!.GetValue<long>().ShouldBe(new FileInfo(platform.GuestImage).Length);

        var templateId = (await api.DataAsync(
            "mutation($input: CreateTemplateInput!) { createTemplate(input: $input) { id } }",
            new { input = new { name = "busybox-small", vcpus = 1, memoryMiB = 128, imageId } }))["createTemplate"]!["id"]!.GetValue<string>();

        var created = (await api.DataAsync(
            "mutation($input: CreateVmFromTemplateInput!) { createVmFromTemplate(input: $input) { operation { id } vm { id } } }",
            new { input = new { templateId, name = "guest-1", start = true, cloudInit = new { hostname = "guest-one", userData = "#cloud-config\nruncmd: []\n" } } }))
            ["createVmFromTemplate"]!;
        var vmId = created["vm"]!["id"]!.GetValue<string>();
        (await platform.OperationEndedAsync(created["operation"]!["id"]!.GetValue<string>(), Boot))["status"]!.GetValue<string>().ShouldBe("SUCCEEDED");

        var console = platform.ConsoleLogOf(vmId);
        await GuestImage.WaitForSerialLineAsync(console, l => l.StartsWith("QKVM-GUEST-READY", StringComparison.Ordinal), Boot, default);
        await GuestImage.WaitForSerialLineAsync(console, l => l.StartsWith("QKVM-CIDATA local-hostname", StringComparison.Ordinal) && l.Contains("guest-one"),
            TimeSpan.FromSeconds(30), default);
        await GuestImage.WaitForSerialLineAsync(console, l => l.StartsWith("QKVM-USERDATA #cloud-config", StringComparison.Ordinal), TimeSpan.FromSeconds(30), default);

        // A blank volume, hot-plugged into the running guest: the guest sees a disk with the volume's serial.
        var data = await platform.StorageOperationSucceededAsync(
            "mutation($input: CreateVolumeInput!) { createVolume(input: $input) { operation { id } volume { id } } }",
            new { input = new { poolId, name = "data-1", sizeBytes = 16L * 1024 * 1024, format = "QCOW2" } }, "createVolume", Boot);
        var dataId = data["volume"]!["id"]!.GetValue<string>();
        var dataSerial = Guid.Parse(dataId).ToString("N")[..20];
        await platform.VmOperationSucceededAsync("mutation($id: ID!, $disk: DiskInput!) { attachDisk(id: $id, disk: $disk) { operation { id } } }",
            new { id = vmId, disk = new { volumeId = dataId } }, "attachDisk", Boot);
        await GuestImage.WaitForSerialLineAsync(console, l => l.StartsWith("QKVM-DISKS", StringComparison.Ordinal) && l.Contains(dataSerial), Boot, default);
        await ReadModelMatchesLibvirtAsync(vmId, expectedDisks: 2);

        var snapshot = await platform.VmOperationSucceededAsync(
            "mutation($id: ID!) { createVmSnapshot(id: $id, name: \"with-data\") { operation { id } } }", new { id = vmId }, "createVmSnapshot", Boot);
        var snapshots = (await api.DataAsync("query($id: ID!) { vm(id: $id) { snapshots { name withMemory parent } currentSnapshot } }", new { id = vmId }))["vm"]!;
        snapshots["snapshots"]!.AsArray().Single()!["withMemory"]!.GetValue<bool>().ShouldBeTrue(snapshot.ToJsonString());
        snapshots["currentSnapshot"]!.GetValue<string>().ShouldBe("with-data");

        await platform.VmOperationSucceededAsync("mutation($id: ID!, $volumeId: ID!) { detachDisk(id: $id, volumeId: $volumeId) { operation { id } } }",
            new { id = vmId, volumeId = dataId }, "detachDisk", Boot);
        await GuestImage.WaitForSerialLineAsync(console, l => l.StartsWith("QKVM-DISKS", StringComparison.Ordinal) && !l.Contains(dataSerial), Boot, default);
        await ReadModelMatchesLibvirtAsync(vmId, expectedDisks: 1);
        var volume = (await api.DataAsync("query($id: ID!) { volume(id: $id) { attachedTo { id } } }", new { id = dataId }))["volume"]!;
        volume["attachedTo"].ShouldBeNull();

        // The snapshot holds the data disk: the revert waits until the VM holds it again, then brings back the guest as it was.
        var (code, _) = await api.ErrorAsync("mutation($id: ID!) { revertVmSnapshot(id: $id, name: \"with-data\") { operation { id } } }", new { id = vmId });
        code.ShouldBe("INVALID_STATE");
        await platform.VmOperationSucceededAsync("mutation($id: ID!, $disk: DiskInput!) { attachDisk(id: $id, disk: $disk) { operation { id } } }",
            new { id = vmId, disk = new { volumeId = dataId } }, "attachDisk", Boot);
        await platform.VmOperationSucceededAsync("mutation($id: ID!) { revertVmSnapshot(id: $id, name: \"with-data\") { operation { id } } }", new { id = vmId }, "revertVmSnapshot", Boot);
        var reverted = (await api.DataAsync("query($id: ID!) { vm(id: $id) { powerState } }", new { id = vmId }))["vm"]!;
        reverted["powerState"]!.GetValue<string>().ShouldBe("RUNNING");
        await ReadModelMatchesLibvirtAsync(vmId, expectedDisks: 2);

        await platform.VmOperationSucceededAsync("mutation($id: ID!) { stopVm(id: $id, force: true) { operation { id } } }", new { id = vmId }, "stopVm", Boot);
        await platform.VmOperationSucceededAsync("mutation($id: ID!) { deleteVm(id: $id) { operation { id } } }", new { id = vmId }, "deleteVm", Boot);
        var released = (await api.DataAsync("query($id: ID!) { volume(id: $id) { status attachedTo { id } } }", new { id = dataId }))["volume"]!;
        released["status"]!.GetValue<string>().ShouldBe("READY");
        released["attachedTo"].ShouldBeNull();
    }

    /// <summary>The VM's disks in the API are the domain's disks in libvirt, by device and volume.</summary>
    private async Task ReadModelMatchesLibvirtAsync(string vmId, int expectedDisks)
    {
        var vm = (await platform.Api.DataAsync(
            "query($id: ID!) { vm(id: $id) { disks { targetDev state volume { name } } } }", new { id = vmId }))["vm"]!;
        var api = vm["disks"]!.AsArray().Select(d => (Dev: d!["targetDev"]!.GetValue<string>(), Volume: d["volume"]!["name"]!.GetValue<string>())).ToList();
        vm["disks"]!.AsArray().ShouldAllBe(d => d!["state"]!.GetValue<string>() == "ATTACHED");
        api.Count.ShouldBe(expectedDisks);

        using var domain = platform.Libvirt.FindDomainByName($"qkvm-{Guid.Parse(vmId):N}")!;
        var libvirt = domain.ListDisks().Where(d => d.SourceVolume is not null).Select(d => (Dev: d.TargetDev, Volume: d.SourceVolume!)).ToList();
        libvirt.OrderBy(d => d.Dev).ShouldBe(api.OrderBy(d => d.Dev));
    }
}
