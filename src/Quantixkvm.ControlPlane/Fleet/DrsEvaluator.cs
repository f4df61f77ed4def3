using Marten;
using Microsoft.Extensions.Options;
using Quantixkvm.ControlPlane.Commands;
using Quantixkvm.ControlPlane.Configuration;
using Quantixkvm.ControlPlane.ReadModels;
using Quantixkvm.Domain;
using Quantixkvm.Domain.Clusters;
using Quantixkvm.Domain.Drs;
using Quantixkvm.Domain.Placement;
using Quantixkvm.Domain.Vms;

namespace Quantixkvm.ControlPlane.Fleet;

/// <summary>
/// DRS: evaluates each cluster whose DRS mode is not OFF with <see cref="DrsPolicy"/> and records its proposals as
/// recommendations (events with their reasons); in AUTOMATIC mode applies those that need no restart. It stands aside
/// while HA or maintenance is at work in the cluster (a host not ONLINE, or a move under way), so it never fights them.
/// Load counts running VMs only: a stopped VM demands nothing.
/// </summary>
public sealed class DrsEvaluator(
    IServiceScopeFactory scopes, TimeProvider clock, IOptions<ControlPlaneOptions> options, ILogger<DrsEvaluator> logger)
    : PeriodicWork(scopes, clock, logger)
{
    protected override TimeSpan Interval => TimeSpan.FromSeconds(options.Value.Fleet.DrsIntervalSeconds);

    protected override string What => "DRS evaluation";

    protected override async Task RunAsync(IServiceProvider services, CancellationToken cancellationToken)
    {
        var directory = services.GetRequiredService<HostDirectory>();
        foreach (var cluster in (await directory.ClustersAsync(cancellationToken)).Values.Where(c => c.Settings.DrsMode != DrsMode.Off))
        {
            await EvaluateAsync(services, cluster.Id, cancellationToken);
        }
    }

    /// <summary>One evaluation of one cluster (also what the <c>evaluateDrs</c> mutation runs); returns the imbalance and why it stopped, if it did.</summary>
    public async Task<DrsEvaluation> EvaluateAsync(IServiceProvider services, Guid clusterId, CancellationToken cancellationToken)
    {
        var directory = services.GetRequiredService<HostDirectory>();
        var fleet = services.GetRequiredService<FleetCommands>();
        var inputs = await directory.PlacementInputsAsync(cancellationToken);
        if (!inputs.Clusters.TryGetValue(clusterId, out var cluster))
        {
            throw new CommandRejectedException(new Rejection(RejectionCode.NotFound, $"cluster {clusterId} has no hosts (or does not exist)", Command: "evaluate-drs"));
        }

        var (hosts, vms) = Demand(inputs, clusterId);
        var imbalance = DrsPolicy.Imbalance(hosts);
        if (inputs.Hosts.Where(h => h.ClusterId == clusterId).FirstOrDefault(h => h.Availability is HostAvailability.Unreachable or HostAvailability.EnteringMaintenance
                || (h.Availability == HostAvailability.Fenced && h.VmIds.Count > 0)) is { } busy)
        {
            return new DrsEvaluation(imbalance, [], $"host '{busy.Name}' is {busy.Availability}: DRS waits for HA and maintenance to finish");
        }

        var inCluster = hosts.Select(h => h.HostId).ToHashSet();
        if (inputs.Vms.FirstOrDefault(v => inCluster.Contains(v.HostId) && v.MigrationId is not null) is { } moving)
        {
            return new DrsEvaluation(imbalance, [], $"VM '{moving.Name}' is moving: DRS waits for it");
        }

        var live = inputs.LiveMigration;
        var fleetOptions = options.Value.Fleet;
        var proposals = DrsPolicy.Propose(hosts, vms, cluster.Rules, cluster.Settings.DrsThreshold, fleetOptions.DrsMinImprovement, fleetOptions.DrsMaxMovesPerEvaluation);
        var evaluation = Clock.GetUtcNow().UtcTicks.ToString(System.Globalization.CultureInfo.InvariantCulture);
        var recommendations = proposals.Select(p =>
        {
            var restart = !(live.Contains(p.FromHostId) && live.Contains(p.ToHostId));
            return new DrsRecommendation(
                ClusterDecider.RecommendationIdFor(clusterId, p.VmId, p.FromHostId, p.ToHostId, evaluation), p.VmId, p.VmName, p.FromHostId, p.ToHostId,
                p.ImbalanceBefore, p.ImbalanceAfter, restart ? p.Reason + " (the hosts cannot live-migrate: applying it restarts the VM)" : p.Reason, restart);
        }).ToList();
        await fleet.ClusterAsync(clusterId, ctx => new RecordDrsEvaluation(ctx, recommendations, imbalance),
            new CommandMetadata($"drs:{clusterId}:{evaluation}", "system:drs", clusterId.ToString()), null, cancellationToken);
        if (recommendations.Count > 0)
        {
            logger.LogInformation("DRS for cluster {Cluster}: imbalance {Imbalance:0.000}, {Count} recommendations", cluster.Name, imbalance, recommendations.Count);
        }

        if (cluster.Settings.DrsMode == DrsMode.Automatic)
        {
            var applier = services.GetRequiredService<DrsRecommendations>();
            var open = (await services.GetRequiredService<IQuerySession>().LoadAsync<ClusterView>(clusterId, cancellationToken))?.Recommendations
                .Where(r => r.Status == RecommendationStatus.Open && !r.Recommendation.RequiresRestart).ToList() ?? [];
            foreach (var recommendation in open)
            {
                try
                {
                    await applier.ApplyAsync(clusterId, recommendation.Recommendation.RecommendationId, "system:drs", cancellationToken);
                }
                catch (Exception ex) when (ex is CommandRejectedException or NoHostAvailableException)
                {
                    logger.LogWarning("DRS could not apply its recommendation to move {VmName}: {Reason}", recommendation.Recommendation.VmName, ex.Message);
                }
            }
        }

        return new DrsEvaluation(imbalance, recommendations, null);
    }

    /// <summary>The cluster's ONLINE hosts with the demand of their running VMs, and which VMs may move now.</summary>
    public static (IReadOnlyList<HostCandidate> Hosts, IReadOnlyList<DrsVm> Vms) Demand(PlacementInputs inputs, Guid clusterId)
    {
        var running = inputs.Vms.Where(IsRunning).ToLookup(v => v.HostId);
        var hosts = inputs.Hosts.Where(h => h.ClusterId == clusterId && h.Availability == HostAvailability.Online)
            .Select(h => WithRunningDemand(h, running[h.HostId])).ToList();
        var vms = hosts.SelectMany(h => running[h.HostId])
            .Select(v => new DrsVm(v.Id, v.Name, v.HostId, v.Vcpus, v.MemoryMiB, v.CurrentOperationId is null && v.MigrationId is null))
            .ToList();
        return (hosts, vms);
    }

    /// <summary>The host as DRS weighs it: what its running (or paused) VMs take, not what every VM placed there reserves.</summary>
    public static HostCandidate WithRunningDemand(HostCandidate host, IEnumerable<VmView> vmsOnHost)
    {
        var running = vmsOnHost.Where(IsRunning).ToList();
        return host with
        {
            AllocatedVcpus = running.Sum(v => v.Vcpus), AllocatedMemoryMiB = running.Sum(v => (long)v.MemoryMiB), VmIds = running.Select(v => v.Id).ToHashSet(),
        };
    }

    private static bool IsRunning(VmView vm) => vm.PowerState is PowerState.Running or PowerState.Paused;
}

