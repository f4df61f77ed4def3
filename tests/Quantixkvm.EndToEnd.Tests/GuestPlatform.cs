using System.Security.Cryptography;
using Quantixkvm.Testing;

namespace Quantixkvm.EndToEnd.Tests;

/// <summary>
/// The platform with a real hypervisor: the agent drives the QEMU driver (TCG) of a private session
/// libvirtd, imports the test guest image (infra/dev/guest-image.sh) and boots it.
/// </summary>
public class GuestPlatform : Platform
{
    public string GuestImage { get; private set; } = "";
    public string ConsoleFolder { get; private set; } = "";
    public string PoolFolder { get; private set; } = "";

    protected override string LibvirtUriOf(LibvirtDaemon daemon) => daemon.QemuSessionUri;

    /// <summary>Guest boots under TCG take seconds, more on a loaded machine.</summary>
    protected override int OperationDeadlineSeconds => 120;

    public string ConsoleLogOf(string vmId) => Path.Combine(ConsoleFolder, $"qkvm-{Guid.Parse(vmId):N}.log");

    protected override async Task PrepareAsync(LibvirtDaemon daemon)
    {
        GuestImage = await Quantixkvm.Testing.GuestImage.BuildAsync();
        await PrepareHostAsync(daemon);
        ConsoleFolder = Path.Combine(daemon.Root, "consoles");
        PoolFolder = Path.Combine(daemon.Root, "pools", "local");
    }

    /// <summary>
    /// The guest image imported, through the API, into a dir pool "local" on this platform's host (made by the same call);
    /// returns the pool's and the image volume's ids.
    /// </summary>
    public async Task<(string PoolId, string ImageId)> ImportGuestImageAsync(TimeSpan timeout)
    {
        var hostId = (await Api.DataAsync("{ hosts { id name } }"))["hosts"]!.AsArray()
            .Single(h => h!["name"]!.GetValue<string>() == HostName)!["id"]!.GetValue<string>();
        var pool = await StorageOperationSucceededAsync(
            "mutation($input: CreateStoragePoolInput!) { createStoragePool(input: $input) { operation { id } pool { id } } }",
            new { input = new { name = "local", kind = "DIR", hostId, path = PoolFolder } }, "createStoragePool", timeout);
        var poolId = pool["pool"]!["id"]!.GetValue<string>();
        var sha256 = Convert.ToHexStringLower(SHA256.HashData(await File.ReadAllBytesAsync(GuestImage)));
        var image = await StorageOperationSucceededAsync(
            "mutation($input: ImportImageInput!) { importImage(input: $input) { operation { id } volume { id } } }",
            new { input = new { poolId, name = "busybox", url = new Uri(GuestImage).AbsoluteUri, sha256, format = "RAW" } }, "importImage", timeout);
        return (poolId, image["volume"]!["id"]!.GetValue<string>());
    }

    /// <summary>The folders an agent on <paramref name="daemon"/> gives its QEMU: consoles and seeds.</summary>
    protected static async Task PrepareHostAsync(LibvirtDaemon daemon)
    {
        await daemon.CreateFolderAsync("consoles");
        await daemon.CreateFolderAsync("seeds");
    }

    protected override IEnumerable<KeyValuePair<string, string>> AgentSettings(LibvirtDaemon daemon) =>
    [
        new("Agent__ImportRoots__0", Path.GetDirectoryName(GuestImage)!),
        new("Agent__ConsoleLogDirectory", Path.Combine(daemon.Root, "consoles")),
        new("Agent__SeedDirectory", Path.Combine(daemon.Root, "seeds")),
    ];

    protected override Task BeforeDaemonStopsAsync()
    {
        // Null when the platform failed to start before it connected.
        if (Libvirt is not null)
        {
            DestroyDomains(Libvirt);
        }

        return Task.CompletedTask;
    }

    /// <summary>Destroys every running domain of a daemon: QEMU processes outlive their libvirtd.</summary>
    protected static void DestroyDomains(Quantixkvm.Libvirt.LibvirtConnection libvirt)
    {
        foreach (var domain in libvirt.ListAllDomains())
        {
            using (domain)
            {
                try
                {
                    domain.Destroy();
                }
                catch (Quantixkvm.Libvirt.LibvirtException)
                {
                    // Not running: nothing outlives the daemon.
                }
            }
        }
    }
}

[CollectionDefinition(Name)]
public sealed class GuestPlatformCollection : ICollectionFixture<GuestPlatform>
{
    public const string Name = "guest-platform";
}
