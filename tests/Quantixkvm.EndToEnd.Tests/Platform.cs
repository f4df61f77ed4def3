using System.Text.Json.Nodes;
using Quantixkvm.Libvirt;
using Quantixkvm.Testing;

namespace Quantixkvm.EndToEnd.Tests;

/// <summary>
/// The whole platform as separate processes: a control plane and a node agent, on the real
/// PostgreSQL (a schema of its own) and RabbitMQ (a vhost of its own), the agent driving libvirt's
/// test driver through a private libvirt daemon that the test can open too.
/// </summary>
public class Platform : IAsyncLifetime
{
    /// <summary>Short deadlines, so the timeout test does not wait minutes; real operations here take milliseconds.</summary>
    public const int OperationTimeoutSeconds = 6;

    /// <summary>The deadline every operation gets; real guests (<see cref="GuestPlatform"/>) need longer.</summary>
    protected virtual int OperationDeadlineSeconds => OperationTimeoutSeconds;

    private readonly string _schema = TestServices.UniqueName("e2e");
    private readonly string _vhost = TestServices.UniqueName("e2e");
    private LibvirtDaemon? _libvirt;

    protected LibvirtDaemon Daemon => _libvirt!;

    public PlatformProcess? ControlPlane { get; private set; }
    public PlatformProcess? Agent { get; private set; }
    public GraphQLClient Api { get; private set; } = null!;
    public Uri Endpoint { get; private set; } = null!;
    public string HostName { get; } = TestServices.UniqueName("e2e-host");
    /// <summary>The agent's hypervisor: the test driver here; a real QEMU in <see cref="GuestPlatform"/>.</summary>
    public string LibvirtUri => LibvirtUriOf(_libvirt!);
    public int Port { get; } = PlatformProcess.FreePort();

    /// <summary>The test's own view of the agent's hypervisor; held open for the fixture's life, which also keeps the test driver's state.</summary>
    public LibvirtConnection Libvirt { get; private set; } = null!;

    public virtual async Task InitializeAsync()
    {
        await TestServices.CreateVirtualHostAsync(_vhost);
        _libvirt = await StartDaemonAsync();
        await PrepareAsync(_libvirt);
        Libvirt = LibvirtConnection.Open(LibvirtUri);
        Endpoint = new Uri($"http://127.0.0.1:{Port}/");
        Api = new GraphQLClient(new HttpClient { BaseAddress = Endpoint, Timeout = TimeSpan.FromSeconds(30) });
        await StartControlPlaneAsync();
        await StartAgentAsync();
    }

    /// <summary>The agent's private libvirtd: in this machine's network namespace here.</summary>
    protected virtual Task<LibvirtDaemon> StartDaemonAsync() => LibvirtDaemon.StartAsync();

    /// <summary>Folders and files the agent needs before it starts.</summary>
    protected virtual Task PrepareAsync(LibvirtDaemon daemon) => Task.CompletedTask;

    /// <summary>How an agent on <paramref name="daemon"/> reaches its hypervisor: the test driver here.</summary>
    protected virtual string LibvirtUriOf(LibvirtDaemon daemon) => daemon.TestDriverUri;

    /// <summary>Settings of the control plane beyond the common ones.</summary>
    protected virtual IEnumerable<KeyValuePair<string, string>> ControlPlaneSettings => [];

    /// <summary>Settings of an agent on <paramref name="daemon"/> beyond the common ones.</summary>
    protected virtual IEnumerable<KeyValuePair<string, string>> AgentSettings(LibvirtDaemon daemon) => [];

    /// <summary>Before the daemon stops: QEMU processes outlive their libvirtd, so real domains are destroyed first.</summary>
    protected virtual Task BeforeDaemonStopsAsync() => Task.CompletedTask;

