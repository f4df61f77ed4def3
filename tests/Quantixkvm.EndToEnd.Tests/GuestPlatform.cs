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

    public override string LibvirtUri => Daemon.QemuSessionUri;

    /// <summary>Guest boots under TCG take seconds, more on a loaded machine.</summary>
    protected override int OperationDeadlineSeconds => 120;

    public string ConsoleLogOf(string vmId) => Path.Combine(ConsoleFolder, $"qkvm-{Guid.Parse(vmId):N}.log");

    protected override async Task PrepareAsync(LibvirtDaemon daemon)
    {
        GuestImage = await Quantixkvm.Testing.GuestImage.BuildAsync();
        ConsoleFolder = await daemon.CreateFolderAsync("consoles");
        await daemon.CreateFolderAsync("seeds");
        PoolFolder = Path.Combine(daemon.Root, "pools", "local");
    }

    protected override IEnumerable<KeyValuePair<string, string>> AgentSettings() =>
    [
        new("Agent__ImportRoots__0", Path.GetDirectoryName(GuestImage)!),
        new("Agent__ConsoleLogDirectory", ConsoleFolder),
        new("Agent__SeedDirectory", Path.Combine(Daemon.Root, "seeds")),
    ];

    protected override Task BeforeDaemonStopsAsync()
    {
        foreach (var domain in Libvirt.ListAllDomains())
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

        return Task.CompletedTask;
    }
}

[CollectionDefinition(Name)]
public sealed class GuestPlatformCollection : ICollectionFixture<GuestPlatform>
{
    public const string Name = "guest-platform";
}
