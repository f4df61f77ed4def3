using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Text.RegularExpressions;
using Quantixkvm.Domain.Networks;

namespace Quantixkvm.Testing;

/// <summary>
/// A disposable stand-in for a guest: a Linux network namespace whose only NIC (<see cref="GuestInterface"/>) is one
/// end of a veth pair; the other end (<see cref="HostInterface"/>) stays outside, in this machine's namespace or in
/// the namespace of a switch (<see cref="HostNamespace"/>), ready to be plugged into a bridge. Names are unique and
/// short (interface names fit Linux's 15 bytes). Dispose ends the processes left inside and deletes the namespace
/// (which takes the veth pair with it), also after a failed test.
/// </summary>
public sealed partial class NetworkNamespace : IAsyncDisposable
{
    /// <summary>The guest's NIC, inside the namespace (names are per namespace, so every guest has its eth0).</summary>
    public const string GuestInterface = "eth0";

    private readonly List<Process> _background = [];
    private bool _disposed;

    private NetworkNamespace(string name, string hostInterface, string? hostNamespace)
    {
        Name = name;
        HostInterface = hostInterface;
        HostNamespace = hostNamespace;
    }

    /// <summary>The namespace's name (for <c>ip netns exec</c>).</summary>
    public string Name { get; }

    /// <summary>The veth end outside the guest: the port to plug into a bridge.</summary>
    public string HostInterface { get; }

    /// <summary>The namespace <see cref="HostInterface"/> lives in; null = this machine's.</summary>
    public string? HostNamespace { get; }

    /// <summary>
    /// Creates the namespace and the veth pair, both ends down and unconfigured. <paramref name="hostNamespace"/>: where
    /// the host end goes (an OVS stack's own namespace, see infra/dev/ovs.sh QKVM_OVS_NETNS); null = this machine's.
    /// </summary>
    public static async Task<NetworkNamespace> CreateAsync(string? hostNamespace = null, CancellationToken cancellationToken = default)
    {
        if (hostNamespace is not null && !NamespaceName().IsMatch(hostNamespace))
        {
            throw new ArgumentException($"'{hostNamespace}' is not a network namespace name (letters, digits, '-', '_', '.')", nameof(hostNamespace));
        }

        var id = Guid.NewGuid().ToString("N")[..8];
        var guest = new NetworkNamespace($"qkt-{id}", $"qkv{id}", hostNamespace);
        if (NetworkLimits.CheckInterfaceName("host interface", guest.HostInterface) is { } error)
        {
            throw new InvalidOperationException(error);
        }

        try
        {
            await HostCommand.RunCheckedAsync("ip", ["netns", "add", guest.Name], cancellationToken: cancellationToken);
            // Made in the host end's namespace; the peer is created directly inside the guest.
            await guest.IpOutsideAsync(
                ["link", "add", guest.HostInterface, "type", "veth", "peer", "name", GuestInterface, "netns", guest.Name], cancellationToken);
            await guest.IpInsideAsync(["link", "set", "lo", "up"], cancellationToken);
            return guest;
        }
        catch
        {
            await guest.DisposeAsync();
            throw;
        }
    }

