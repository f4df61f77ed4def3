using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Text;
using Npgsql;
using Quantixkvm.Bench.Platform;
using Quantixkvm.Bench.Reporting;
using Quantixkvm.Testing;

namespace Quantixkvm.Bench;

/// <summary>
/// Networking on the real control plane and agent (<see cref="BenchPlatform"/>, the agent on this machine's OVS + OVN
/// stack from infra/dev/ovs.sh): how long a new overlay network takes to be READY on the host (created, realized in OVN's
/// northbound database, reported back), and how fast NICs are attached when many clients attach at once. IP allocation
/// is decided on one network's stream and queued by its lock (ADR 13), so attaches to one network are compared with the
/// same number spread over several networks, and with one client alone. Writes networks.md and networks.json.
/// </summary>
public static class NetworksScenario
{
    public static async Task<int> RunAsync(string[] args)
    {
        var options = new BenchArgs(args);
        var vms = options.Int("--vms", 200);
        var clients = options.Int("--clients", 16);
        var networks = options.Int("--networks", 8);
        var output = options.OutputFolder();
        var ovsDb = Environment.GetEnvironmentVariable("QKVM_OVS_DB")
            ?? throw new InvalidOperationException("QKVM_OVS_DB is not set: run infra/dev/start-services.sh and source infra/dev/env.sh first");
        var northbound = Environment.GetEnvironmentVariable("QKVM_OVN_NB_DB")
            ?? throw new InvalidOperationException("QKVM_OVN_NB_DB is not set: run infra/dev/start-services.sh and source infra/dev/env.sh first");

        Console.WriteLine("starting the control plane and the agent (on this machine's OVS + OVN stack)...");
        await using var platform = await BenchPlatform.StartAsync(
            new Dictionary<string, string> { ["ControlPlane__Networking__ReconcileSeconds"] = "0.25" },
            new Dictionary<string, string> { ["Agent__Network__OvsDb"] = ovsDb, ["Agent__Network__OvnNorthboundDb"] = northbound });
        var api = platform.Api;

        Console.WriteLine($"{networks} overlay networks: created until READY...");
        var ready = new List<double>();
        var networkIds = new List<string>();
        for (var i = 0; i < networks; i++)
        {
            var clock = Stopwatch.StartNew();
            var id = (await api.DataAsync("mutation($input: CreateNetworkInput!) { createNetwork(input: $input) { network { id } } }",
                new { input = new { name = $"bench-net-{i}-{Guid.NewGuid():N}"[..24], kind = "OVERLAY" } }))["createNetwork"]!["network"]!["id"]!.GetValue<string>();
            await api.DataAsync("mutation($id: ID!, $input: SubnetInput!) { addSubnet(networkId: $id, input: $input) { version } }",
                new { id, input = new { cidr = $"10.{100 + i}.0.0/16" } });
            // Polled every 10 ms (the shared wait helper polls every 200 ms, too coarse for this figure).
            while ((await api.DataAsync("query($id: ID!) { network(id: $id) { status } }", new { id }))["network"]!["status"]!.GetValue<string>() != "READY")
            {
                if (clock.Elapsed > TimeSpan.FromMinutes(2))
                {
                    throw new TimeoutException($"network {id} was not READY within 2 minutes\n{platform.RecentOutput}");
                }

                await Task.Delay(10);
            }

            ready.Add(clock.Elapsed.TotalMilliseconds);
            networkIds.Add(id);
        }

        Console.WriteLine($"{vms} stopped VMs...");
        var vmIds = new List<string>();
        for (var i = 0; i < vms; i++)
        {
            vmIds.Add(await platform.CreateVmAsync($"bench-nic-{i}", start: false));
        }

        Console.WriteLine("attaching NICs: one client, then concurrent clients on one network, then spread over the networks...");
        var single = await AttachAllAsync(api, vmIds.Take(Math.Min(20, vms)).ToList(), _ => networkIds[0], 1);
        await WaitForAttachesAsync(platform, vmIds.Take(Math.Min(20, vms)).ToList(), 1);
        var rest = vmIds.Skip(Math.Min(20, vms)).ToList();
        var half = rest.Count / 2;
        var oneNetwork = await AttachAllAsync(api, rest.Take(half).ToList(), _ => networkIds[0], clients);
        var spread = await AttachAllAsync(api, rest.Skip(half).ToList(), i => networkIds[i % networkIds.Count], clients);

        var results = new NetworkResults(
            new Latencies("create → READY", ready).Summary(), single, oneNetwork, spread, vms, clients, networks);
        await using var data = NpgsqlDataSource.Create(BenchArgs.Postgres);
        var machine = await Machine.DescribeAsync(data);
        await Report.WriteAsync(output, "networks", machine, results, Markdown(machine, results));
        return 0;
    }

