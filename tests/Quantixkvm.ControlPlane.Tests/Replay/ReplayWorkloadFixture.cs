using Npgsql;
using Quantixkvm.Contracts;
using Quantixkvm.ControlPlane.Tests.Fleet;
using Quantixkvm.ControlPlane.Tests.Networks;
using Quantixkvm.ControlPlane.Tests.Support;
using Quantixkvm.Testing;

namespace Quantixkvm.ControlPlane.Tests.Replay;

/// <summary>
/// A control plane that has been through a realistic workload on its real command path: two hosts in a cluster (played
/// by fake agents that answer over the broker), a pool, volumes, an image and a template, VMs created, started, stopped,
/// paused and resumed, rebooted (refused by the host), snapshotted, live-migrated and deleted, a network with a security
/// group and a VM's NIC on it, with a gap in the log's sequence as a rolled-back append leaves. Ends when the log is quiet.
/// </summary>
public sealed class ReplayWorkloadFixture : ControlPlaneFixture
{
    private readonly List<FakeAgent> _hosts = [];

    protected override bool StartsAgent => false;

    public string VmId { get; private set; } = "";

    public override async Task InitializeAsync()
    {
        await base.InitializeAsync();
        try
        {
            await RunWorkloadAsync();
            await WaitUntilTheLogIsQuietAsync();
        }
        catch
        {
            await DisposeAsync();
            throw;
        }
    }

    public override async Task DisposeAsync()
    {
        foreach (var host in _hosts)
        {
            await host.DisposeAsync();
        }

        _hosts.Clear();
        await base.DisposeAsync();
    }

    public Task<int> ExecuteAsync(string sql) => WithCommandAsync(sql, c => c.ExecuteNonQueryAsync());

    public async Task<T> WithCommandAsync<T>(string sql, Func<NpgsqlCommand, Task<T>> run)
    {
        await using var connection = new NpgsqlConnection(TestServices.Postgres);
        await connection.OpenAsync();
        await using var command = connection.CreateCommand();
        command.CommandText = sql.Replace("{schema}", $"\"{Schema}\"", StringComparison.Ordinal);
        return await run(command);
    }

    private static void LiveHost(FakeAgent agent)
    {
        agent.LiveMigration = true;
        agent.LibvirtUri = "qemu:///system";
        agent.PeerLibvirtUri = $"qemu+tls://{agent.Name}.example/system";
        agent.MigrateAddress = $"{agent.Name}.migration.example";
    }

