using MassTransit;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Quantixkvm.Agent.Hypervisor;
using Quantixkvm.Agent.Reporting;
using Quantixkvm.Agent.Tests.Support;
using Quantixkvm.Contracts;
using Quantixkvm.Domain.Hosts;
using Quantixkvm.Libvirt;
using Quantixkvm.Testing;
using static Quantixkvm.Agent.Tests.Support.TestHypervisor;

namespace Quantixkvm.Agent.Tests;

/// <summary>A bus on the real RabbitMQ (a vhost of this class) with an observer for the host messages.</summary>
public sealed class HostMessagesOnTheBus : IAsyncLifetime
{
    private readonly string _vhost = TestServices.UniqueName("agent");
    private IHost? _host;

    public MessageLog Log { get; } = new();

    public IBus Bus => _host!.Services.GetRequiredService<IBus>();

    public async Task InitializeAsync()
    {
        await TestServices.CreateVirtualHostAsync(_vhost);
        _host = TestBus.Build(_vhost, Log, [typeof(HostRegistration), typeof(HostHeartbeat), typeof(HostInventory)]);
        await _host.StartAsync();
    }

    public async Task DisposeAsync()
    {
        if (_host is not null)
        {
            await _host.StopAsync();
            _host.Dispose();
        }

        await TestServices.DeleteVirtualHostAsync(_vhost);
    }
}

/// <summary>
/// The reporter lists every domain of the shared test host, and a domain deleted by another test class
/// in the middle of a listing costs a round (see the skipped test below): so these run on their own.
/// </summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class HostReporterCollection
{
    public const string Name = "HostReporter, alone on the test driver";
}

/// <summary>
/// <see cref="HostReporter"/> publishing through a real bus. Each test runs a reporter of its own
/// (its own host name, hence host id) and reads only that host's messages.
/// </summary>
[Collection(HostReporterCollection.Name)]
public sealed class HostReporterTests(HostMessagesOnTheBus bus) : IClassFixture<HostMessagesOnTheBus>, IDisposable
{
    // libvirt's test driver describes its default host so (src/test/test_driver.c: defaultNodeInfo).
    private const int TestHostCpus = 16;
    private const long TestHostMemoryMiB = 3 * 1024;

    private readonly LibvirtConnection _libvirt = LibvirtConnection.Open(LibvirtUri);
    private readonly List<Guid> _vms = [];

    public void Dispose()
    {
        foreach (var vmId in _vms)
        {
            Remove(_libvirt, vmId);
        }

        _libvirt.Dispose();
    }

    [Fact]
    public async Task registration_carries_the_host_and_the_capacity_libvirt_reports()
    {
        var clock = new FakeTimeProvider();
        var options = NewOptions();

        await using (await StartReporterAsync(options, clock))
        {
            var registration = (await bus.Log.WaitForAsync<HostRegistration>(r => r.HostId == options.HostId)).ShouldHaveSingleItem().Message;

            registration.HostId.ShouldBe(HostDecider.HostIdFor(options.HostName));
            registration.Name.ShouldBe(options.HostName);
            registration.Cpus.ShouldBe(TestHostCpus);
            registration.MemoryMiB.ShouldBe(TestHostMemoryMiB);
            registration.CpuModel.ShouldBe(_libvirt.GetNodeInfo().CpuModel);
            registration.CpuModel.ShouldNotBeNullOrWhiteSpace();
            registration.LibvirtUri.ShouldBe(LibvirtUri);
            registration.AgentVersion.ShouldNotBeNullOrWhiteSpace();
            registration.RegisteredAt.ShouldBe(clock.GetUtcNow());
        }
    }

    [Fact]
    public async Task registration_says_the_test_driver_cannot_migrate_and_carries_the_migration_settings_and_cpu_features()
    {
        var withDefaults = NewOptions();
        var withSettings = NewOptions();
        withSettings.MigrateAddress = "10.0.0.7";
        withSettings.PeerLibvirtUri = "qemu+tls://host-7/system";
        var expectedFeatures = HostCapabilities.CpuFeatures(_libvirt.GetCapabilities());

        await using (await StartReporterAsync(withDefaults, new FakeTimeProvider()))
        await using (await StartReporterAsync(withSettings, new FakeTimeProvider()))
        {
            var plain = (await bus.Log.WaitForAsync<HostRegistration>(r => r.HostId == withDefaults.HostId)).ShouldHaveSingleItem().Message;
            var configured = (await bus.Log.WaitForAsync<HostRegistration>(r => r.HostId == withSettings.HostId)).ShouldHaveSingleItem().Message;

            plain.LiveMigration.ShouldBe(false);
            plain.MigrateAddress.ShouldBeNull();
            plain.PeerLibvirtUri.ShouldBe(LibvirtUri, "by default peers reach libvirt where the agent does");
            plain.CpuFeatures.ShouldNotBeNull().ShouldBe(expectedFeatures);
            configured.MigrateAddress.ShouldBe("10.0.0.7");
            configured.PeerLibvirtUri.ShouldBe("qemu+tls://host-7/system");
        }
    }