    public virtual async Task DisposeAsync()
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
            await BeforeDaemonStopsAsync();
        }

        Libvirt?.Dispose();
        if (_libvirt is not null)
        {
            await _libvirt.DisposeAsync();
        }

        await TestServices.DeleteVirtualHostAsync(_vhost);
        await TestServices.DropSchemaAsync(_schema);
    }

    public async Task StartControlPlaneAsync(bool dispatchEnabled = true)
    {
        var settings = new Dictionary<string, string>
        {
            ["ConnectionStrings__Postgres"] = TestServices.Postgres,
            ["ControlPlane__DatabaseSchema"] = _schema,
            ["ControlPlane__OperationTimeoutSeconds"] = OperationDeadlineSeconds.ToString(),
            ["ControlPlane__DispatchEnabled"] = dispatchEnabled.ToString(),
            ["ControlPlane__HeartbeatTimeoutSeconds"] = "30",
            ["ControlPlane__DeadlineScanSeconds"] = "0.5",
            ["RabbitMq__VirtualHost"] = _vhost,
        };
        foreach (var (key, value) in ControlPlaneSettings)
        {
            settings[key] = value;
        }

        ControlPlane = PlatformProcess.Start("Quantixkvm.ControlPlane", settings, "--urls", Endpoint.ToString().TrimEnd('/'));
        await WaitAsync(async () =>
        {
            using var response = await Api.Http.GetAsync("readyz");
            return response.IsSuccessStatusCode;
        }, TimeSpan.FromSeconds(60), "the control plane to become ready", ControlPlane);
    }

    /// <summary>Restarts the private libvirtd (its test-driver host starts empty again) and reopens the test's own connection.</summary>
    public async Task RestartLibvirtAsync()
    {
        Libvirt.Dispose();
        await _libvirt!.RestartAsync();
        Libvirt = LibvirtConnection.Open(LibvirtUri);
    }

    public async Task StopControlPlaneAsync()
    {
        await ControlPlane!.KillAsync();
    }

    public async Task StartAgentAsync()
    {
        Agent = StartAgentProcess(HostName, _libvirt!);
        await WaitForHostOnlineAsync(HostName, Agent);
    }

    /// <summary>Starts an agent for host <paramref name="hostName"/> on <paramref name="daemon"/>'s hypervisor (not waiting for it).</summary>
    protected PlatformProcess StartAgentProcess(string hostName, LibvirtDaemon daemon)
    {
        var settings = new Dictionary<string, string>
        {
            ["Agent__HostName"] = hostName,
            ["Agent__LibvirtUri"] = LibvirtUriOf(daemon),
            ["Agent__HeartbeatSeconds"] = "1",
            ["Agent__InventorySeconds"] = "3600",
            ["RabbitMq__VirtualHost"] = _vhost,
        };
        foreach (var (key, value) in AgentSettings(daemon))
        {
            settings[key] = value;
        }

        return PlatformProcess.Start("Quantixkvm.Agent", settings);
    }

    /// <summary>Waits until the host has registered and is ONLINE.</summary>
    protected Task WaitForHostOnlineAsync(string hostName, PlatformProcess agent) =>
        WaitAsync(async () =>
        {
            var data = await Api.DataAsync("{ hosts { name state } }");
            return data["hosts"]!.AsArray().Any(h => h!["name"]!.GetValue<string>() == hostName && h["state"]!.GetValue<string>() == "ONLINE");
        }, TimeSpan.FromSeconds(60), $"host {hostName} to be registered and ONLINE", agent);

    /// <summary>Polls until the condition holds; on timeout the failure includes the process's recent output.</summary>
    public static Task WaitAsync(Func<Task<bool>> condition, TimeSpan timeout, string what, PlatformProcess? process = null) =>
        PlatformProcess.WaitUntilAsync(condition, timeout, what, process);

    /// <summary>Creates a VM (started or not), waits until its create SUCCEEDED, and returns its id.</summary>
    public async Task<string> CreatedVmAsync(string name, bool start)
    {
        var created = (await Api.DataAsync(
            "mutation($input: CreateVmInput!) { createVm(input: $input) { operation { id } vm { id } } }",
            new { input = new { name, vcpus = 1, memoryMiB = 128, start } }))["createVm"]!;
        var operation = await OperationEndedAsync(created["operation"]!["id"]!.GetValue<string>());
        operation["status"]!.GetValue<string>().ShouldBe("SUCCEEDED", operation.ToJsonString());
        return created["vm"]!["id"]!.GetValue<string>();
    }

    /// <summary>Sends a storage mutation, waits until its operation has ended, requires SUCCEEDED, and returns the payload.</summary>
    public async Task<JsonNode> StorageOperationSucceededAsync(string mutation, object variables, string field, TimeSpan timeout)
    {
        var payload = (await Api.DataAsync(mutation, variables))[field]!;
        var operationId = payload["operation"]!["id"]!.GetValue<string>();
        JsonNode? operation = null;
        await WaitAsync(async () =>
        {
            operation = (await Api.DataAsync(
                "query($id: ID!) { storageOperation(id: $id) { status error { code message } } }", new { id = operationId }))["storageOperation"];
            return operation?["status"]?.GetValue<string>() is "SUCCEEDED" or "FAILED" or "TIMED_OUT";
        }, timeout, $"storage operation {operationId} ({field}) to end", Agent);
        operation!["status"]!.GetValue<string>().ShouldBe("SUCCEEDED", operation.ToJsonString());
        return payload;
    }

    /// <summary>Sends a VM mutation, waits until its operation has ended, requires SUCCEEDED, and returns the operation.</summary>
    public async Task<JsonNode> VmOperationSucceededAsync(string mutation, object variables, string field, TimeSpan timeout)
    {
        var payload = (await Api.DataAsync(mutation, variables))[field]!;
        var operation = await OperationEndedAsync(payload["operation"]!["id"]!.GetValue<string>(), timeout);
        operation["status"]!.GetValue<string>().ShouldBe("SUCCEEDED", operation.ToJsonString());
        return operation;
    }

    /// <summary>Waits until the operation has ended and returns it.</summary>
    public async Task<JsonNode> OperationEndedAsync(string operationId, TimeSpan? timeout = null)
    {
        JsonNode? operation = null;
        await WaitAsync(async () =>
        {
            var data = await Api.DataAsync(
                "query($id: ID!) { operation(id: $id) { id kind status error { code message } finishedAt } }", new { id = operationId });
            operation = data["operation"];
            return operation?["status"]?.GetValue<string>() is "SUCCEEDED" or "FAILED" or "TIMED_OUT";
        }, timeout ?? TimeSpan.FromSeconds(30), $"operation {operationId} to end", ControlPlane);
        return operation!;
    }
}

[CollectionDefinition(Name)]
public sealed class PlatformCollection : ICollectionFixture<Platform>
{
    public const string Name = "platform";
}
