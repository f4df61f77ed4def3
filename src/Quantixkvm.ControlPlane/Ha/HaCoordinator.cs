using System.Collections.Concurrent;
using Marten;
using Microsoft.Extensions.Options;
using Quantixkvm.ControlPlane.Commands;
using Quantixkvm.ControlPlane.Configuration;
using Quantixkvm.ControlPlane.Fleet;
using Quantixkvm.ControlPlane.Ha.Fencing;
using Quantixkvm.ControlPlane.ReadModels;
using Quantixkvm.Domain.Hosts;
using Quantixkvm.Domain.Placement;
using Quantixkvm.Domain.Vms;

namespace Quantixkvm.ControlPlane.Ha;

/// <summary>
/// vSphere-style HA, in the open: an UNREACHABLE host of an HA cluster is fenced (its fencers tried in order, each
/// verdict an event); only once it is FENCED are its protected VMs restarted elsewhere, highest priority first, each
/// through placement and a RecoverVm command the VM decides once. Hosts outside any cluster, and clusters with HA off,
/// are left alone. Each host is fenced in its own task: one slow BMC never holds up another host's failover.
/// </summary>
public sealed class HaCoordinator(
    IServiceScopeFactory scopes, TimeProvider clock, IOptions<ControlPlaneOptions> options, ILogger<HaCoordinator> logger)
    : PeriodicWork(scopes, clock, logger)
{
    private readonly IServiceScopeFactory _scopes = scopes;
    private readonly ConcurrentDictionary<Guid, Task> _fencing = new();
    private readonly ConcurrentDictionary<Guid, DateTimeOffset> _lastFailedRound = new();
    private readonly ConcurrentDictionary<(Guid Host, DateTimeOffset FencedAt), bool> _purged = new();

    protected override TimeSpan Interval => TimeSpan.FromSeconds(options.Value.Fleet.HaScanSeconds);

    protected override string What => "HA scan";

    protected override async Task RunAsync(IServiceProvider services, CancellationToken cancellationToken)
    {
        var directory = services.GetRequiredService<HostDirectory>();
        var session = services.GetRequiredService<IQuerySession>();
        var leases = services.GetRequiredService<StorageLeaseFencer>();
        var now = Clock.GetUtcNow();
        foreach (var host in await directory.AllAsync(cancellationToken))
        {
            if (host.Cluster is not { Settings.HaEnabled: true })
            {
                continue;
            }

            // Late heartbeats (a third of the detection time): start watching the host's lease, so that if it is dead its
            // lease has been seen standing still for a while by the time it must be fenced.
            var silence = now - host.SilentSince;
            if (silence > TimeSpan.FromSeconds(host.Cluster.Settings.HostFailureDetectionSeconds / 3))
            {
                await leases.WatchAsync(host.Host.Id, cancellationToken);
            }
            else if (host.Host.Status == HostStatus.Online)
            {
                leases.Forget(host.Host.Id);
            }

            if (host.Host is { Status: HostStatus.Unreachable, FencingId: null })
            {
                StartFencing(host.Host);
            }
            else if (host.Host is { Status: HostStatus.Fenced, FencedAt: { } fencedAt })
            {
                await RestartVmsAsync(services, session, directory, host.Host, fencedAt, cancellationToken);
            }
        }
    }

    /// <summary>Whether a round of fencing is running for the host (tests wait on it).</summary>
    public Task? FencingOf(Guid hostId) => _fencing.GetValueOrDefault(hostId);

    private void StartFencing(HostView host)
    {
        if (_fencing.ContainsKey(host.Id)
            || (_lastFailedRound.TryGetValue(host.Id, out var failed) && Clock.GetUtcNow() - failed < TimeSpan.FromSeconds(options.Value.Fleet.FenceRetrySeconds)))
        {
            return;
        }

        // Runs beside the scan loop; removed from the map when done, so the next round can start.
        _fencing[host.Id] = Task.Run(async () =>
        {
            try
            {
                await FenceAsync(host, CancellationToken.None);
            }
            catch (Exception ex)
            {
                logger.LogError(ex, "Fencing host {HostName} ({HostId}) failed unexpectedly", host.Name, host.Id);
                _lastFailedRound[host.Id] = Clock.GetUtcNow();
            }
            finally
            {
                _fencing.TryRemove(host.Id, out _);
            }
        });
    }

    private async Task FenceAsync(HostView host, CancellationToken cancellationToken)
    {
        await using var scope = _scopes.CreateAsyncScope();
        var fleet = scope.ServiceProvider.GetRequiredService<FleetCommands>();
        var fencers = scope.ServiceProvider.GetRequiredService<HostFencers>();
        var config = host.Fencing ?? HostFencing.Default;
        var fenceId = Guid.CreateVersion7();
        var metadata = new CommandMetadata($"fence:{fenceId}", "system:ha", fenceId.ToString());
        await fleet.HostAsync(host.Id, ctx => new StartFencing(ctx, fenceId, config.Order), metadata, null, cancellationToken);
        logger.LogWarning("Fencing host {HostName} ({HostId}) with {Fencers}", host.Name, host.Id, config.Order);
        for (var i = 0; i < config.Order.Count; i++)
        {
            var name = config.Order[i];
            var verdict = fencers.Find(name) is { } fencer
                ? await fencer.FenceAsync(new FenceTarget(host.Id, host.Name, fenceId, config), cancellationToken)
                : new FenceVerdict(false, $"no fencer named '{name}' is configured on this control plane");
            var last = i == config.Order.Count - 1;
            await fleet.HostAsync(host.Id, ctx => new RecordFenceAttempt(ctx, fenceId, name, verdict.Fenced, verdict.Detail, last),
                metadata with { CommandId = $"fence:{fenceId}:{name}" }, null, cancellationToken);
            if (verdict.Fenced)
            {
                logger.LogWarning("Host {HostName} ({HostId}) fenced by {Fencer}: {Evidence}", host.Name, host.Id, name, verdict.Detail);
                _lastFailedRound.TryRemove(host.Id, out _);
                return;
            }

            logger.LogWarning("Fencer {Fencer} could not fence host {HostName}: {Reason}", name, host.Name, verdict.Detail);
        }

        _lastFailedRound[host.Id] = Clock.GetUtcNow();
    }

    /// <summary>
    /// Restarts the fenced host's protected VMs on other hosts, HIGH priority first. Each placement counts the VMs placed
    /// before it in this round. A VM no host can take is recorded as blocked, with placement's reasons, and retried.
    /// </summary>
    private async Task RestartVmsAsync(
        IServiceProvider services, IQuerySession session, HostDirectory directory, HostView host, DateTimeOffset fencedAt, CancellationToken cancellationToken)
    {
        var stranded = await session.Query<VmView>().Where(v => v.HostId == host.Id && v.DeletedAt == null).ToListAsync(cancellationToken);
        var protectedVms = stranded.Where(v => v.HaPriority != HaPriority.Disabled)
            .OrderByDescending(v => v.HaPriority).ThenBy(v => v.Name, StringComparer.Ordinal).ToList();
        if (protectedVms.Count == 0)
        {
            return;
        }

        if (_purged.TryAdd((host.Id, fencedAt), true))
        {
            await services.GetRequiredService<HostQueues>().PurgeAsync(host.Id, cancellationToken);
        }

        var vms = services.GetRequiredService<VmCommands>();
        // Like every placement: one at a time, so a create in parallel cannot take the room a restart counted on.
        await using var held = await AdvisoryLock.PlacementAsync(services.GetRequiredService<IDocumentStore>(), cancellationToken);
        var inputs = await directory.PlacementInputsAsync(cancellationToken);
        var candidates = inputs.Hosts.ToList();
        foreach (var vm in protectedVms)
        {
            var (placement, record) = inputs.Place(
                new PlacementRequest(vm.Id, vm.Vcpus, vm.MemoryMiB, ClusterId: host.ClusterId,
                    ExcludedHosts: new HashSet<Guid> { host.Id }, ExclusionReason: "the failed host itself"),
                host.ClusterId, candidates);
            var metadata = new CommandMetadata($"ha:{host.Id}:{fencedAt.UtcTicks}:{vm.Id}", "system:ha", host.Id.ToString());
            if (record is not { HostId: var target })
            {
                await vms.HandleAsync(vm.Id, (ctx, _) => new BlockRecovery(ctx, host.Id, $"no host can take it: {placement.Explain()}"),
                    metadata with { CommandId = $"{metadata.CommandId}:blocked:{Domain.DeterministicId.From("ha-blocked", placement.Explain())}" },
                    null, cancellationToken);
                logger.LogError("HA cannot restart VM {VmName} ({VmId}) of fenced host {HostName}: {Reasons}", vm.Name, vm.Id, host.Name, placement.Explain());
                continue;
            }

            var result = await vms.HandleAsync(
                vm.Id, (ctx, timeouts) => new RecoverVm(ctx, timeouts, host.Id, target, $"HA restart: host '{host.Name}' failed and was fenced by {host.FencedBy}", record),
                metadata, null, cancellationToken);
            if (result.Appended)
            {
                var index = candidates.FindIndex(c => c.HostId == target);
                var chosen = candidates[index];
                candidates[index] = chosen with
                {
                    AllocatedVcpus = chosen.AllocatedVcpus + vm.Vcpus, AllocatedMemoryMiB = chosen.AllocatedMemoryMiB + vm.MemoryMiB,
                    VmIds = new HashSet<Guid>(chosen.VmIds) { vm.Id },
                };
                logger.LogWarning("HA restarts VM {VmName} ({VmId}, priority {Priority}) of fenced host {HostName} on host {Target}",
                    vm.Name, vm.Id, vm.HaPriority, host.Name, chosen.Name);
            }
        }
    }
}