    /// <summary>
    /// Sets the guest NIC's MAC, MTU and (optionally) an address, and brings both veth ends up. TX checksum offload is
    /// turned off inside: OVS's userspace datapath forwards a veth's partial checksums as they are, and the receiving
    /// guest would drop every TCP segment.
    /// </summary>
    public async Task ConfigureAsync(string mac, IPAddress? address = null, int prefixLength = 24, int mtu = 1500, CancellationToken cancellationToken = default)
    {
        var (normalized, macError) = MacAddress.Normalize(mac);
        if (normalized is null)
        {
            throw new ArgumentException(macError, nameof(mac));
        }

        if (NetworkLimits.CheckMtu(mtu) is { } mtuError)
        {
            throw new ArgumentException(mtuError, nameof(mtu));
        }

        var width = address?.AddressFamily == System.Net.Sockets.AddressFamily.InterNetworkV6 ? 128 : 32;
        if (address is not null && (prefixLength < 0 || prefixLength > width))
        {
            throw new ArgumentException($"prefix length {prefixLength} is out of range for {address}: it must be 0 to {width}", nameof(prefixLength));
        }

        await IpInsideAsync(["link", "set", GuestInterface, "address", normalized, "mtu", Text(mtu)], cancellationToken);
        await HostCommand.RunCheckedAsync("ip", ["netns", "exec", Name, "ethtool", "-K", GuestInterface, "tx", "off"], cancellationToken: cancellationToken);
        if (address is not null)
        {
            await IpInsideAsync(["address", "add", $"{address}/{Text(prefixLength)}", "dev", GuestInterface], cancellationToken);
        }

        await IpInsideAsync(["link", "set", GuestInterface, "up"], cancellationToken);
        await IpOutsideAsync(["link", "set", HostInterface, "mtu", Text(mtu), "up"], cancellationToken);
    }

    /// <summary>Runs a command inside the namespace (argument array) and returns its result, whatever its exit code.</summary>
    public Task<HostCommand.Result> RunAsync(IEnumerable<string> command, string? input = null, CancellationToken cancellationToken = default) =>
        HostCommand.RunAsync("ip", ["netns", "exec", Name, .. command], input, cancellationToken: cancellationToken);

    /// <summary>One echo request, one second to answer: true when the reply came.</summary>
    public async Task<bool> PingAsync(IPAddress target, CancellationToken cancellationToken = default)
    {
        var family = target.AddressFamily == System.Net.Sockets.AddressFamily.InterNetworkV6 ? "-6" : "-4";
        var result = await RunAsync(["ping", family, "-n", "-q", "-c", "1", "-W", "1", target.ToString()], cancellationToken: cancellationToken);
        return result.Succeeded;
    }

    /// <summary>
    /// A TCP echo server on <paramref name="port"/> inside the namespace (socat, one child per connection), running
    /// until disposed (or until this namespace is). Returns once it listens.
    /// </summary>
    public async Task<IAsyncDisposable> StartTcpEchoServerAsync(int port, CancellationToken cancellationToken = default)
    {
        CheckPort(port);
        var process = HostCommand.StartBackground(
            "ip", ["netns", "exec", Name, "socat", $"TCP-LISTEN:{Text(port)},reuseaddr,fork", "EXEC:cat"]);
        lock (_background)
        {
            _background.Add(process);
        }

        var server = new BackgroundProcess(process);
        try
        {
            await PlatformProcess.WaitUntilAsync(
                async () => process.HasExited
                    ? throw new InvalidOperationException($"socat in {Name} exited with {process.ExitCode} before listening on port {port}")
                    : (await RunAsync(["ss", "-H", "-l", "-t", "-n", "sport", "=", $":{Text(port)}"], cancellationToken: cancellationToken)).Output.Trim().Length > 0,
                TimeSpan.FromSeconds(30), $"socat listening on TCP port {port} in {Name}", notYet: _ => false, cancellationToken: cancellationToken);
            return server;
        }
        catch
        {
            await server.DisposeAsync();
            throw;
        }
    }

    /// <summary>Connects to <paramref name="target"/>:<paramref name="port"/>, sends a line and returns what came back (null: no connection or no reply).</summary>
    public async Task<string?> TcpExchangeAsync(IPAddress target, int port, string line, CancellationToken cancellationToken = default)
    {
        CheckPort(port);
        var host = target.AddressFamily == System.Net.Sockets.AddressFamily.InterNetworkV6 ? $"[{target}]" : target.ToString();
        // -T 2: give up two seconds after the last data (socat's own bound, not a test threshold).
        var result = await RunAsync(["socat", "-T", "2", "-", $"TCP:{host}:{Text(port)},connect-timeout=2"], line + "\n", cancellationToken);
        return result.Succeeded && result.Output.Length > 0 ? result.Output.TrimEnd('\n') : null;
    }