    [Fact]
    public void the_host_cpu_features_are_read_from_the_capabilities_sorted_once_each()
    {
        const string capabilities = """
            <capabilities><host><cpu><arch>x86_64</arch><model>Skylake</model>
            <feature name='vmx'/><feature name='avx2'/><feature name='vmx'/></cpu></host>
            <guest><features><pae/></features></guest></capabilities>
            """;

        HostCapabilities.CpuFeatures(capabilities).ShouldBe(["avx2", "vmx"]);
        HostCapabilities.CpuFeatures("<capabilities><host/></capabilities>").ShouldBeEmpty();
    }

    [Fact]
    public async Task heartbeats_follow_the_configured_interval()
    {
        var clock = new FakeTimeProvider();
        var options = NewOptions(heartbeatSeconds: 30, inventorySeconds: 3600);
        var interval = TimeSpan.FromSeconds(30);
        var start = clock.GetUtcNow();

        await using (await StartReporterAsync(options, clock))
        {
            var first = (await bus.Log.WaitForAsync<HostHeartbeat>(h => h.HostId == options.HostId)).Single().Message;
            first.SentAt.ShouldBe(start);
            first.Name.ShouldBe(options.HostName);
            await WaitUntilWaitingAsync(clock);

            // Not a moment early: the reporter is still waiting just before the interval ends...
            clock.Advance(interval - TimeSpan.FromMilliseconds(1));
            clock.ScheduledTimers.ShouldBe(1, "the reporter's wait must not have ended before its interval");

            // ...and sends the next one when it does.
            clock.Advance(TimeSpan.FromMilliseconds(1));
            var second = (await bus.Log.WaitForAsync<HostHeartbeat>(h => h.HostId == options.HostId, count: 2))[1].Message;
            second.SentAt.ShouldBe(start + interval);

            await WaitUntilWaitingAsync(clock);
            clock.Advance(interval);
            var third = (await bus.Log.WaitForAsync<HostHeartbeat>(h => h.HostId == options.HostId, count: 3))[2].Message;
            third.SentAt.ShouldBe(start + interval + interval);
        }
    }

    [Fact]
    public async Task heartbeats_expire_in_the_broker_after_two_intervals()
    {
        var options = NewOptions(heartbeatSeconds: 30);

        await using (await StartReporterAsync(options, new FakeTimeProvider()))
        {
            var heartbeat = (await bus.Log.WaitForAsync<HostHeartbeat>(h => h.HostId == options.HostId)).Single();

            heartbeat.Expiration.ShouldBe("60000");
        }
    }

    [Fact]
    public async Task on_the_system_clock_heartbeats_keep_coming_at_the_interval()
    {
        var options = NewOptions(heartbeatSeconds: 0.5, inventorySeconds: 3600);

        await using (await StartReporterAsync(options, TimeProvider.System))
        {
            var heartbeats = await bus.Log.WaitForAsync<HostHeartbeat>(h => h.HostId == options.HostId, count: 3);

            for (var i = 1; i < 3; i++)
            {
                (heartbeats[i].Message.SentAt - heartbeats[i - 1].Message.SentAt).ShouldBeGreaterThan(TimeSpan.FromMilliseconds(450));
            }
        }
    }

