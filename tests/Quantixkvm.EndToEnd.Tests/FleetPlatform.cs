using System.Text.Json.Nodes;
using Quantixkvm.Libvirt;
using Quantixkvm.Testing;

namespace Quantixkvm.EndToEnd.Tests;

/// <summary>One hypervisor host of the fleet: its own private libvirt daemon (test driver) and its own node agent process.</summary>
public sealed class FleetHost(string name, LibvirtDaemon daemon, PlatformProcess agent)
{
    public string Name { get; } = name;
    public LibvirtDaemon Daemon { get; set; } = daemon;
    public PlatformProcess Agent { get; set; } = agent;
    public string Id { get; set; } = "";

    /// <summary>The Quantixkvm domains this host's hypervisor holds, by VM id, with whether each runs.</summary>
    public IReadOnlyDictionary<Guid, bool> Domains()
    {
        using var libvirt = LibvirtConnection.Open(Daemon.TestDriverUri);
        var domains = new Dictionary<Guid, bool>();
        foreach (var domain in libvirt.ListAllDomains())
        {
            using (domain)
            {
                if (domain.Name.StartsWith("qkvm-", StringComparison.Ordinal) && Guid.TryParseExact(domain.Name[5..], "N", out var vmId))
                {
                    try
                    {
                        domains[vmId] = domain.GetState().State == DomainState.Running;
                    }
                    catch (DomainNotFoundException)
                    {
                        // Listed, then gone before its state was read: a migration's source or a delete finished in between.
                    }
                }
            }
        }

        return domains;
    }
}

/// <summary>
/// A fleet on one machine: a control plane and several hosts, each a private libvirt daemon (test driver) with its own
/// agent, on the real PostgreSQL and RabbitMQ. Killing a host kills its agent and its daemon: the host and its VMs are
/// gone, as after a power loss. Agents share a lease folder (the "shared storage" of the storage-lease fencer).
/// </summary>
public class FleetPlatform : IAsyncLifetime
{
    public const int HostCount = 3;

    private readonly string _schema = TestServices.UniqueName("fleet");
    private readonly string _vhost = TestServices.UniqueName("fleet");
    private readonly string _leases = Path.Combine(Path.GetTempPath(), TestServices.UniqueName("qkvm-leases"));

    public PlatformProcess ControlPlane { get; private set; } = null!;
    public GraphQLClient Api { get; private set; } = null!;
    public List<FleetHost> Hosts { get; } = [];
    public int Port { get; } = PlatformProcess.FreePort();

    public async Task InitializeAsync()
    {
        await TestServices.CreateVirtualHostAsync(_vhost);
        Directory.CreateDirectory(_leases);
        var endpoint = new Uri($"http://127.0.0.1:{Port}/");
        Api = new GraphQLClient(new HttpClient { BaseAddress = endpoint, Timeout = TimeSpan.FromSeconds(30) });
        ControlPlane = PlatformProcess.Start("Quantixkvm.ControlPlane", new Dictionary<string, string>
        {
            ["ConnectionStrings__Postgres"] = TestServices.Postgres,
            ["ControlPlane__DatabaseSchema"] = _schema,
            ["ControlPlane__OperationTimeoutSeconds"] = "20",
            ["ControlPlane__HeartbeatTimeoutSeconds"] = "30",
            ["ControlPlane__DeadlineScanSeconds"] = "0.5",
            ["ControlPlane__Fleet__MaintenanceScanSeconds"] = "0.5",
            ["ControlPlane__Fleet__HaScanSeconds"] = "0.5",
            ["ControlPlane__Fleet__LivenessScanSeconds"] = "0.5",
            ["ControlPlane__Fleet__FenceRetrySeconds"] = "2",
            ["ControlPlane__Fencing__LeaseDirectory"] = _leases,
            ["ControlPlane__Fencing__AgentReplySeconds"] = "2",
            ["ControlPlane__Fencing__LeaseGraceSeconds"] = "1",
            ["RabbitMq__VirtualHost"] = _vhost,
        }, "--urls", endpoint.ToString().TrimEnd('/'));
        await Platform.WaitAsync(async () =>
        {
            using var response = await Api.Http.GetAsync("readyz");
            return response.IsSuccessStatusCode;
        }, TimeSpan.FromSeconds(60), "the control plane to become ready", ControlPlane);

        for (var i = 0; i < HostCount; i++)
        {
            Hosts.Add(await StartHostAsync(TestServices.UniqueName($"kvm-{(char)('a' + i)}")));
        }
    }

    /// <summary>A host with its own daemon and agent, waited for until it is registered and ONLINE.</summary>
    public async Task<FleetHost> StartHostAsync(string name)
    {
        var daemon = await LibvirtDaemon.StartAsync();
        var host = new FleetHost(name, daemon, StartAgent(name, daemon));
        await Platform.WaitAsync(async () =>
        {
            var data = await Api.DataAsync("{ hosts { id name state } }");
            var found = data["hosts"]!.AsArray().FirstOrDefault(h => h!["name"]!.GetValue<string>() == name && h["state"]!.GetValue<string>() == "ONLINE");
            host.Id = found?["id"]?.GetValue<string>() ?? "";
            return found is not null;
        }, TimeSpan.FromSeconds(60), $"host {name} to be ONLINE", host.Agent);
        return host;
    }

