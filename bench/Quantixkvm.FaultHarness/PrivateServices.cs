using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text;
using Quantixkvm.Testing;

namespace Quantixkvm.FaultHarness;

/// <summary>
/// A PostgreSQL cluster and a RabbitMQ node of the harness's own, started by the project's own script
/// (infra/dev/start-services.sh) in a temporary data folder on free ports, so that stopping them hard hurts no one
/// else. PostgreSQL is durable (fsync on: not QKVM_PG_FAST). Stopped abruptly on request and started again by the
/// same script; everything is stopped and deleted on dispose.
/// </summary>
public sealed class PrivateServices : IAsyncDisposable
{
    /// <summary>Ports the shared dev services (and Ceph) use: never taken here.</summary>
    private static readonly HashSet<int> SharedPorts = [15433, 15673, 15674, 15675, 15676, 16789, 16790, 18080];

    private readonly Dictionary<string, string> _environment;

    private PrivateServices(string data, int postgres, int amqp, int management, Dictionary<string, string> environment)
    {
        DataFolder = data;
        PostgresPort = postgres;
        AmqpPort = amqp;
        ManagementPort = management;
        _environment = environment;
    }

    public string DataFolder { get; }
    public int PostgresPort { get; }
    public int AmqpPort { get; }
    public int ManagementPort { get; }
    public const string User = "quantixkvm";
    public const string Password = "quantixkvm";

    public string Postgres => $"Host=127.0.0.1;Port={PostgresPort};Database=quantixkvm;Username={User};Password={Password}";

    /// <summary>How long the first start of both services took (RabbitMQ dominates).</summary>
    public TimeSpan FirstStart { get; private set; }

    public static async Task<PrivateServices> StartAsync(CancellationToken cancellationToken = default)
    {
        var data = Path.Combine(Path.GetTempPath(), $"qkvm-faults-{Guid.NewGuid():N}"[..24]);
        Directory.CreateDirectory(data);
        // The services run as their own users (postgres, rabbitmq): they must be able to enter the folder.
        if (OperatingSystem.IsLinux())
        {
            File.SetUnixFileMode(data, (UnixFileMode)0b111_101_101);
        }
        var ports = FreePorts(5);
        var node = $"qkvmfaults{Guid.NewGuid():N}"[..18];
        var environment = new Dictionary<string, string>
        {
            ["QKVM_DATA"] = data,
            ["QKVM_PG_PORT"] = ports[0].ToString(),
            ["QKVM_AMQP_PORT"] = ports[1].ToString(),
            ["QKVM_RABBIT_DIST_PORT"] = ports[2].ToString(),
            ["QKVM_EPMD_PORT"] = ports[3].ToString(),
            ["QKVM_RABBIT_MGMT_PORT"] = ports[4].ToString(),
            ["QKVM_RABBIT_NODENAME"] = $"{node}@localhost",
            // Open vSwitch/OVN is not part of these faults (and only one such stack fits a network namespace).
            ["QKVM_OVS"] = "0",
        };
        var services = new PrivateServices(data, ports[0], ports[1], ports[4], environment);
        var clock = Stopwatch.StartNew();
        try
        {
            await services.RunScriptAsync("infra/dev/start-services.sh", cancellationToken);
        }
        catch
        {
            await services.DisposeAsync();
            throw;
        }

        services.FirstStart = clock.Elapsed;
        return services;
    }

    /// <summary>PostgreSQL's immediate shutdown: no checkpoint, every backend gone at once (as a crash; recovery replays the WAL).</summary>
    public Task StopPostgresAsync() => ShellAsync(
        """
        pid="$(qkvm_pg_postmaster_pid)"
        [[ -n "$pid" ]] && (cd "$QKVM_PG_DATA" && qkvm_pg pg_ctl -D "$QKVM_PG_DATA" stop -m immediate -w -t 30 >/dev/null)
        true
        """);