    [Fact]
    public async Task the_inventory_lists_every_domain_and_gives_quantixkvms_own_their_vm_id()
    {
        var running = NewVm();
        var stopped = NewVm();
        Arrange(_libvirt, running, DomainPowerState.Running);
        Arrange(_libvirt, stopped, DomainPowerState.Stopped);
        // Named like ours but not ours: no VM id.
        var lookalike = "qkvm-not-a-vm-" + Guid.NewGuid().ToString("N")[..8];
        var lookalikeUuid = NewVm();
        using (_libvirt.DefineDomain(DomainXml.Build(new DomainSpec(lookalikeUuid, lookalike, "", 1, 128, "test"))))
        {
        }

        // One of ours with a volume disk and a cloud-init seed: the inventory names the volume's serial, not the seed's.
        var withDisks = NewVm();
        var volume = Guid.NewGuid();
        using (_libvirt.DefineDomain(DomainXml.Build(new DomainSpec(withDisks, DomainOperations.DomainName(withDisks), "", 1, 128, "test",
                   Disks: [
                       new DiskSpec("vda", SourceFile: "/var/lib/qkvm/data.qcow2", DriverFormat: "qcow2", Serial: DomainOperations.DiskSerial(volume)),
                       new DiskSpec("vdz", SourceFile: "/var/lib/qkvm/seed.iso", ReadOnly: true, Serial: "cidata"),
                   ]))))
        {
        }

        var options = NewOptions();
        await using (await StartReporterAsync(options, new FakeTimeProvider()))
        {
            var inventory = (await bus.Log.WaitForAsync<HostInventory>(i => i.HostId == options.HostId)).ShouldHaveSingleItem().Message;

            inventory.Domains.ShouldContain(d => d.Uuid == running && d.Name == DomainOperations.DomainName(running)
                && d.PowerState == DomainPowerState.Running && d.VmId == running && d.DiskSerials!.Count == 0);
            inventory.Domains.ShouldContain(d => d.Uuid == stopped && d.Name == DomainOperations.DomainName(stopped)
                && d.PowerState == DomainPowerState.Stopped && d.VmId == stopped);
            inventory.Domains.Single(d => d.VmId == withDisks).DiskSerials.ShouldBe([DomainOperations.DiskSerial(volume)]);
            inventory.Domains.ShouldContain(d => d.Name == lookalike && d.Uuid == lookalikeUuid && d.VmId == null);
            inventory.Domains.ShouldContain(d => d.Name == DefaultDomain && d.VmId == null && d.PowerState == DomainPowerState.Running);
            var heartbeat = (await bus.Log.WaitForAsync<HostHeartbeat>(h => h.HostId == options.HostId)).First().Message;
            heartbeat.DomainCount.ShouldBeGreaterThanOrEqualTo(5);
        }
    }

    [Fact]
    public async Task the_inventory_carries_the_capacity_of_quantixkvms_own_pools_only()
    {
        var poolId = Guid.NewGuid();
        using (var pool = _libvirt.DefineStoragePool(StoragePoolXml.Dir($"qkvm-pool-{poolId:N}", poolId, $"/qkvm-inventory-{poolId:N}")))
        {
            pool.Build();
            pool.Start();
        }

        var options = NewOptions();
        await using (await StartReporterAsync(options, new FakeTimeProvider()))
        {
            var inventory = (await bus.Log.WaitForAsync<HostInventory>(i => i.HostId == options.HostId)).ShouldHaveSingleItem().Message;

            // Other tests' pools may share this test driver: look for ours, and make sure the driver's own is not listed.
            using var foreign = _libvirt.FindStoragePool("default-pool").ShouldNotBeNull();
            inventory.Pools.ShouldNotBeNull().ShouldNotContain(p => p.PoolId == foreign.Uuid, "the test driver's default-pool is not ours");
            var reported = inventory.Pools.Single(p => p.PoolId == poolId);
            reported.CapacityBytes.ShouldBeGreaterThan(0);
            (reported.AllocationBytes + reported.AvailableBytes).ShouldBeLessThanOrEqualTo(reported.CapacityBytes);
        }
    }

    [Fact]
    public async Task the_inventory_is_sent_at_start_and_then_every_inventory_interval_not_with_every_heartbeat()
    {
        var clock = new FakeTimeProvider();
        var options = NewOptions(heartbeatSeconds: 5, inventorySeconds: 10);
        var start = clock.GetUtcNow();

        await using (await StartReporterAsync(options, clock))
        {
            await bus.Log.WaitForAsync<HostHeartbeat>(h => h.HostId == options.HostId);
            (await bus.Log.WaitForAsync<HostInventory>(i => i.HostId == options.HostId)).Single().Message.TakenAt.ShouldBe(start);

            await WaitUntilWaitingAsync(clock);
            clock.Advance(TimeSpan.FromSeconds(5));
            await bus.Log.WaitForAsync<HostHeartbeat>(h => h.HostId == options.HostId, count: 2);

            await WaitUntilWaitingAsync(clock);
            clock.Advance(TimeSpan.FromSeconds(5));
            await bus.Log.WaitForAsync<HostHeartbeat>(h => h.HostId == options.HostId, count: 3);
            var inventories = await bus.Log.WaitForAsync<HostInventory>(i => i.HostId == options.HostId, count: 2);

            // The reporter publishes a heartbeat before the inventory of the same round, and the log keeps
            // the broker's order: had the second heartbeat come with an inventory, it would stand before the third heartbeat.
            var heartbeats = bus.Log.Of<HostHeartbeat>(h => h.HostId == options.HostId);
            inventories.Count.ShouldBe(2);
            inventories[1].Sequence.ShouldBeGreaterThan(heartbeats[2].Sequence);
            inventories[1].Message.TakenAt.ShouldBe(start + TimeSpan.FromSeconds(10));
        }
    }