    /// <summary>
    /// Asks for an IPv4 lease on the guest NIC (busybox udhcpc: three discovers, one second apart) and returns the
    /// leased address, or null when no server answered. The lease is not applied to the NIC.
    /// </summary>
    public async Task<IPAddress?> RequestDhcpLeaseAsync(CancellationToken cancellationToken = default)
    {
        // -s /bin/true: no configuration script; the lease is read from udhcpc's own report.
        var result = await RunAsync(
            ["busybox", "udhcpc", "-i", GuestInterface, "-f", "-q", "-n", "-t", "3", "-T", "1", "-s", "/bin/true"],
            cancellationToken: cancellationToken);
        var lease = LeaseObtained().Match(result.Error + result.Output);
        return result.Succeeded && lease.Success ? IPAddress.Parse(lease.Groups[1].Value) : null;
    }

    /// <summary>Ends what still runs inside, deletes the namespace (and with it the veth pair); never throws.</summary>
    public async ValueTask DisposeAsync()
    {
        if (_disposed)
        {
            return;
        }

        _disposed = true;
        lock (_background)
        {
            foreach (var process in _background)
            {
                HostCommand.Kill(process);
                process.Dispose();
            }

            _background.Clear();
        }

        await BestEffortAsync(async () =>
        {
            // Any other process left inside would keep the namespace (and the veth pair) alive after its name is gone.
            var pids = await HostCommand.RunAsync("ip", ["netns", "pids", Name]);
            foreach (var pid in pids.Output.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
            {
                await HostCommand.RunAsync("kill", ["-KILL", pid]);
            }
        });
        await BestEffortAsync(() => HostCommand.RunAsync("ip", ["netns", "delete", Name]));
        // Normally gone with its peer; removed by name when the namespace could not be deleted.
        await BestEffortAsync(() => IpOutsideUncheckedAsync(["link", "delete", HostInterface]));
    }

    private static async Task BestEffortAsync(Func<Task> step)
    {
        try
        {
            await step();
        }
        catch (Exception ex) when (ex is InvalidOperationException or TimeoutException or System.ComponentModel.Win32Exception)
        {
            // Cleanup continues with the next step; a leftover is named by the next test's failure, not hidden here.
        }
    }

    private Task IpInsideAsync(IEnumerable<string> arguments, CancellationToken cancellationToken) =>
        HostCommand.RunCheckedAsync("ip", ["-n", Name, .. arguments], cancellationToken: cancellationToken);

    private Task IpOutsideAsync(IEnumerable<string> arguments, CancellationToken cancellationToken) =>
        HostCommand.RunCheckedAsync("ip", [.. HostNamespaceOption, .. arguments], cancellationToken: cancellationToken);

    private Task<HostCommand.Result> IpOutsideUncheckedAsync(IEnumerable<string> arguments) =>
        HostCommand.RunAsync("ip", [.. HostNamespaceOption, .. arguments]);

    private string[] HostNamespaceOption => HostNamespace is null ? [] : ["-n", HostNamespace];

    private static void CheckPort(int port)
    {
        if (port is < 1 or > 65535)
        {
            throw new ArgumentOutOfRangeException(nameof(port), port, "a TCP port is 1 to 65535");
        }
    }

    private static string Text(int value) => value.ToString(CultureInfo.InvariantCulture);

    [GeneratedRegex("^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")]
    private static partial Regex NamespaceName();

    [GeneratedRegex(@"lease of (\d+\.\d+\.\d+\.\d+) obtained")]
    private static partial Regex LeaseObtained();

    private sealed class BackgroundProcess(Process process) : IAsyncDisposable
    {
        public ValueTask DisposeAsync()
        {
            HostCommand.Kill(process);
            return ValueTask.CompletedTask;
        }
    }
}
