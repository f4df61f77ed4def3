using System.Text.Json;
using Quantixkvm.Testing;

namespace Quantixkvm.Libvirt.Tests;

/// <summary>
/// A Linux bridge for one test, made with <c>ip</c> (through <c>sudo -n</c> when not root) and deleted on dispose. Its name is the
/// first free one of <c>qkvmtestbr0</c>-<c>9</c>, the names QEMU's bridge helper is allowed (infra/dev/install.sh); creating it
/// is what claims the name, so concurrent tests never share one.
/// </summary>
internal sealed class LinuxBridge : IAsyncDisposable
{
    private const int Names = 10;

    private LinuxBridge(string name) => Name = name;

    public string Name { get; }

    public static async Task<LinuxBridge> CreateAsync()
    {
        for (int i = 0; i < Names; i++)
        {
            string name = $"qkvmtestbr{i}";
            (int exitCode, _, string errors) = await IpAsync("link", "add", name, "type", "bridge");
            if (exitCode == 0)
            {
                var bridge = new LinuxBridge(name);
                await RequireAsync("link", "set", name, "up");
                return bridge;
            }

            if (!errors.Contains("exists", StringComparison.OrdinalIgnoreCase))
            {
                throw new InvalidOperationException($"ip link add {name} type bridge failed: {errors.Trim()}");
            }
        }

        throw new InvalidOperationException($"all of qkvmtestbr0-{Names - 1} exist: delete the ones no test holds");
    }

    /// <summary>The interfaces enslaved to the bridge (<c>ip -j link show master NAME</c>).</summary>
    public async Task<IReadOnlyList<string>> PortsAsync()
    {
        string json = await RequireAsync("-j", "link", "show", "master", Name);
        using JsonDocument ports = JsonDocument.Parse(json.Length == 0 ? "[]" : json);
        return [.. ports.RootElement.EnumerateArray().Select(port => port.GetProperty("ifname").GetString()!)];
    }

    public async ValueTask DisposeAsync() => await IpAsync("link", "delete", Name, "type", "bridge");

    /// <summary>Runs `ip` and returns its output; a non-zero exit fails with the command and what it said.</summary>
    internal static Task<string> RequireAsync(params string[] arguments) => HostCommand.RunCheckedAsync("ip", arguments);

    /// <summary>Runs `ip` (through <c>sudo -n</c> when not root) and returns what it said, whatever its exit code.</summary>
    internal static async Task<(int ExitCode, string Output, string Errors)> IpAsync(params string[] arguments)
    {
        var result = await HostCommand.RunAsync("ip", arguments);
        return (result.ExitCode, result.Output.Trim(), result.Error);
    }
}