    [Fact]
    public async Task the_inventory_is_stamped_when_the_domains_were_listed_not_when_it_was_sent()
    {
        // Every reading of this clock moves it on: what is read later in a round is stamped later.
        var clock = new FakeTimeProvider { AutoAdvanceAmount = TimeSpan.FromMilliseconds(1) };
        var options = NewOptions(heartbeatSeconds: 3600, inventorySeconds: 3600);

        await using (await StartReporterAsync(options, clock))
        {
            var inventory = (await bus.Log.WaitForAsync<HostInventory>(i => i.HostId == options.HostId)).Single().Message;
            var heartbeat = bus.Log.Of<HostHeartbeat>(h => h.HostId == options.HostId).First().Message;

            // The heartbeat of the round goes out after the listing and before the inventory: a stamp taken at sending
            // would be the later one, and a listing from before an operation could pass for news after its outcome.
            inventory.TakenAt.ShouldBeLessThan(heartbeat.SentAt);
        }
    }

    [Fact]
    public async Task a_domain_deleted_while_the_reporter_lists_the_host_does_not_cost_a_heartbeat()
    {
        var clock = new FakeTimeProvider();
        var logger = new ListLogger<HostReporter>();
        var options = NewOptions(heartbeatSeconds: 5, inventorySeconds: 3600);

        await using (await StartReporterAsync(options, clock, logger))
        {
            await bus.Log.WaitForAsync<HostHeartbeat>(h => h.HostId == options.HostId);
            var failedRounds = 0;
            var rounds = 0;
            for (; rounds < 20 && failedRounds == 0; rounds++)
            {
                await WaitUntilWaitingAsync(clock);
                var errorsBefore = logger.Entries.Count(e => e.Level == LogLevel.Error);
                using var stop = new CancellationTokenSource();
                var churnedBefore = Churned;
                var churning = Task.Run(() => Churn(stop.Token), CancellationToken.None);
                await Eventually.UntilAsync(() => churning.IsCompleted || Churned > churnedBefore + 10, "the churn to begin");
                clock.Advance(TimeSpan.FromSeconds(5));
                await WaitUntilWaitingAsync(clock);
                await stop.CancelAsync();
                await churning;
                failedRounds += logger.Entries.Count(e => e.Level == LogLevel.Error) - errorsBefore;
            }

            failedRounds.ShouldBe(0, string.Join("\n", logger.Entries.Where(e => e.Level == LogLevel.Error).Select(e => e.Exception?.Message)));
            (await bus.Log.WaitForAsync<HostHeartbeat>(h => h.HostId == options.HostId, count: rounds + 1)).Count.ShouldBe(rounds + 1);
        }
    }

    private int Churned
    {
        get
        {
            lock (_vms)
            {
                return _vms.Count;
            }
        }
    }

    /// <summary>Defines and deletes domains, as a busy host does, until told to stop; about ten exist at any time.</summary>
    private void Churn(CancellationToken stop)
    {
        var live = new Queue<Guid>();
        while (!stop.IsCancellationRequested)
        {
            var vmId = Guid.NewGuid();
            lock (_vms)
            {
                _vms.Add(vmId);
            }

            Arrange(_libvirt, vmId, DomainPowerState.Stopped);
            live.Enqueue(vmId);
            if (live.Count > 10)
            {
                Remove(_libvirt, live.Dequeue());
            }
        }

        while (live.Count > 0)
        {
            Remove(_libvirt, live.Dequeue());
        }
    }

    private static AgentOptions NewOptions(double heartbeatSeconds = 5, double inventorySeconds = 60) => new()
    {
        HostName = TestServices.UniqueName("reporter"),
        LibvirtUri = LibvirtUri,
        HeartbeatSeconds = heartbeatSeconds,
        InventorySeconds = inventorySeconds,
    };

    /// <summary>The reporter is between two rounds, waiting on its clock.</summary>
    private static Task WaitUntilWaitingAsync(FakeTimeProvider clock) =>
        Eventually.UntilAsync(() => clock.ScheduledTimers == 1, "the reporter to wait for its next heartbeat");

    private async Task<RunningReporter> StartReporterAsync(AgentOptions options, TimeProvider clock, ILogger<HostReporter>? logger = null)
    {
        var reporter = new HostReporter(
            bus.Bus, new HypervisorConnection(_libvirt), Microsoft.Extensions.Options.Options.Create(options), clock, logger ?? NullLogger<HostReporter>.Instance);
        await reporter.StartAsync(CancellationToken.None);
        return new RunningReporter(reporter);
    }

    private Guid NewVm()
    {
        var vmId = Guid.NewGuid();
        lock (_vms)
        {
            _vms.Add(vmId);
        }

        return vmId;
    }

    private sealed class RunningReporter(HostReporter reporter) : IAsyncDisposable
    {
        public async ValueTask DisposeAsync()
        {
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
            await reporter.StopAsync(timeout.Token);
            reporter.ExecuteTask.ShouldNotBeNull().IsCompleted.ShouldBeTrue("the reporter stops when asked");
            reporter.Dispose();
        }
    }
}
