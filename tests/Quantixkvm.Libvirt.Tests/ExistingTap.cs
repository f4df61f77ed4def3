using System.Text.Json;

namespace Quantixkvm.Libvirt.Tests;

/// <summary>
/// A persistent TAP device for one test, made as a node agent in plug mode "agent" makes one (<c>ip tuntap add … user
/// USER</c>), owned by the user the test's libvirtd (and so its QEMU) runs as; deleted on dispose.
/// </summary>
internal sealed class ExistingTap : IAsyncDisposable
{
    private ExistingTap(string name) => Name = name;

    public string Name { get; }

    public static async Task<ExistingTap> CreateAsync(int mtu)
    {
        var tap = new ExistingTap($"qkt{Guid.NewGuid():N}"[..15]);
        // Under root the test daemon runs as quantixkvm (LibvirtDaemon); otherwise as the test's own user.
        string owner = Environment.UserName == "root" ? "quantixkvm" : Environment.UserName;
        await LinuxBridge.RequireAsync("tuntap", "add", "dev", tap.Name, "mode", "tap", "user", owner);
        await LinuxBridge.RequireAsync("link", "set", "dev", tap.Name, "mtu", mtu.ToString(System.Globalization.CultureInfo.InvariantCulture), "up");
        return tap;
    }

    /// <summary>Whether the TAP exists and whether someone (QEMU) holds it open: the kernel gives it a carrier then.</summary>
    public async Task<(bool Exists, bool Carrier)> StateAsync()
    {
        (int exitCode, string output, _) = await LinuxBridge.IpAsync("-j", "link", "show", "dev", Name);
        if (exitCode != 0)
        {
            return (false, false);
        }

        using JsonDocument links = JsonDocument.Parse(output);
        var flags = links.RootElement[0].GetProperty("flags").EnumerateArray().Select(f => f.GetString()).ToList();
        return (true, flags.Contains("LOWER_UP"));
    }

    public async ValueTask DisposeAsync() => await LinuxBridge.IpAsync("link", "delete", "dev", Name);
}
