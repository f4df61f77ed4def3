using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using Xunit;

namespace Quantixkvm.Testing;

/// <summary>
/// A private ovsdb-server in a temporary folder, run in the foreground as a child process and killed on dispose:
/// a database created from the given schema, served on a unix socket of its own and on a loopback TCP port.
/// OVS_RUNDIR/OVS_DBDIR/OVS_LOGDIR point into the folder, so it never meets the machine's own OVS files.
/// </summary>
public sealed class OvsdbServer : IAsyncDisposable
{
    public const string VswitchSchema = "/usr/share/openvswitch/vswitch.ovsschema";
    public const string NorthboundSchema = "/usr/share/ovn/ovn-nb.ovsschema";

    private readonly Process _process;

    private OvsdbServer(string root, int tcpPort, Process process)
    {
        Root = root;
        TcpPort = tcpPort;
        _process = process;
    }

    public string Root { get; }

    public int TcpPort { get; }

    public string SocketPath => Path.Combine(Root, "db.sock");

    /// <summary>The database file: every committed transaction that changed something is a record in it.</summary>
    public string DatabasePath => Path.Combine(Root, "db.db");

    public string UnixEndpoint => "unix:" + SocketPath;

    public string TcpEndpoint => $"tcp:127.0.0.1:{TcpPort}";

    public static async Task<OvsdbServer> StartAsync(string schema)
    {
        var root = Path.Combine(Path.GetTempPath(), $"qkvm-ovsdb-{Guid.NewGuid():N}");
        Directory.CreateDirectory(root);
        var database = Path.Combine(root, "db.db");
        await RunAsync(root, "ovsdb-tool", "create", database, schema);

        var tcpPort = FreeTcpPort();
        var start = new ProcessStartInfo("ovsdb-server")
        {
            ArgumentList =
            {
                database,
                "--remote=punix:" + Path.Combine(root, "db.sock"),
                $"--remote=ptcp:{tcpPort}:127.0.0.1",
                "--unixctl=" + Path.Combine(root, "ovsdb-server.ctl"),
                "--log-file=" + Path.Combine(root, "ovsdb-server.log"),
                "--no-chdir",
                "-vconsole:off",
            },
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        SetPrivateDirectories(start, root);
        var process = Process.Start(start) ?? throw new InvalidOperationException("ovsdb-server did not start");
        process.OutputDataReceived += (_, _) => { };
        process.ErrorDataReceived += (_, _) => { };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();

        var server = new OvsdbServer(root, tcpPort, process);
        var deadline = DateTime.UtcNow.AddSeconds(20);
        while (!File.Exists(server.SocketPath))
        {
            if (process.HasExited || DateTime.UtcNow > deadline)
            {
                var log = File.Exists(Path.Combine(root, "ovsdb-server.log")) ? await File.ReadAllTextAsync(Path.Combine(root, "ovsdb-server.log")) : "";
                await server.DisposeAsync();
                throw new InvalidOperationException($"ovsdb-server did not open {server.SocketPath} (exited: {process.HasExited}): {log}");
            }

            await Task.Delay(50);
        }

        return server;
    }

    /// <summary>
    /// Runs one of OVS's or OVN's own tools against this server (ovs-vsctl, ovn-nbctl) and returns its output. No
    /// ovs-vswitchd runs, so ovs-vsctl must not wait for one to apply a change.
    /// </summary>
    public Task<string> ToolAsync(string tool, params string[] arguments) =>
        RunAsync(Root, tool, ["--db=" + UnixEndpoint, .. ToolOptions(tool), .. arguments]);

    /// <summary>
    /// How many transactions have changed the database so far (the records of its file, as ovsdb-tool shows them): a
    /// transaction that writes what is already there changes nothing and adds no record.
    /// </summary>
    public async Task<int> CommittedTransactionsAsync() =>
        (await RunAsync(Root, "ovsdb-tool", "show-log", DatabasePath)).Split('\n').Count(line => line.StartsWith("record ", StringComparison.Ordinal));

    private static string[] ToolOptions(string tool) => tool switch
    {
        "ovs-vsctl" => ["--timeout=30", "--no-wait"],
        "ovn-nbctl" => ["--timeout=30"],
        _ => [],
    };

    /// <summary>Kills the server: a crash, as its clients see it.</summary>
    public async Task KillAsync()
    {
        if (!_process.HasExited)
        {
            _process.Kill(entireProcessTree: true);
            await _process.WaitForExitAsync();
        }
    }

    public async ValueTask DisposeAsync()
    {
        await KillAsync();
        _process.Dispose();
        try
        {
            Directory.Delete(Root, recursive: true);
        }
        catch (IOException)
        {
        }
    }

    private static async Task<string> RunAsync(string root, string file, params string[] arguments)
    {
        var start = new ProcessStartInfo(file) { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        SetPrivateDirectories(start, root);
        using var process = Process.Start(start) ?? throw new InvalidOperationException($"{file} did not start");
        var output = process.StandardOutput.ReadToEndAsync();
        var error = process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync();
        if (process.ExitCode != 0)
        {
            throw new InvalidOperationException($"{file} {string.Join(' ', arguments)} exited with {process.ExitCode}: {await error}");
        }

        return await output;
    }

    private static void SetPrivateDirectories(ProcessStartInfo start, string root)
    {
        foreach (var variable in new[] { "OVS_RUNDIR", "OVS_DBDIR", "OVS_LOGDIR", "OVN_RUNDIR", "OVN_DBDIR", "OVN_LOGDIR" })
        {
            start.Environment[variable] = root;
        }
    }

    private static int FreeTcpPort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}

/// <summary>One private Open_vSwitch database per test class.</summary>
public sealed class VswitchDatabase : IAsyncLifetime
{
    public OvsdbServer Server { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        Server = await OvsdbServer.StartAsync(OvsdbServer.VswitchSchema);
        // The Open_vSwitch root row, as the OVS startup scripts create it (OvsSwitch creates it too when missing).
        await Server.ToolAsync("ovs-vsctl", "init");
    }

    public async Task DisposeAsync() => await Server.DisposeAsync();
}

/// <summary>One private OVN_Northbound database per test class.</summary>
public sealed class NorthboundDatabase : IAsyncLifetime
{
    public OvsdbServer Server { get; private set; } = null!;

    public async Task InitializeAsync() => Server = await OvsdbServer.StartAsync(OvsdbServer.NorthboundSchema);

    public async Task DisposeAsync() => await Server.DisposeAsync();
}
