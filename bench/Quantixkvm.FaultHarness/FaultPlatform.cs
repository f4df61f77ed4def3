using System.Diagnostics;
using System.Runtime.InteropServices;
using Npgsql;
using Quantixkvm.Libvirt;
using Quantixkvm.Testing;

namespace Quantixkvm.FaultHarness;

/// <summary>
/// The platform under test, each part a process of its own that the harness can kill: the control plane and one agent
/// on the harness's private PostgreSQL and RabbitMQ, the agent driving libvirt's test driver through a private libvirt
/// daemon (which logs every domain API call), so the domains survive the agent's death and the harness sees them too.
/// </summary>
public sealed class FaultPlatform : IAsyncDisposable
{
    public const string Schema = "faults";

    private readonly FaultOptions _options;

    private FaultPlatform(FaultOptions options, PrivateServices services, LibvirtDaemon daemon, int port)
    {
        _options = options;
        Services = services;
        Daemon = daemon;
        Endpoint = new Uri($"http://127.0.0.1:{port}/");
        Api = new GraphQLClient(new HttpClient { BaseAddress = Endpoint, Timeout = TimeSpan.FromSeconds(15) });
        Libvirt = LibvirtConnection.Open(daemon.TestDriverUri);
    }

    public PrivateServices Services { get; }
    public LibvirtDaemon Daemon { get; }
    public Uri Endpoint { get; }
    public GraphQLClient Api { get; }
    public string HostName { get; } = "fault-host";

    /// <summary>The harness's own view of the agent's hypervisor, held open for the run (which also keeps the test driver's state).</summary>
    public LibvirtConnection Libvirt { get; }

    public PlatformProcess? ControlPlane { get; private set; }
    public PlatformProcess? Agent { get; private set; }
    public bool ControlPlaneDispatches { get; private set; }

    /// <summary>Starts the private services, the libvirt daemon, the control plane and the agent; ready when the host is ONLINE.</summary>
    public static async Task<FaultPlatform> StartAsync(FaultOptions options, CancellationToken cancellationToken = default)
    {
        var services = await PrivateServices.StartAsync(cancellationToken);
        FaultPlatform platform;
        try
        {
            platform = new FaultPlatform(options, services, await LibvirtDaemon.StartAsync(logApiCalls: true), PlatformProcess.FreePort());
        }
        catch
        {
            await services.DisposeAsync();
            throw;
        }

        try
        {
            await platform.StartControlPlaneAsync(dispatch: true, cancellationToken);
            await platform.StartAgentAsync(cancellationToken);
            return platform;
        }
        catch
        {
            await platform.DisposeAsync();
            throw;
        }
    }

    private IReadOnlyDictionary<string, string> Broker => new Dictionary<string, string>
    {
        ["RabbitMq__Host"] = "127.0.0.1",
        ["RabbitMq__Port"] = Services.AmqpPort.ToString(),
        ["RabbitMq__Username"] = PrivateServices.User,
        ["RabbitMq__Password"] = PrivateServices.Password,
        ["RabbitMq__VirtualHost"] = "/",
        ["RabbitMq__ManagementPort"] = Services.ManagementPort.ToString(),
    };

    /// <summary>Starts the control plane (dispatch held when <paramref name="dispatch"/> is false) and waits until it is ready.</summary>
    public async Task<TimeSpan> StartControlPlaneAsync(bool dispatch, CancellationToken cancellationToken = default)
    {
        var clock = Stopwatch.StartNew();
        var settings = new Dictionary<string, string>(Broker)
        {
            ["ConnectionStrings__Postgres"] = Services.Postgres,
            ["ControlPlane__DatabaseSchema"] = Schema,
            ["ControlPlane__OperationTimeoutSeconds"] = _options.OperationTimeoutSeconds.ToString(),
            ["ControlPlane__DispatchEnabled"] = dispatch.ToString(),
            // The agent is paused or dead for seconds at a time on purpose: that is not a host failure to fence.
            ["ControlPlane__HeartbeatTimeoutSeconds"] = "120",
            ["ControlPlane__DeadlineScanSeconds"] = "0.5",
        };
        ControlPlane = Keep(PlatformProcess.Start("Quantixkvm.ControlPlane", settings, "--urls", Endpoint.ToString().TrimEnd('/')), "controlplane.log");
        ControlPlaneDispatches = dispatch;
        await WaitAsync(async () =>
        {
            using var response = await Api.Http.GetAsync("readyz", cancellationToken);
            return response.IsSuccessStatusCode;
        }, TimeSpan.FromSeconds(90), "the control plane to become ready", ControlPlane, cancellationToken);
        return clock.Elapsed;
    }

