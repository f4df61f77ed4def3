using Marten;
using Microsoft.Extensions.Options;
using Quantixkvm.ControlPlane.Configuration;
using Quantixkvm.Domain.Clusters;
using Quantixkvm.Domain.Hosts;
using Quantixkvm.Domain.Placement;

namespace Quantixkvm.ControlPlane.ReadModels;

/// <summary>
/// A host with its liveness. <c>Status</c> is the recorded one, except that an ONLINE host whose heartbeat is older
/// than its detection time already shows UNREACHABLE (the liveness watcher records that within a second).
/// </summary>
public sealed record HostSnapshot(HostView Host, DateTimeOffset? LastHeartbeatAt, HostStatus Status, ClusterView? Cluster)
{
    /// <summary>Since when the host has been silent: its last heartbeat, or, before its first one, its registration.</summary>
    public DateTimeOffset SilentSince => SilentSinceOf(Host, LastHeartbeatAt);

    public static DateTimeOffset SilentSinceOf(HostView host, DateTimeOffset? lastHeartbeatAt) => lastHeartbeatAt ?? host.RegisteredAt;
}

/// <summary>
/// Every host as placement sees it, with the cluster policies and rules that apply, the VMs placed, and which hosts'
/// hypervisors can live-migrate.
/// </summary>
public sealed record PlacementInputs(
    IReadOnlyList<HostCandidate> Hosts, IReadOnlyDictionary<Guid, ClusterView> Clusters, IReadOnlyList<VmView> Vms, IReadOnlySet<Guid> LiveMigration)
{
    /// <summary>
    /// Places under the policy (affinity rules, strategy) of the cluster <paramref name="policyOf"/>, over
    /// <paramref name="hosts"/> (default: every host); when a host is chosen, also the decision as it is recorded.
    /// </summary>
    public (PlacementResult Result, PlacementRecord? Record) Place(PlacementRequest request, Guid? policyOf, IReadOnlyList<HostCandidate>? hosts = null)
    {
        var strategy = SettingsOf(policyOf).PlacementStrategy;
        var candidates = hosts ?? Hosts;
        var result = HostPlacement.Place(request with { Rules = RulesOf(policyOf), Strategy = strategy }, candidates);
        return (result, result.HostId is { } chosen ? PlacementRecord.Of(result, strategy, candidates, chosen) : null);
    }

    public IReadOnlyList<AffinityRule> RulesOf(Guid? clusterId) =>
        clusterId is { } id && Clusters.TryGetValue(id, out var cluster) ? cluster.Rules : [];

    public ClusterSettings SettingsOf(Guid? clusterId) =>
        clusterId is { } id && Clusters.TryGetValue(id, out var cluster) ? cluster.Settings : ClusterSettings.Default;
}

/// <summary>Reads hosts with their liveness and allocations, for the API, placement, HA and DRS.</summary>
public sealed class HostDirectory(IQuerySession session, TimeProvider clock, IOptions<ControlPlaneOptions> options)
{
    public async Task<IReadOnlyList<HostSnapshot>> AllAsync(CancellationToken cancellationToken)
    {
        var hosts = await session.Query<HostView>().OrderBy(h => h.Name).ToListAsync(cancellationToken);
        var beats = (await session.Query<HostLiveness>().ToListAsync(cancellationToken)).ToDictionary(b => b.Id);
        var clusters = await ClustersAsync(cancellationToken);
        return hosts.Select(h => Snapshot(h, beats.GetValueOrDefault(h.Id), clusters)).ToList();
    }

    public async Task<HostSnapshot?> FindAsync(Guid hostId, CancellationToken cancellationToken)
    {
        var host = await session.LoadAsync<HostView>(hostId, cancellationToken);
        if (host is null)
        {
            return null;
        }

        var cluster = host.ClusterId is { } id ? await session.LoadAsync<ClusterView>(id, cancellationToken) : null;
        var clusters = cluster is null ? new Dictionary<Guid, ClusterView>() : new Dictionary<Guid, ClusterView> { [cluster.Id] = cluster };
        return Snapshot(host, await session.LoadAsync<HostLiveness>(hostId, cancellationToken), clusters);
    }

