using MassTransit;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Quantixkvm.Agent.Consumers;
using Quantixkvm.Agent.Fencing;
using Quantixkvm.Agent.Hypervisor;
using Quantixkvm.Agent.Tests.Support;
using Quantixkvm.Contracts;
using Quantixkvm.Libvirt;
using Quantixkvm.Testing;
using static Quantixkvm.Agent.Tests.Support.TestHypervisor;

namespace Quantixkvm.Agent.Tests;

/// <summary>
/// A host of its own: libvirt's test driver on a node file (<c>test:///path</c>), whose state belongs to the one
/// connection that opened it, so fencing it powers off nothing of other test classes. The agent and the test share
/// that connection.
/// </summary>
public sealed class PrivateTestHost : IDisposable
{
    private readonly DirectoryInfo _folder = Directory.CreateTempSubdirectory("qkvm-private-host-");

    public PrivateTestHost()
    {
        var node = Path.Combine(_folder.FullName, "node.xml");
        File.WriteAllText(node, "<node/>");
        Libvirt = LibvirtConnection.Open($"test://{node}");
        Hypervisor = new HypervisorConnection(Libvirt);
    }

    public LibvirtConnection Libvirt { get; }

    public HypervisorConnection Hypervisor { get; }

    /// <summary>A folder of the test's own.</summary>
    public string Folder => _folder.FullName;

    /// <summary>A domain not defined by Quantixkvm (no qkvm- name, no vm-id), running.</summary>
    public Guid ArrangeForeignDomain()
    {
        var uuid = Guid.NewGuid();
        using var domain = Libvirt.DefineDomain(DomainXml.Build(new DomainSpec(uuid, $"foreign-{uuid:N}", "not ours", 1, 64, "test")));
        domain.Start();
        return uuid;
    }

    public void Dispose()
    {
        Hypervisor.Dispose();
        _folder.Delete(recursive: true);
    }
}

/// <summary>The release and fence consumers on the real RabbitMQ (a vhost of this class), on the host's own queue as Program.cs wires them.</summary>
public sealed class FencingAgentOnTheBus : IAsyncLifetime
{
    private readonly string _vhost = TestServices.UniqueName("agent");
    private IHost? _host;

    public AgentOptions Options { get; } = new() { HostName = TestServices.UniqueName("fenced-host") };

    public MessageLog Log { get; } = new();

    public PrivateTestHost Host { get; } = new();

    public string SeedDirectory => Options.SeedDirectory;

    public async Task InitializeAsync()
    {
        Options.SeedDirectory = Path.Combine(Host.Folder, "seeds");
        await TestServices.CreateVirtualHostAsync(_vhost);
        _host = TestBus.Build(
            _vhost,
            Log,
            [typeof(HostFencedBySelf)],
            services =>
            {
                AgentParts.AddOperations(services, LibvirtUri, Options);
                services.AddSingleton(Host.Hypervisor);
            },
            bus =>
            {
                bus.AddConsumer<ReleaseDomainsConsumer>();
                bus.AddConsumer<FenceHostConsumer>();
            },
            (context, rabbitmq) => rabbitmq.ReceiveEndpoint(AgentQueues.ForHost(Options.HostId), e =>
            {
                e.ConfigureConsumeTopology = false;
                e.ConcurrentMessageLimit = 8;
                e.ConfigureConsumer<ReleaseDomainsConsumer>(context);
                e.ConfigureConsumer<FenceHostConsumer>(context);
            }));
        await _host.StartAsync();
    }

    public async Task DisposeAsync()
    {
        if (_host is not null)
        {
            await _host.StopAsync();
            _host.Dispose();
        }

        Host.Dispose();
        await TestServices.DeleteVirtualHostAsync(_vhost);
    }

    public async Task SendAsync<T>(T message)
        where T : class
    {
        var bus = _host!.Services.GetRequiredService<IBus>();
        var endpoint = await bus.GetSendEndpoint(new Uri($"queue:{AgentQueues.ForHost(Options.HostId)}"));
        await endpoint.Send(message);
    }
}

public sealed class ReleaseAndFenceTests(FencingAgentOnTheBus agent) : IClassFixture<FencingAgentOnTheBus>
{
    private LibvirtConnection Libvirt => agent.Host.Libvirt;

    [Fact]
    public async Task releasing_domains_removes_a_running_one_and_its_seed_and_leaves_the_others_and_missing_ones_are_fine()
    {
        var released = Guid.NewGuid();
        var kept = Guid.NewGuid();
        var missing = Guid.NewGuid();
        Arrange(Libvirt, released, DomainPowerState.Running);
        Arrange(Libvirt, kept, DomainPowerState.Running);
        using (var domain = Libvirt.FindDomain(released)!)
        {
            // Snapshot metadata would make a plain undefine fail.
            domain.CreateSnapshot(SnapshotXml.Build("before-move", "", diskOnly: false)).Dispose();
        }

        Directory.CreateDirectory(agent.SeedDirectory);
        var seed = Path.Combine(agent.SeedDirectory, $"qkvm-{released:N}-cidata.iso");
        File.WriteAllText(seed, "seed");

        await agent.SendAsync(new ReleaseDomains(agent.Options.HostId, [released, missing], "moved to host-2", DateTimeOffset.UtcNow));

        await Eventually.UntilAsync(() => StateOf(Libvirt, released) is null, "the released domain to be gone");
        File.Exists(seed).ShouldBeFalse("the seed goes with the domain");
        StateOf(Libvirt, kept)!.Value.State.ShouldBe(DomainState.Running);
        Remove(Libvirt, kept);
    }