    /// <summary>kill -9 of the control plane.</summary>
    public Task KillControlPlaneAsync() => ControlPlane?.KillAsync() ?? Task.CompletedTask;

    /// <summary>Starts the agent and waits until its host is ONLINE.</summary>
    public async Task<TimeSpan> StartAgentAsync(CancellationToken cancellationToken = default)
    {
        var clock = Stopwatch.StartNew();
        Agent = Keep(PlatformProcess.Start("Quantixkvm.Agent", new Dictionary<string, string>(Broker)
        {
            ["Agent__HostName"] = HostName,
            ["Agent__LibvirtUri"] = Daemon.TestDriverUri,
            ["Agent__HeartbeatSeconds"] = "1",
            ["Agent__InventorySeconds"] = _options.InventorySeconds.ToString(),
        }), "agent.log");
        var startedAt = DateTimeOffset.UtcNow;
        await using var data = NpgsqlDataSource.Create(Services.Postgres);
        await WaitAsync(async () =>
        {
            var hosts = await Api.DataAsync("{ hosts { name state } }");
            if (!hosts["hosts"]!.AsArray().Any(h => h!["name"]!.GetValue<string>() == HostName && h["state"]!.GetValue<string>() == "ONLINE"))
            {
                return false;
            }

            // ONLINE in the read model may be the old process's standing: this process must have sent a heartbeat.
            await using var heartbeat = data.CreateCommand($"select max((data->>'lastHeartbeatAt')::timestamptz) from {Schema}.mt_doc_hostliveness");
            return await heartbeat.ExecuteScalarAsync(cancellationToken) is DateTime last && last > startedAt.UtcDateTime;
        }, TimeSpan.FromSeconds(90), $"host {HostName} to be ONLINE, heartbeating from the new agent", Agent, cancellationToken);
        return clock.Elapsed;
    }

    /// <summary>With a log folder, the process's whole output goes to a file there too (each start appends, after a marker line).</summary>
    private PlatformProcess Keep(PlatformProcess process, string file)
    {
        if (_options.LogFolder is { } folder)
        {
            File.AppendAllText(Path.Combine(folder, file), $"===== {DateTimeOffset.UtcNow:O} {process.Name} started (pid {process.Id})\n");
            process.TeeTo(Path.Combine(folder, file));
        }

        return process;
    }

    /// <summary>kill -9 of the agent.</summary>
    public Task KillAgentAsync() => Agent?.KillAsync() ?? Task.CompletedTask;

    /// <summary>Freezes (SIGSTOP) or thaws (SIGCONT) the agent: its messages wait, unacknowledged, meanwhile.</summary>
    public void FreezeAgent(bool frozen)
    {
        if (Agent is { HasExited: false } agent && Signal(agent.Id, frozen ? 19 : 18) != 0)
        {
            throw new InvalidOperationException($"could not {(frozen ? "stop" : "continue")} the agent (pid {agent.Id})");
        }
    }

    [DllImport("libc", EntryPoint = "kill", SetLastError = true)]
    private static extern int Signal(int pid, int signal);

    /// <summary>Polls until the condition holds (errors while a part restarts count as "not yet", the database's too).</summary>
    public static Task WaitAsync(
        Func<Task<bool>> condition, TimeSpan timeout, string what, PlatformProcess? process = null, CancellationToken cancellationToken = default) =>
        PlatformProcess.WaitUntilAsync(condition, timeout, what, process,
            ex => ex is HttpRequestException or InvalidOperationException or TaskCanceledException or System.Text.Json.JsonException or NpgsqlException,
            cancellationToken);

    public async ValueTask DisposeAsync()
    {
        if (Agent is not null)
        {
            await Agent.DisposeAsync();
        }

        if (ControlPlane is not null)
        {
            await ControlPlane.DisposeAsync();
        }

        Libvirt.Dispose();
        await Daemon.DisposeAsync();
        await Services.DisposeAsync();
    }
}