    private PlatformProcess StartAgent(string name, LibvirtDaemon daemon) => PlatformProcess.Start("Quantixkvm.Agent", new Dictionary<string, string>
    {
        ["Agent__HostName"] = name,
        ["Agent__LibvirtUri"] = daemon.TestDriverUri,
        ["Agent__HeartbeatSeconds"] = "0.5",
        ["Agent__InventorySeconds"] = "5",
        ["Agent__LeaseDirectory"] = _leases,
        ["Agent__LeaseRenewSeconds"] = "0.5",
        ["Agent__SelfFenceSeconds"] = "2",
        ["RabbitMq__VirtualHost"] = _vhost,
    });

    /// <summary>Power loss: the agent and the hypervisor (with its domains) die at once.</summary>
    public async Task KillHostAsync(FleetHost host)
    {
        await host.Agent.KillAsync();
        await host.Daemon.DisposeAsync();
    }

    /// <summary>The host is back after a power loss: a fresh hypervisor and agent under the same name.</summary>
    public async Task RestartHostAsync(FleetHost host)
    {
        var fresh = await StartHostAsync(host.Name);
        host.Daemon = fresh.Daemon;
        host.Agent = fresh.Agent;
    }

    public FleetHost HostById(string id) => Hosts.Single(h => h.Id == id);

    /// <summary>A cluster of every host with these settings; returns its id.</summary>
    public async Task<string> ClusterOfAllHostsAsync(object settings)
    {
        var cluster = (await Api.DataAsync(
            "mutation($name: String!, $settings: ClusterSettingsInput) { createCluster(name: $name, settings: $settings) { id } }",
            new { name = TestServices.UniqueName("cluster"), settings }))["createCluster"]!;
        var clusterId = cluster["id"]!.GetValue<string>();
        foreach (var host in Hosts)
        {
            await Api.DataAsync("mutation($h: ID!, $c: ID) { assignHostToCluster(hostId: $h, clusterId: $c) { id } }", new { h = host.Id, c = clusterId });
        }

        return clusterId;
    }

    /// <summary>Creates a VM on a host (started or not) and waits until its create succeeded; returns its id.</summary>
    public async Task<string> VmOnAsync(FleetHost host, string name, bool start, int vcpus = 1, int memoryMiB = 128, string? haPriority = null)
    {
        var created = (await Api.DataAsync(
            "mutation($input: CreateVmInput!) { createVm(input: $input) { operation { id } vm { id } } }",
            new { input = new { name, vcpus, memoryMiB, start, hostId = host.Id, haPriority } }))["createVm"]!;
        var operationId = created["operation"]!["id"]!.GetValue<string>();
        await Platform.WaitAsync(async () =>
        {
            var op = (await Api.DataAsync("query($id: ID!) { operation(id: $id) { status } }", new { id = operationId }))["operation"]!;
            return op["status"]!.GetValue<string>() == "SUCCEEDED";
        }, TimeSpan.FromSeconds(30), $"VM {name} to be created", ControlPlane);
        return created["vm"]!["id"]!.GetValue<string>();
    }

    public async Task<JsonNode> VmAsync(string id) =>
        (await Api.DataAsync("query($id: ID!) { vm(id: $id) { id name powerState host { id name } currentOperation { kind status } history { type } } }",
            new { id }))["vm"]!;

    public async Task<JsonNode> HostAsync(string id) =>
        (await Api.DataAsync(
            "query($id: ID!) { host(id: $id) { id name state maintenance status fencedBy fenceEvidence lastFenceFailure stuckVms { vmName reason } history { type data } } }",
            new { id }))["host"]!;

    /// <summary>On which hosts' hypervisors the VM's domain exists (running or not), among the hosts still alive.</summary>
    public IReadOnlyList<(FleetHost Host, bool Running)> WhereIs(string vmId, IEnumerable<FleetHost> alive) =>
        alive.Select(h => (Host: h, Domains: h.Domains()))
            .Where(x => x.Domains.ContainsKey(Guid.Parse(vmId)))
            .Select(x => (x.Host, x.Domains[Guid.Parse(vmId)]))
            .ToList();

    public async Task DisposeAsync()
    {
        foreach (var host in Hosts)
        {
            await host.Agent.DisposeAsync();
        }

        await ControlPlane.DisposeAsync();
        foreach (var host in Hosts)
        {
            await host.Daemon.DisposeAsync();
        }

        await TestServices.DeleteVirtualHostAsync(_vhost);
        await TestServices.DropSchemaAsync(_schema);
        Directory.Delete(_leases, recursive: true);
    }
}
