using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using Quantixkvm.Testing;

namespace Quantixkvm.Bench.Scale;

/// <summary>
/// The real control plane as a process of its own, on the real PostgreSQL (a schema of its own) and RabbitMQ (a vhost of
/// its own), settings as the end-to-end tests start it; and the fleet simulator beside it on the same vhost.
/// </summary>
public sealed class ScalePlatform : IAsyncDisposable
{
    private ScalePlatform(string schema, string vhost, int port)
    {
        Schema = schema;
        VirtualHost = vhost;
        Endpoint = new Uri($"http://127.0.0.1:{port}/");
        Http = new HttpClient { BaseAddress = Endpoint, Timeout = TimeSpan.FromSeconds(120) };
        Api = new GraphQLClient(Http);
    }

    public string Schema { get; }
    public string VirtualHost { get; }
    public Uri Endpoint { get; }
    public HttpClient Http { get; }
    public GraphQLClient Api { get; }
    public PlatformProcess? ControlPlane { get; private set; }
    public int ControlPlanePid => ControlPlane!.Id;

    public static async Task<ScalePlatform> StartAsync(double heartbeatTimeoutSeconds, int operationTimeoutSeconds)
    {
        var platform = new ScalePlatform(TestServices.UniqueName("scale"), TestServices.UniqueName("scale"), PlatformProcess.FreePort());
        await TestServices.CreateVirtualHostAsync(platform.VirtualHost);
        var urls = platform.Endpoint.ToString().TrimEnd('/');
        platform.ControlPlane = PlatformProcess.Start("Quantixkvm.ControlPlane", new Dictionary<string, string>
        {
            ["ConnectionStrings__Postgres"] = TestServices.Postgres,
            ["ControlPlane__DatabaseSchema"] = platform.Schema,
            ["ControlPlane__OperationTimeoutSeconds"] = operationTimeoutSeconds.ToString(CultureInfo.InvariantCulture),
            ["ControlPlane__HeartbeatTimeoutSeconds"] = heartbeatTimeoutSeconds.ToString(CultureInfo.InvariantCulture),
            ["RabbitMq__VirtualHost"] = platform.VirtualHost,
        }, "--urls", urls);
        await PlatformProcess.WaitUntilAsync(async () =>
        {
            using var response = await platform.Http.GetAsync("readyz");
            return response.IsSuccessStatusCode;
        }, TimeSpan.FromSeconds(90), "the control plane to become ready", platform.ControlPlane);
        return platform;
    }

    public async ValueTask DisposeAsync()
    {
        if (ControlPlane is not null)
        {
            await ControlPlane.DisposeAsync();
        }

        Http.Dispose();
        await TestServices.DeleteVirtualHostAsync(VirtualHost);
        await TestServices.DropSchemaAsync(Schema);
    }
}

/// <summary>
/// bench/Quantixkvm.FleetSim as a process: K real agents in one process, talked to over its standard input
/// ("silence NAME", "stop"). Built with the bench (a build-only project reference), in the same configuration.
/// </summary>
public sealed class FleetProcess : IAsyncDisposable
{
    private readonly Process _process;
    private readonly ConcurrentQueue<string> _output = new();
    private readonly TaskCompletionSource<bool> _ready = new(TaskCreationOptions.RunContinuationsAsynchronously);

    private FleetProcess(Process process)
    {
        _process = process;
        process.OutputDataReceived += (_, e) => Keep(e.Data);
        process.ErrorDataReceived += (_, e) => Keep(e.Data);
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
    }

    public int Pid => _process.Id;

    public bool HasExited => _process.HasExited;

    public string Output => string.Join('\n', _output);

    public static FleetProcess Start(string vhost, int hosts, double heartbeatSeconds, string folder, int hostsPerConnection)
    {
        var dll = Path.Combine(PlatformProcess.RepositoryRoot, "bench", "Quantixkvm.FleetSim", "bin", PlatformProcess.Configuration, "net10.0", "Quantixkvm.FleetSim.dll");
        if (!File.Exists(dll))
        {
            throw new FileNotFoundException($"{dll} is not built; build the bench first", dll);
        }

        var start = new ProcessStartInfo("dotnet",
        [
            dll, "--hosts", hosts.ToString(CultureInfo.InvariantCulture), "--dir", folder,
            "--heartbeat-seconds", heartbeatSeconds.ToString(CultureInfo.InvariantCulture),
            "--hosts-per-connection", hostsPerConnection.ToString(CultureInfo.InvariantCulture),
        ])
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        start.Environment["RabbitMq__VirtualHost"] = vhost;
        start.Environment["DOTNET_ENVIRONMENT"] = "Production";
        return new FleetProcess(Process.Start(start) ?? throw new InvalidOperationException("the fleet simulator did not start"));
    }

    /// <summary>Waits until every simulated host's reporter runs.</summary>
    public async Task WaitReadyAsync(TimeSpan timeout)
    {
        var finished = await Task.WhenAny(_ready.Task, Task.Delay(timeout), _process.WaitForExitAsync());
        if (finished != _ready.Task)
        {
            throw new TimeoutException($"the fleet simulator was not ready within {timeout} (exited: {_process.HasExited}):\n{Output}");
        }
    }

    /// <summary>Stops one simulated host's heartbeats: to the control plane it has died.</summary>
    public Task SilenceAsync(string hostName) => _process.StandardInput.WriteLineAsync($"silence {hostName}");

    public async ValueTask DisposeAsync()
    {
        if (!_process.HasExited)
        {
            _process.Kill(entireProcessTree: true);
            await _process.WaitForExitAsync();
        }

        _process.Dispose();
    }

    private void Keep(string? line)
    {
        if (line is null)
        {
            return;
        }

        if (line.StartsWith("ready ", StringComparison.Ordinal))
        {
            _ready.TrySetResult(true);
        }

        _output.Enqueue(line);
        while (_output.Count > 200)
        {
            _output.TryDequeue(out _);
        }
    }
}