    /// <summary>kill -9 of the RabbitMQ node (its beam process); epmd stays, as after a crash.</summary>
    public Task KillRabbitMqAsync() => ShellAsync(
        """
        pid="$(qkvm_read_pidfile "$QKVM_RMQ_PIDFILE")"
        [[ -n "$pid" ]] && kill -KILL "$pid" 2>/dev/null
        for p in $(qkvm_rabbit_beam_pids); do qkvm_stop_pid "$p" "RabbitMQ beam" 5 KILL; done
        true
        """);

    /// <summary>Starts whatever is not running again, with the same script (the one already running is left alone).</summary>
    public Task RestartAsync(CancellationToken cancellationToken = default) => RunScriptAsync("infra/dev/start-services.sh", cancellationToken);

    public async ValueTask DisposeAsync()
    {
        try
        {
            await ShellAsync(
                """
                for p in $(qkvm_rabbit_beam_pids); do qkvm_stop_pid "$p" "RabbitMQ beam" 5 KILL; done
                for p in $(qkvm_epmd_pids); do qkvm_stop_pid "$p" epmd 5; done
                pid="$(qkvm_pg_postmaster_pid)"
                [[ -n "$pid" ]] && (cd "$QKVM_PG_DATA" && qkvm_pg pg_ctl -D "$QKVM_PG_DATA" stop -m immediate -w -t 30 >/dev/null)
                if [[ -d "$QKVM_PG_DATA" ]]; then for p in $(qkvm_pids_with_cwd "$QKVM_PG_DATA"); do qkvm_stop_pid "$p" "postgres child" 5 KILL; done; fi
                true
                """);
        }
        finally
        {
            try
            {
                Directory.Delete(DataFolder, recursive: true);
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
            {
            }
        }
    }

    private Task RunScriptAsync(string script, CancellationToken cancellationToken) =>
        RunAsync("bash", [Path.Combine(PlatformProcess.RepositoryRoot, script)], cancellationToken);

    /// <summary>Runs a bash snippet with infra/dev/lib.sh loaded, against this instance's folders and ports.</summary>
    private Task ShellAsync(string snippet) =>
        RunAsync("bash", ["-c", $"set -uo pipefail; source \"{Path.Combine(PlatformProcess.RepositoryRoot, "infra/dev/lib.sh")}\"\n{snippet}"], CancellationToken.None);

    private async Task RunAsync(string file, string[] args, CancellationToken cancellationToken)
    {
        var start = new ProcessStartInfo(file, args) { RedirectStandardOutput = true, RedirectStandardError = true };
        // The caller's shell may have sourced env.sh for the shared services: this instance's values win, and durability stays on.
        start.Environment.Remove("QKVM_PG_FAST");
        foreach (var key in start.Environment.Keys.Where(k => k.StartsWith("ConnectionStrings__", StringComparison.Ordinal) || k.StartsWith("RabbitMq__", StringComparison.Ordinal)).ToList())
        {
            start.Environment.Remove(key);
        }

        foreach (var (key, value) in _environment)
        {
            start.Environment[key] = value;
        }

        using var process = Process.Start(start) ?? throw new InvalidOperationException($"{file} did not start");
        var output = new StringBuilder();
        process.OutputDataReceived += (_, e) => { lock (output) { output.AppendLine(e.Data); } };
        process.ErrorDataReceived += (_, e) => { lock (output) { output.AppendLine(e.Data); } };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        await process.WaitForExitAsync(cancellationToken);
        if (process.ExitCode != 0)
        {
            throw new InvalidOperationException($"{file} {string.Join(' ', args)} exited with {process.ExitCode}:\n{output}");
        }
    }

    /// <summary>Free ports below the ephemeral range (32768+), away from the shared services' ports.</summary>
    private static int[] FreePorts(int count)
    {
        var ports = new List<int>();
        while (ports.Count < count)
        {
            var port = Random.Shared.Next(20_000, 32_000);
            if (SharedPorts.Contains(port) || ports.Contains(port))
            {
                continue;
            }

            try
            {
                using var listener = new TcpListener(IPAddress.Loopback, port);
                listener.Start();
                ports.Add(port);
            }
            catch (SocketException)
            {
            }
        }

        return [.. ports];
    }
}