    [Fact]
    public async Task fencing_powers_off_every_quantixkvm_domain_and_confirms_with_the_vms_it_stopped()
    {
        var running = Guid.NewGuid();
        var paused = Guid.NewGuid();
        var stopped = Guid.NewGuid();
        Arrange(Libvirt, running, DomainPowerState.Running);
        Arrange(Libvirt, paused, DomainPowerState.Paused);
        Arrange(Libvirt, stopped, DomainPowerState.Stopped);
        var foreign = agent.Host.ArrangeForeignDomain();
        var fence = new FenceHost(agent.Options.HostId, Guid.NewGuid(), "heartbeat lost", DateTimeOffset.UtcNow);

        await agent.SendAsync(fence);

        var confirmed = (await agent.Log.WaitForAsync<HostFencedBySelf>(f => f.FenceId == fence.FenceId)).ShouldHaveSingleItem().Message;
        confirmed.HostId.ShouldBe(agent.Options.HostId);
        confirmed.StoppedVmIds.Order().ShouldBe(new[] { running, paused }.Order(), "the VMs it powered off, not the one already off");
        foreach (var vmId in new[] { running, paused, stopped })
        {
            StateOf(Libvirt, vmId)!.Value.State.ShouldBe(DomainState.Shutoff, "fencing powers off but keeps the definition");
        }

        using (var other = Libvirt.FindDomain(foreign)!)
        {
            other.GetState().State.ShouldBe(DomainState.Running, "a domain Quantixkvm did not define is left alone");
            other.Destroy();
            other.Undefine();
        }

        foreach (var vmId in new[] { running, paused, stopped })
        {
            Remove(Libvirt, vmId);
        }
    }
}

public sealed class LeaseKeeperTests : IDisposable
{
    private readonly PrivateTestHost _host = new();

    public void Dispose() => _host.Dispose();

    [Fact(Timeout = 60_000)]
    public async Task the_lease_is_renewed_with_a_growing_counter_and_an_unwritable_lease_folder_makes_the_agent_power_its_vms_off()
    {
        var leases = Path.Combine(_host.Folder, "leases");
        Directory.CreateDirectory(leases);
        var options = new AgentOptions { HostName = TestServices.UniqueName("leased-host"), LeaseDirectory = leases, LeaseRenewSeconds = 0.1, SelfFenceSeconds = 1.5 };
        var path = HostLease.PathFor(leases, options.HostId);
        var vmIds = new[] { Guid.NewGuid(), Guid.NewGuid() };
        foreach (var vmId in vmIds)
        {
            Arrange(_host.Libvirt, vmId, DomainPowerState.Running);
        }

        var foreign = _host.ArrangeForeignDomain();
        var logger = new ListLogger<LeaseKeeper>();
        using var keeper = new LeaseKeeper(
            new HostDomains(_host.Hypervisor, new CloudInitSeeds(Options.Create(options))), Options.Create(options), TimeProvider.System, logger);

        await keeper.StartAsync(CancellationToken.None);
        try
        {
            await Eventually.UntilAsync(() => ReadLease(path) is { Counter: >= 3 }, "the lease to be renewed three times", TimeSpan.FromSeconds(20));
            var first = ReadLease(path)!;
            first.HostId.ShouldBe(options.HostId);
            first.SelfFenceSeconds.ShouldBe(1.5);
            await Eventually.UntilAsync(() => ReadLease(path)!.Counter > first.Counter + 5, "the counter to grow", TimeSpan.FromSeconds(20));
            ReadLease(path)!.RenewedAt.ShouldBeGreaterThan(first.RenewedAt);
            Directory.GetFiles(leases).ShouldBe([path], "the temporary files are renamed, none is left behind");
            // Longer than the self-fence time has passed while renewing: nothing was fenced.
            foreach (var vmId in vmIds)
            {
                StateOf(_host.Libvirt, vmId)!.Value.State.ShouldBe(DomainState.Running);
            }

            // The shared storage goes away: the folder is now a regular file, nothing can be written inside.
            Directory.Delete(leases, recursive: true);
            File.WriteAllText(leases, "not a folder");

            await Eventually.UntilAsync(
                () => vmIds.All(vmId => StateOf(_host.Libvirt, vmId)!.Value.State == DomainState.Shutoff), "the VMs to be powered off", TimeSpan.FromSeconds(20));
            keeper.SelfFenced.ShouldBeTrue();
            logger.Entries.ShouldContain(e => e.Level == LogLevel.Critical && e.Message.Contains("SELF-FENCE", StringComparison.Ordinal));
            StateOf(_host.Libvirt, foreign)!.Value.State.ShouldBe(DomainState.Running, "a domain Quantixkvm did not define is left alone");

            // The storage comes back: renewal resumes, and the counter goes on from where it was.
            var counterBefore = keeper.Counter;
            File.Delete(leases);
            Directory.CreateDirectory(leases);
            await Eventually.UntilAsync(() => !keeper.SelfFenced, "self-fencing to end once the lease is renewed again", TimeSpan.FromSeconds(20));
            ReadLease(path)!.Counter.ShouldBeGreaterThan(counterBefore);
        }
        finally
        {
            await keeper.StopAsync(CancellationToken.None);
        }
    }

    private static HostLease? ReadLease(string path)
    {
        try
        {
            return File.Exists(path) ? HostLease.Parse(File.ReadAllText(path)) : null;
        }
        catch (IOException)
        {
            return null;
        }
    }
}
