using Quantixkvm.Testing;

namespace Quantixkvm.Bench.Platform;

/// <summary>
/// The real platform for a scenario: the control plane and one node agent as separate processes (their Release build
/// outputs, which this project builds before it runs), on the shared PostgreSQL (a schema of its own) and RabbitMQ (a
/// vhost of its own). The agent drives libvirt's test driver through a private libvirtd over its unix socket, as a
/// production agent drives qemu:///system: every domain call is a real libvirt RPC, only the hypervisor behind it is
/// simulated. The test driver's host is generated (<see cref="NodeXml"/>) big enough that placement never refuses a
/// scenario's VMs. Everything else runs with the platform's default settings (logging at Information included).
/// </summary>
public sealed class BenchPlatform : IAsyncDisposable
{
    private readonly string _schema = TestServices.UniqueName("bench");
    private readonly string _vhost = TestServices.UniqueName("bench");
    private LibvirtDaemon? _libvirt;

    private BenchPlatform()
    {
    }

    public PlatformProcess ControlPlane { get; private set; } = null!;
    public PlatformProcess Agent { get; private set; } = null!;
    public Uri Endpoint { get; } = new($"http://127.0.0.1:{PlatformProcess.FreePort()}/");
    public Uri GraphQLEndpoint => new(Endpoint, "graphql");
    public GraphQLClient Api { get; private set; } = null!;
    public string HostName { get; } = TestServices.UniqueName("bench-host");

    /// <summary>The control plane's PostgreSQL schema (event store and read models), for reading its events afterwards.</summary>
    public string Schema => _schema;

    /// <summary>Extra settings of the control plane and the agent (e.g. networking), beyond what every scenario needs.</summary>
    private IReadOnlyDictionary<string, string> _controlPlaneSettings = new Dictionary<string, string>();
    private IReadOnlyDictionary<string, string> _agentSettings = new Dictionary<string, string>();

    public static async Task<BenchPlatform> StartAsync(
        IReadOnlyDictionary<string, string>? controlPlaneSettings = null, IReadOnlyDictionary<string, string>? agentSettings = null)
    {
        var platform = new BenchPlatform
        {
            _controlPlaneSettings = controlPlaneSettings ?? new Dictionary<string, string>(),
            _agentSettings = agentSettings ?? new Dictionary<string, string>(),
        };
        try
        {
            await platform.StartProcessesAsync();
            return platform;
        }
        catch
        {
            await platform.DisposeAsync();
            throw;
        }
    }

    /// <summary>A simulated host with 128 CPUs and 1 TiB, so that capacity never limits what a scenario measures.</summary>
    public static string NodeXml => """
        <node>
          <cpu><nodes>1</nodes><sockets>4</sockets><cores>16</cores><threads>2</threads><active>128</active><max>128</max><mhz>2000</mhz><model>x86_64</model></cpu>
          <memory>1073741824</memory>
        </node>
        """;

    private async Task StartProcessesAsync()
    {
        await TestServices.CreateVirtualHostAsync(_vhost);
        _libvirt = await LibvirtDaemon.StartAsync();
        var node = Path.Combine(await _libvirt.CreateFolderAsync("node"), "node.xml");
        await File.WriteAllTextAsync(node, NodeXml);
        Api = new GraphQLClient(new HttpClient { BaseAddress = Endpoint, Timeout = TimeSpan.FromSeconds(60) });

        ControlPlane = PlatformProcess.Start("Quantixkvm.ControlPlane", new Dictionary<string, string>(_controlPlaneSettings)
        {
            ["ConnectionStrings__Postgres"] = TestServices.Postgres,
            ["ControlPlane__DatabaseSchema"] = _schema,
            ["RabbitMq__VirtualHost"] = _vhost,
        }, "--urls", Endpoint.ToString().TrimEnd('/'));
        await WaitAsync(async () =>
        {
            using var response = await Api.Http.GetAsync("readyz");
            return response.IsSuccessStatusCode;
        }, "the control plane to become ready", ControlPlane);

        Agent = PlatformProcess.Start("Quantixkvm.Agent", new Dictionary<string, string>(_agentSettings)
        {
            ["Agent__HostName"] = HostName,
            ["Agent__LibvirtUri"] = $"test+unix://{node}?socket={_libvirt.Socket}",
            ["RabbitMq__VirtualHost"] = _vhost,
        });
        await WaitAsync(async () =>
        {
            var data = await Api.DataAsync("{ hosts { name state } }");
            return data["hosts"]!.AsArray().Any(h => h!["name"]!.GetValue<string>() == HostName && h["state"]!.GetValue<string>() == "ONLINE");
        }, $"host {HostName} to be registered and ONLINE", Agent);
    }

    /// <summary>Creates a VM on the platform's host and waits until its creation has ended; returns the VM's id.</summary>
    public async Task<string> CreateVmAsync(string name, bool start)
    {
        var created = (await Api.DataAsync(
            "mutation($input: CreateVmInput!) { createVm(input: $input) { operation { id } vm { id } } }",
            new { input = new { name, vcpus = 1, memoryMiB = 64, start } }))["createVm"]!;
        var status = "PENDING";
        await WaitAsync(async () =>
        {
            status = (await Api.DataAsync("query($id: ID!) { operation(id: $id) { status } }",
                new { id = created["operation"]!["id"]!.GetValue<string>() }))["operation"]!["status"]!.GetValue<string>();
            return status is not ("PENDING" or "RUNNING");
        }, $"VM {name} to be created", Agent);
        return status == "SUCCEEDED"
            ? created["vm"]!["id"]!.GetValue<string>()
            : throw new InvalidOperationException($"creating VM {name} ended {status}\n{RecentOutput}");
    }

    /// <summary>The processes' last output lines, for a report when something went wrong.</summary>
    public string RecentOutput => $"--- control plane ---\n{ControlPlane?.Output}\n--- agent ---\n{Agent?.Output}";

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

        if (_libvirt is not null)
        {
            await _libvirt.DisposeAsync();
        }

        await TestServices.DeleteVirtualHostAsync(_vhost);
        await TestServices.DropSchemaAsync(_schema);
    }

    private static Task WaitAsync(Func<Task<bool>> condition, string what, PlatformProcess process) =>
        PlatformProcess.WaitUntilAsync(condition, TimeSpan.FromSeconds(90), what, process);
}