    private async Task RunWorkloadAsync()
    {
        var api = App.Api();
        var source = await FakeAgent.StartOnlineAsync(App, configure: LiveHost);
        _hosts.Add(source);
        var target = await FakeAgent.StartOnlineAsync(App, configure: LiveHost);
        _hosts.Add(target);
        await api.ClusterWithAsync(null, source, target);
        // Reboots fail on the host, with libvirt's error; everything else succeeds as asked.
        source.AutoAnswer = m => m.Kind == DomainOperationKind.Reboot
            ? new DomainAnswer(false, DomainPowerState.Running, "VIR_ERR_OPERATION_FAILED", "reboot refused by the guest")
            : DomainAnswer.AsAsked(m);
        target.AutoAnswer = DomainAnswer.AsAsked;

        var poolId = await api.ReadyPoolAsync(source.HostId, FleetApi.Unique("pool"));
        var volumeId = await api.ReadyVolumeAsync(poolId, "root-disk");
        await api.OnTargetOkAsync("resizeVolume", volumeId, sizeBytes: 128L << 20);
        var imageId = await api.ReadyImageAsync(poolId, "base-image");
        await api.DataAsync(StorageApi.CreateTemplate, new { input = new { name = "small", vcpus = 1, memoryMiB = 512, imageId, diskSizeBytes = 1L << 30 } });

        var withDisk = await api.VmMutationAsync(StorageApi.CreateVm, "createVm", new
        {
            input = new { name = "with-disk", vcpus = 1, memoryMiB = 256, hostId = source.HostId.ToString(), disks = new[] { new { volumeId } } },
        });
        await api.OperationEndsAsync(withDisk.Str("operation.id"), "SUCCEEDED");
        VmId = withDisk.Str("vm.id");

        var vms = new List<string>();
        for (var i = 0; i < 4; i++)
        {
            vms.Add(await api.VmOnAsync(source, $"vm-{i}", start: true));
        }

        await LifecycleAsync(api, "stopVm", vms[0], "SUCCEEDED");
        await LifecycleAsync(api, "rebootVm", vms[1], "FAILED");
        await LifecycleAsync(api, "pauseVm", vms[2], "SUCCEEDED");
        await LifecycleAsync(api, "resumeVm", vms[2], "SUCCEEDED");
        await LifecycleAsync(api, "deleteVm", vms[0], "SUCCEEDED");
        var snapshot = await api.VmMutationAsync(
            $"mutation($id: ID!, $name: String!) {{ createVmSnapshot(id: $id, name: $name) {{ {StorageApi.VmPayload} }} }}", "createVmSnapshot",
            new { id = vms[3], name = "before-upgrade" });
        await api.OperationEndsAsync(snapshot.Str("operation.id"), "SUCCEEDED");

        var migration = await api.MigrateAsync(vms[3], target.HostId);
        migration["errors"].ShouldBeNull(migration.ToJsonString());
        await api.MigrationEndsAsync(migration["data"]!["migrateVm"]!.Str("operation.id"), "SUCCEEDED");

        // A network with a subnet, a security group, a VM with a NIC in it, and a host's report of the network.
        var network = (await api.CreateOverlayAsync(FleetApi.Unique("net"))).Text("network.id");
        await api.AddSubnetAsync(network, new { cidr = "10.90.0.0/24" });
        var group = (await api.CreateGroupAsync(FleetApi.Unique("sg"))).Text("securityGroup.id");
        await api.AddRuleAsync(group, new { direction = "INGRESS", protocol = "TCP", portMin = 22 });
        var withNic = await api.VmMutationAsync(StorageApi.CreateVm, "createVm", new
        {
            input = new { name = "with-nic", vcpus = 1, memoryMiB = 128, hostId = source.HostId.ToString(), nics = new[] { new { networkId = network, securityGroupIds = new[] { group } } } },
        });
        await api.OperationEndsAsync(withNic.Str("operation.id"), "SUCCEEDED");
        var generation = (await api.NetworkAsync(network))!.Int("generation");
        await App.Consumed.WaitAsync(await source.ReportNetworksAsync(1, [new NetworkRealization(Guid.Parse(network), generation, true, null, "br-int present")]));

        // An append that rolled back leaves a gap in the log's sequence, which a rebuild must step over.
        await App.Events.ScalarAsync("select nextval('{schema}.mt_events_sequence') from generate_series(1, 3) order by 1 desc limit 1");

        // An append that failed with the database gone (as the fault harness's PostgreSQL stop does) leaves tombstones:
        // Marten fills the sequence numbers it had reserved with them, in a stream of its own. Log entries, not facts.
        var tombstones = Guid.NewGuid();
        await App.Events.ScalarAsync(
            $"insert into {{schema}}.mt_streams (id, version) values ('{tombstones}', 2); "
            + $"insert into {{schema}}.mt_events (seq_id, id, stream_id, version, data, type, mt_dotnet_type) select nextval('{{schema}}.mt_events_sequence'), "
            + $"gen_random_uuid(), '{tombstones}', v, '{{}}', '{JasperFx.Events.Tombstone.Name}', 'JasperFx.Events.Tombstone, JasperFx.Events' "
            + "from generate_series(1, 2) v; select 1");
        await api.SetLabelsAsync(target.HostId, ("rack", "r2"));
    }

    private static async Task LifecycleAsync(GraphQLClient api, string mutation, string vmId, string outcome)
    {
        var answer = await api.SendLifecycleAsync(mutation, vmId);
        answer["errors"].ShouldBeNull(answer.ToJsonString());
        await api.OperationEndsAsync(answer["data"]![mutation]!.Str("operation.id"), outcome);
    }

    /// <summary>
    /// Outcomes can still be on their way after the read model shows the end: wait until the log stops growing, and until
    /// the async daemon (high-water mark, change feed, dispatch) has reached its head, past the gap once it went stale, so
    /// that nothing in the live schema moves while a test compares it before and after.
    /// </summary>
    private async Task WaitUntilTheLogIsQuietAsync()
    {
        var last = -1L;
        await Eventually.WaitAsync(async () =>
        {
            var head = await App.Events.ScalarAsync("select coalesce(max(seq_id), 0) from {schema}.mt_events");
            var behind = await App.Events.ScalarAsync(
                $"select count(*) from {{schema}}.mt_event_progression where (name = 'HighWaterMark' or name like '%:All') and last_seq_id < {head}");
            var quiet = head == last && behind == 0;
            last = head;
            await Task.Delay(500);
            return quiet;
        }, "the event log to stop growing and the daemon to reach its head", TimeSpan.FromSeconds(30));
    }
}
