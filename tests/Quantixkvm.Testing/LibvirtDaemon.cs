using System.Diagnostics;

namespace Quantixkvm.Testing;

/// <summary>
/// A private, unprivileged libvirt daemon in a temporary folder, serving libvirt's test driver over
/// its own socket, so the agent (another process) and the test see the same hypervisor. libvirtd
/// refuses to run a session daemon as root: under root it runs as the 'quantixkvm' user that
/// infra/dev/install.sh creates. Each daemon has a host UUID of its own, so two of them can migrate domains
/// between each other as two hosts would. Started in a network namespace (<c>networkNamespace</c>), the daemon and the
/// QEMU it runs live there: its guests open TAP devices of that namespace, e.g. the one of an <see cref="OvnStack"/>.
/// </summary>
public sealed class LibvirtDaemon : IAsyncDisposable
{
    private const string ServiceUser = "quantixkvm";
    private Process _process;

    private LibvirtDaemon(string root, string? networkNamespace, Process process)
    {
        Root = root;
        NetworkNamespace = networkNamespace;
        _process = process;
    }

    public string Root { get; }

    /// <summary>The user the daemon and its QEMU run as: who must own the TAP devices its guests open.</summary>
    public static string User => Environment.UserName == "root" ? ServiceUser : Environment.UserName;

    /// <summary>The network namespace the daemon (and its QEMU) runs in; null: this machine's.</summary>
    public string? NetworkNamespace { get; }

    /// <summary>The daemon's own host UUID (libvirtd.conf <c>host_uuid</c>), so that two daemons on one machine are two hosts to libvirt.</summary>
    public Guid HostUuid { get; private init; }

    public string Socket => Path.Combine(Root, "run", "libvirt", "libvirt-sock");

    /// <summary>
    /// With <c>logApiCalls</c>: libvirt's own debug log of every domain API call (virDomainCreate, virDomainDefineXML, ...,
    /// each naming its domain), written by the daemon: a record of what was done to the hypervisor that no client can forget.
    /// </summary>
    public string ApiLog => Path.Combine(Root, "libvirt-api.log");

    /// <summary>The test driver's shared host, reached through this daemon. State lives while any connection is open.</summary>
    public string TestDriverUri => $"test+unix:///default?socket={Socket}";

    /// <summary>The daemon's own QEMU driver (session mode, as the daemon's user), for real domains, pools and secrets.</summary>
    public string QemuSessionUri => $"qemu+unix:///session?socket={Socket}";

    /// <summary>
    /// Starts a daemon; with <paramref name="networkNamespace"/> (which must exist) inside that namespace, through
    /// <c>ip netns exec</c> (as root, or <c>sudo -n</c>) before it drops to <see cref="User"/>.
    /// </summary>
    public static async Task<LibvirtDaemon> StartAsync(bool logApiCalls = false, string? networkNamespace = null)
    {
        if (networkNamespace is not null && !System.Text.RegularExpressions.Regex.IsMatch(networkNamespace, "^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$"))
        {
            throw new ArgumentException($"'{networkNamespace}' is not a network namespace name (letters, digits, '-', '_', '.')", nameof(networkNamespace));
        }

        var root = Path.Combine(Path.GetTempPath(), $"qkvm-libvirtd-{Guid.NewGuid():N}"[..30]);
        foreach (var dir in new[] { "run", "config/libvirt", "cache", "data", "home" })
        {
            Directory.CreateDirectory(Path.Combine(root, dir));
        }

        // A host UUID of its own (libvirt reads the machine's otherwise): a migration between two daemons on one machine needs them to differ.
        var hostUuid = Guid.NewGuid();
        File.WriteAllText(
            Path.Combine(root, "config/libvirt/libvirtd.conf"),
            $"unix_sock_dir = \"{Path.Combine(root, "run", "libvirt")}\"\nhost_uuid = \"{hostUuid}\"\n"
            + (logApiCalls ? $"log_filters = \"1:libvirt.domain 4:*\"\nlog_outputs = \"1:file:{Path.Combine(root, "libvirt-api.log")}\"\n" : ""));
        // QEMU's output goes to files, not to virtlogd (no such daemon runs here).
        File.WriteAllText(Path.Combine(root, "config/libvirt/qemu.conf"), "stdio_handler = \"file\"\n");
        if (Environment.UserName == "root")
        {
            await RunAsync("chown", "-R", ServiceUser, root);
        }

        var daemon = new LibvirtDaemon(root, networkNamespace, Launch(root, networkNamespace)) { HostUuid = hostUuid };
        await daemon.WaitForSocketAsync();
        return daemon;
    }