    /// <summary>Attaches one NIC to each VM, <paramref name="clients"/> at a time; the latency is the mutation's (allocation and the VM's request).</summary>
    private static async Task<AttachRun> AttachAllAsync(GraphQLClient api, IReadOnlyList<string> vmIds, Func<int, string> networkOf, int clients)
    {
        var latencies = new ConcurrentBag<double>();
        var failures = 0;
        var next = -1;
        var clock = Stopwatch.StartNew();
        await Task.WhenAll(Enumerable.Range(0, clients).Select(async _ =>
        {
            while (Interlocked.Increment(ref next) is var i && i < vmIds.Count)
            {
                var started = Stopwatch.GetTimestamp();
                var answer = await api.SendAsync("mutation($id: ID!, $nic: NicInput!) { attachNic(id: $id, nic: $nic) { operation { id } } }",
                    new { id = vmIds[i], nic = new { networkId = networkOf(i) } });
                latencies.Add(Stopwatch.GetElapsedTime(started).TotalMilliseconds);
                if (answer["errors"] is not null)
                {
                    Interlocked.Increment(ref failures);
                }
            }
        }));
        var elapsed = clock.Elapsed.TotalSeconds;
        return new AttachRun(new Latencies($"{clients} client(s)", latencies).Summary(), vmIds.Count / elapsed, failures);
    }

    private static Task WaitForAttachesAsync(BenchPlatform platform, IReadOnlyList<string> vmIds, int nics) =>
        PlatformProcess.WaitUntilAsync(async () =>
        {
            foreach (var vmId in vmIds)
            {
                var attached = (await platform.Api.DataAsync("query($id: ID!) { vm(id: $id) { nics { state } } }", new { id = vmId }))["vm"]!["nics"]!.AsArray()
                    .Count(n => n!["state"]!.GetValue<string>() == "ATTACHED");
                if (attached < nics)
                {
                    return false;
                }
            }

            return true;
        }, TimeSpan.FromMinutes(2), "the NICs to be attached", platform.Agent);

    private sealed record AttachRun(LatencySummary Latency, double AttachesPerSecond, int Failures);

    private sealed record NetworkResults(
        LatencySummary CreateToReady, AttachRun OneClient, AttachRun OneNetwork, AttachRun Spread, int Vms, int Clients, int Networks);

    private static string Markdown(MachineInfo machine, NetworkResults r)
    {
        string F(double v) => v.ToString("0.##", CultureInfo.InvariantCulture);
        var md = new StringBuilder();
        md.AppendLine("# Networks: realization and NIC attaches").AppendLine();
        md.AppendLine(machine.ToMarkdown()).AppendLine();
        md.AppendLine("A control plane and an agent on this machine's OVS + OVN stack (libvirt's test driver for the VMs). "
            + $"{r.Networks} overlay networks are created, each with a /16, and timed from the create to status READY (realized in OVN's "
            + "northbound database and reported back; the reconciler runs every 250 ms here, every 2 s by default). Then NICs are attached "
            + "to stopped VMs, one per VM: latency is the attachNic mutation (port allocated on the network's stream, then the VM's operation "
            + $"recorded). The baseline is one client alone; then {r.Clients} concurrent clients on one network, and as many spread over "
            + $"{r.Networks} networks.").AppendLine();
        md.AppendLine(LatencySummary.MarkdownHeader);
        md.AppendLine(r.CreateToReady.ToMarkdownRow()).AppendLine();
        md.AppendLine("| attaches | p50 (ms) | p99 (ms) | max (ms) | attaches/s | failed | p50 / one client's p50 |");
        md.AppendLine("|---|---:|---:|---:|---:|---:|---:|");
        foreach (var (name, run) in new[] { ("one client", r.OneClient), ($"{r.Clients} clients, one network", r.OneNetwork), ($"{r.Clients} clients, {r.Networks} networks", r.Spread) })
        {
            md.AppendLine(CultureInfo.InvariantCulture,
                $"| {name} | {F(run.Latency.P50Ms)} | {F(run.Latency.P99Ms)} | {F(run.Latency.MaxMs)} | {F(run.AttachesPerSecond)} | {run.Failures} | {F(run.Latency.P50Ms / r.OneClient.Latency.P50Ms)}× |");
        }

        return md.ToString();
    }
}
