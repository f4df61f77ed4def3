using System.Reflection;
using MassTransit;
using Microsoft.Extensions.Options;
using Quantixkvm.Agent.Hypervisor;
using Quantixkvm.Contracts;
using Quantixkvm.Libvirt;

namespace Quantixkvm.Agent.Reporting;

/// <summary>
/// The agent's voice: registration with capacity read from libvirt at start, then heartbeats
/// (liveness of the agent itself, not of its AMQP link) and periodic full inventories.
/// </summary>
public sealed class HostReporter(
    IBus bus, HypervisorConnection hypervisor, IOptions<AgentOptions> options, TimeProvider clock, ILogger<HostReporter> logger)
    : BackgroundService
{
    private static readonly string AgentVersion =
        typeof(HostReporter).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion ?? "unknown";

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var agent = options.Value;
        var heartbeat = TimeSpan.FromSeconds(agent.HeartbeatSeconds);
        var inventoryEvery = TimeSpan.FromSeconds(agent.InventorySeconds);
        var nextInventory = DateTimeOffset.MinValue;
        var domainCount = 0;
        var reportedGeneration = hypervisor.Generation;
        while (!stoppingToken.IsCancellationRequested)
        {
            // No heartbeat while libvirt is unreachable: a host that cannot run VMs must not look alive.
            if (Connect() is { } libvirt)
            {
                // The inventory and the heartbeat fail separately: a hiccup while listing must not silence the agent's liveness.
                List<InventoryDomain>? domains = null;
                // Stamped before listing: an operation's outcome stamped later may be newer than what the list shows, and the
                // control plane drops readings older than the last report it applied (a stamp taken at publish time let a
                // listing from before a stop pass for news after it).
                var listedAt = clock.GetUtcNow();
                try
                {
                    domains = Inventory(libvirt);
                    domainCount = domains.Count;
                }
                catch (LibvirtException ex)
                {
                    logger.LogWarning("Listing the host's domains failed: {Error}; heartbeat sent with the last known count", ex.Message);
                }

                try
                {
                    await bus.Publish(
                        new HostHeartbeat(agent.HostId, agent.HostName, domainCount, clock.GetUtcNow()),
                        // A heartbeat that waited in a queue says nothing about now: let the broker drop it.
                        p => p.TimeToLive = heartbeat * 2, stoppingToken);
                    // A reopened connection may show another hypervisor state (libvirtd restarted): report it at once.
                    if (domains is not null && (clock.GetUtcNow() >= nextInventory || hypervisor.Generation != reportedGeneration))
                    {
                        reportedGeneration = hypervisor.Generation;
                        // The host's facts go with every inventory: a lost registration, or a host that changed, heals itself.
                        await RegisterAsync(libvirt, agent, stoppingToken);
                        await bus.Publish(new HostInventory(agent.HostId, domains, listedAt, Pools(libvirt)), stoppingToken);
                        nextInventory = clock.GetUtcNow() + inventoryEvery;
                    }
                }
                catch (Exception ex) when (ex is not OperationCanceledException)
                {
                    logger.LogError(ex, "Publishing the heartbeat or inventory failed; trying again in {Interval}", heartbeat);
                }
            }

            await Task.Delay(heartbeat, clock, stoppingToken).ContinueWith(_ => { }, TaskScheduler.Default);
        }
    }

    private LibvirtConnection? Connect()
    {
        try
        {
            return hypervisor.Connection;
        }
        catch (LibvirtException ex)
        {
            logger.LogError("libvirt at {LibvirtUri} is unreachable: {Error}; no heartbeat until it is back", hypervisor.Uri, ex.Message);
            return null;
        }
    }

    private async Task RegisterAsync(LibvirtConnection libvirt, AgentOptions agent, CancellationToken cancellationToken)
    {
        var node = libvirt.GetNodeInfo();
        var cpuFeatures = HostCapabilities.CpuFeatures(libvirt.GetCapabilities());
        var liveMigration = libvirt.CanMigrateLive();
        var peerUri = agent.PeerLibvirtUri ?? hypervisor.Uri;
        await bus.Publish(new HostRegistration(
            agent.HostId, agent.HostName, node.Cpus, node.MemoryKiB / 1024, node.CpuModel, hypervisor.Uri, AgentVersion, clock.GetUtcNow(),
            cpuFeatures, liveMigration, agent.MigrateAddress, peerUri),
            cancellationToken);
        logger.LogInformation(
            "Registered host {HostName} ({HostId}): {Cpus} CPUs, {MemoryMiB} MiB, {CpuFeatureCount} CPU features on {LibvirtUri}; "
            + "live migration {LiveMigration} (peers reach libvirt at {PeerLibvirtUri}, streams to {MigrateAddress}); queue {Queue}",
            agent.HostName, agent.HostId, node.Cpus, node.MemoryKiB / 1024, cpuFeatures.Count, hypervisor.Uri,
            liveMigration ? "possible" : "impossible", peerUri, agent.MigrateAddress ?? "libvirt's choice", AgentQueues.ForHost(agent.HostId));
    }

    /// <summary>
    /// The capacity of every active Quantixkvm pool (named qkvm-pool-{id:N}), refreshed first so it is now's. A pool
    /// that fails to refresh is left out; an RBD pool reads 0 without a ceph-mgr, which is not a measurement.
    /// </summary>
    private List<InventoryPool> Pools(LibvirtConnection libvirt)
    {
        var listed = new List<InventoryPool>();
        IReadOnlyList<LibvirtStoragePool> pools;
        try
        {
            pools = libvirt.ListStoragePools();
        }
        catch (LibvirtException ex)
        {
            // Some drivers have no storage: the inventory goes without pools rather than not at all.
            logger.LogWarning("Listing the host's storage pools failed: {Error}", ex.Message);
            return listed;
        }

        foreach (var pool in pools)
        {
            using (pool)
            {
                if (!pool.Name.StartsWith("qkvm-pool-", StringComparison.Ordinal) || !Guid.TryParseExact(pool.Name[10..], "N", out var poolId))
                {
                    continue;
                }

                try
                {
                    if (!pool.IsActive)
                    {
                        continue;
                    }

                    pool.Refresh();
                    var info = pool.GetInfo();
                    if (info.CapacityBytes > 0)
                    {
                        listed.Add(new InventoryPool(poolId, info.CapacityBytes, info.AllocationBytes, info.AvailableBytes));
                    }
                }
                catch (LibvirtException ex)
                {
                    logger.LogWarning("Reading pool {Pool} for the inventory failed: {Error}", pool.Name, ex.Message);
                }
            }
        }

        return listed;
    }

    /// <summary>Every domain on the host; Quantixkvm's own are recognised by their name. A domain that vanishes while being read is left out.</summary>
    private static List<InventoryDomain> Inventory(LibvirtConnection libvirt)
    {
        var domains = libvirt.ListAllDomains();
        var listed = new List<InventoryDomain>(domains.Count);
        foreach (var domain in domains)
        {
            using (domain)
            {
                try
                {
                    var vmId = HostDomains.VmIdOfName(domain.Name);
                    // The volumes Quantixkvm attached carry their serial; the cloud-init seed is the agent's own.
                    var serials = vmId is null ? null : domain.ListDisks()
                        .Select(d => d.Serial).OfType<string>().Where(serial => serial != CloudInitSeeds.Serial).Order(StringComparer.Ordinal).ToList();
                    listed.Add(new InventoryDomain(domain.Uuid, domain.Name, DomainOperations.PowerStateOf(domain.GetState().State), vmId, serials));
                }
                catch (DomainNotFoundException)
                {
                    // Undefined between the listing and the state read: it is no longer on the host.
                }
            }
        }

        return listed;
    }
}