    /// <summary>Kills the daemon and starts it again on the same socket, as an upgrade or crash of libvirtd would.</summary>
    public async Task RestartAsync()
    {
        _process.Kill(entireProcessTree: true);
        await _process.WaitForExitAsync();
        _process.Dispose();
        File.Delete(Socket);
        _process = Launch(Root, NetworkNamespace);
        await WaitForSocketAsync();
    }

    /// <summary>A folder under the daemon's root that the daemon (and the QEMU it starts) can write to.</summary>
    public async Task<string> CreateFolderAsync(string name)
    {
        var path = Path.Combine(Root, name);
        Directory.CreateDirectory(path);
        if (Environment.UserName == "root")
        {
            await RunAsync("chown", ServiceUser, path);
        }

        return path;
    }

    /// <summary>
    /// A qcow2 overlay on a (raw) image, e.g. <see cref="GuestImage"/>'s, in a folder of the daemon's, owned by the daemon's
    /// user so that its QEMU can write to it; another daemon running as the same user (a migration target) can too.
    /// </summary>
    public async Task<string> CreateOverlayAsync(string backingImage, string name, string backingFormat = "raw")
    {
        var folder = await CreateFolderAsync("disks");
        var path = Path.Combine(folder, name);
        await RunAsync("qemu-img", "create", "-q", "-f", "qcow2", "-b", backingImage, "-F", backingFormat, path);
        if (Environment.UserName == "root")
        {
            await RunAsync("chown", ServiceUser, path);
        }

        return path;
    }

    /// <summary>An empty raw image of <paramref name="sizeMiB"/> MiB in the daemon's disk folder, owned by the daemon's user.</summary>
    public async Task<string> CreateRawImageAsync(string name, int sizeMiB)
    {
        var folder = await CreateFolderAsync("disks");
        var path = Path.Combine(folder, name);
        await RunAsync("qemu-img", "create", "-q", "-f", "raw", path, $"{sizeMiB}M");
        if (Environment.UserName == "root")
        {
            await RunAsync("chown", ServiceUser, path);
        }

        return path;
    }

    private static Process Launch(string root, string? networkNamespace)
    {
        var env = new[]
        {
            $"HOME={root}/home", $"XDG_RUNTIME_DIR={root}/run", $"XDG_CONFIG_HOME={root}/config",
            $"XDG_CACHE_HOME={root}/cache", $"XDG_DATA_HOME={root}/data",
        };
        string[] daemon = ["env", .. env, "/usr/sbin/libvirtd", "--timeout", "0"];
        string[] command = (networkNamespace, Environment.UserName == "root") switch
        {
            (null, true) => ["runuser", "-u", ServiceUser, "--", .. daemon],
            (null, false) => daemon,
            // Entering a namespace needs root; the daemon then runs as the user it would run as outside.
            (not null, true) => ["ip", "netns", "exec", networkNamespace, "runuser", "-u", ServiceUser, "--", .. daemon],
            (not null, false) => ["sudo", "-n", "ip", "netns", "exec", networkNamespace, "runuser", "-u", User, "--", .. daemon],
        };
        var start = new ProcessStartInfo(command[0], command[1..]);
        start.RedirectStandardError = true;
        start.RedirectStandardOutput = true;
        var process = Process.Start(start) ?? throw new InvalidOperationException("libvirtd did not start");
        process.ErrorDataReceived += (_, _) => { };
        process.OutputDataReceived += (_, _) => { };
        process.BeginErrorReadLine();
        process.BeginOutputReadLine();
        return process;
    }

    private async Task WaitForSocketAsync()
    {
        var deadline = DateTime.UtcNow.AddSeconds(20);
        while (!File.Exists(Socket))
        {
            if (_process.HasExited || DateTime.UtcNow > deadline)
            {
                throw new InvalidOperationException($"libvirtd did not open {Socket} (exited: {_process.HasExited})");
            }

            await Task.Delay(100);
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (!_process.HasExited)
        {
            _process.Kill(entireProcessTree: true);
            await _process.WaitForExitAsync();
        }

        _process.Dispose();
        try
        {
            Directory.Delete(Root, recursive: true);
        }
        catch (IOException)
        {
        }
        catch (UnauthorizedAccessException)
        {
        }
    }

    private static async Task RunAsync(string file, params string[] args)
    {
        using var process = Process.Start(new ProcessStartInfo(file, args)) ?? throw new InvalidOperationException($"{file} did not start");
        await process.WaitForExitAsync();
        if (process.ExitCode != 0)
        {
            throw new InvalidOperationException($"{file} {string.Join(' ', args)} exited with {process.ExitCode}");
        }
    }
}