    public async Task<Dictionary<Guid, ClusterView>> ClustersAsync(CancellationToken cancellationToken) =>
        (await session.Query<ClusterView>().Where(c => c.DeletedAt == null).ToListAsync(cancellationToken)).ToDictionary(c => c.Id);

    /// <summary>Every host as placement sees it: state, policy of its cluster, and what its VMs already take.</summary>
    public async Task<PlacementInputs> PlacementInputsAsync(CancellationToken cancellationToken)
    {
        var hosts = await AllAsync(cancellationToken);
        var vms = await session.Query<VmView>().Where(v => v.DeletedAt == null).ToListAsync(cancellationToken);
        var byHost = vms.ToLookup(v => v.HostId);
        var clusters = hosts.Select(h => h.Cluster).OfType<ClusterView>().DistinctBy(c => c.Id).ToDictionary(c => c.Id);
        var candidates = hosts.Select(h => Candidate(h, byHost[h.Host.Id])).ToList();
        return new PlacementInputs(candidates, clusters, vms, hosts.Where(h => h.Host.LiveMigration).Select(h => h.Host.Id).ToHashSet());
    }

    /// <summary>Allocations count every VM placed on the host, running or not: a stopped VM keeps its place.</summary>
    public static HostCandidate Candidate(HostSnapshot snapshot, IEnumerable<VmView> vms)
    {
        var host = snapshot.Host;
        var list = vms as IReadOnlyCollection<VmView> ?? vms.ToList();
        var settings = snapshot.Cluster?.Settings ?? ClusterSettings.Default;
        return new HostCandidate(
            host.Id, host.Name, AvailabilityOf(snapshot), host.ClusterId, host.Cpus, host.MemoryMiB,
            list.Sum(v => v.Vcpus), list.Sum(v => (long)v.MemoryMiB), settings.CpuOvercommit, settings.MemoryOvercommit,
            host.CpuModel, host.CpuFeatures.ToHashSet(StringComparer.Ordinal), host.Labels, list.Select(v => v.Id).ToHashSet());
    }

    public static HostAvailability AvailabilityOf(HostSnapshot snapshot) => (snapshot.Status, snapshot.Host.Maintenance) switch
    {
        (HostStatus.Decommissioned, _) => HostAvailability.Decommissioned,
        (HostStatus.Fenced, _) => HostAvailability.Fenced,
        (HostStatus.Unreachable, _) => HostAvailability.Unreachable,
        (_, MaintenanceState.Entering) => HostAvailability.EnteringMaintenance,
        (_, MaintenanceState.InMaintenance) => HostAvailability.InMaintenance,
        _ => HostAvailability.Online,
    };

    /// <summary>How long a host of this cluster may stay silent before it counts as unreachable.</summary>
    public double DetectionSecondsFor(ClusterView? cluster) =>
        cluster?.Settings.HostFailureDetectionSeconds ?? options.Value.HeartbeatTimeoutSeconds;

    private HostSnapshot Snapshot(HostView host, HostLiveness? beat, IReadOnlyDictionary<Guid, ClusterView> clusters)
    {
        var cluster = host.ClusterId is { } id ? clusters.GetValueOrDefault(id) : null;
        // A host that has just registered has not had time to send its first heartbeat: its silence counts from then.
        var silentFor = clock.GetUtcNow() - HostSnapshot.SilentSinceOf(host, beat?.LastHeartbeatAt);
        var status = host.Status == HostStatus.Online && silentFor > TimeSpan.FromSeconds(DetectionSecondsFor(cluster))
            ? HostStatus.Unreachable
            : host.Status;
        return new HostSnapshot(host, beat?.LastHeartbeatAt, status, cluster);
    }
}
