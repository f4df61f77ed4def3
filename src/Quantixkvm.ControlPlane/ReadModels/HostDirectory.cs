using Marten;
using Microsoft.Extensions.Options;
using Quantixkvm.ControlPlane.Configuration;
using Quantixkvm.Domain.Placement;

namespace Quantixkvm.ControlPlane.ReadModels;

public enum HostStatus
{
    Online,
    Unreachable,
}

/// <summary>A host with its liveness, derived from its last heartbeat at read time.</summary>
public sealed record HostSnapshot(HostView Host, DateTimeOffset? LastHeartbeatAt, HostStatus Status);

/// <summary>Reads hosts with their liveness and allocations, for the API and for placement.</summary>
public sealed class HostDirectory(IQuerySession session, TimeProvider clock, IOptions<ControlPlaneOptions> options)
{
    public async Task<IReadOnlyList<HostSnapshot>> AllAsync(CancellationToken cancellationToken)
    {
        var hosts = await session.Query<HostView>().OrderBy(h => h.Name).ToListAsync(cancellationToken);
        var beats = (await session.Query<HostLiveness>().ToListAsync(cancellationToken)).ToDictionary(b => b.Id);
        return hosts.Select(h => Snapshot(h, beats.GetValueOrDefault(h.Id))).ToList();
    }

    public async Task<HostSnapshot?> FindAsync(Guid hostId, CancellationToken cancellationToken)
    {
        var host = await session.LoadAsync<HostView>(hostId, cancellationToken);
        return host is null ? null : Snapshot(host, await session.LoadAsync<HostLiveness>(hostId, cancellationToken));
    }

    /// <summary>Every host as placement sees it, with what its live VMs already take.</summary>
    public async Task<IReadOnlyList<HostCandidate>> CandidatesAsync(CancellationToken cancellationToken)
    {
        var hosts = await AllAsync(cancellationToken);
        var vms = await session.Query<VmView>().Where(v => v.DeletedAt == null).ToListAsync(cancellationToken);
        var allocated = vms.GroupBy(v => v.HostId).ToDictionary(
            g => g.Key, g => (Vcpus: g.Sum(v => v.Vcpus), MemoryMiB: g.Sum(v => (long)v.MemoryMiB)));
        return hosts.Select(h =>
        {
            var used = allocated.GetValueOrDefault(h.Host.Id);
            return new HostCandidate(h.Host.Id, h.Host.Name, h.Status == HostStatus.Online, h.Host.Cpus, h.Host.MemoryMiB,
                used.Vcpus, used.MemoryMiB);
        }).ToList();
    }

    private HostSnapshot Snapshot(HostView host, HostLiveness? beat)
    {
        var timeout = TimeSpan.FromSeconds(options.Value.HeartbeatTimeoutSeconds);
        var online = beat is not null && clock.GetUtcNow() - beat.LastHeartbeatAt <= timeout;
        return new HostSnapshot(host, beat?.LastHeartbeatAt, online ? HostStatus.Online : HostStatus.Unreachable);
    }
}