/// <summary>What one DRS evaluation found: the imbalance, its recommendations, and why it made none when it stood aside.</summary>
public sealed record DrsEvaluation(double Imbalance, IReadOnlyList<DrsRecommendation> Recommendations, string? SkippedBecause);

/// <summary>Applying a recommendation: its migration first (so a precheck that fails leaves it open), then the record.</summary>
public sealed class DrsRecommendations(FleetCommands fleet, VmMoves moves, IQuerySession session)
{
    public async Task<CommandResult> ApplyAsync(Guid clusterId, Guid recommendationId, string actor, CancellationToken cancellationToken)
    {
        var cluster = await session.LoadAsync<ClusterView>(clusterId, cancellationToken);
        var open = cluster?.Recommendations.FirstOrDefault(r => r.Recommendation.RecommendationId == recommendationId && r.Status == RecommendationStatus.Open)
            ?? throw new CommandRejectedException(new Rejection(RejectionCode.NotFound,
                $"recommendation {recommendationId} is not open in cluster {clusterId} (applied, dismissed or superseded)", Command: "apply-recommendation"));
        var r = open.Recommendation;
        var migration = await moves.MigrateAsync(
            new MoveRequest(r.VmId, r.ToHostId, r.RequiresRestart ? MigrationMode.Cold : MigrationMode.Live, r.RequiresRestart, $"DRS: {r.Reason}"),
            new CommandMetadata($"drs-apply:{recommendationId}", actor, recommendationId.ToString()), null, cancellationToken);
        await fleet.ClusterAsync(clusterId, ctx => new ApplyRecommendation(ctx, recommendationId),
            new CommandMetadata($"drs-applied:{recommendationId}", actor, recommendationId.ToString()), null, cancellationToken);
        return migration;
    }
}
