using JasperFx.Events;
using Marten.Events.Aggregation;
using Quantixkvm.Domain.Hosts;

namespace Quantixkvm.ControlPlane.ReadModels;

/// <summary>
/// A registered host: the facts its agent reported, its place in the fleet (cluster, labels, fencing) and the states
/// liveness, fencing and maintenance moved it through. The last heartbeat itself is in <see cref="HostLiveness"/>.
/// </summary>
public sealed record HostView
{
    public Guid Id { get; init; }
    public string Name { get; init; } = "";
    public int Cpus { get; init; }
    public long MemoryMiB { get; init; }
    public string CpuModel { get; init; } = "";
    public IReadOnlyList<string> CpuFeatures { get; init; } = [];
    public string LibvirtUri { get; init; } = "";
    public string? PeerLibvirtUri { get; init; }
    public string? MigrateAddress { get; init; }
    public bool LiveMigration { get; init; }
    public string AgentVersion { get; init; } = "";
    public DateTimeOffset RegisteredAt { get; init; }
    public HostStatus Status { get; init; } = HostStatus.Online;
    public MaintenanceState Maintenance { get; init; } = MaintenanceState.None;
    public bool AllowColdMigration { get; init; }

    /// <summary>When the host was last asked to enter maintenance: failed moves since then count against this evacuation.</summary>
    public DateTimeOffset? MaintenanceRequestedAt { get; init; }
    public Guid? ClusterId { get; init; }
    public IReadOnlyDictionary<string, string> Labels { get; init; } = new Dictionary<string, string>();
    public HostFencing? Fencing { get; init; }
    public DateTimeOffset? UnreachableSince { get; init; }
    public Guid? FencingId { get; init; }
    public DateTimeOffset? FencedAt { get; init; }
    public string? FencedBy { get; init; }
    public string? FenceEvidence { get; init; }

    /// <summary>The last fencer failure of the current or last round: which fencer, and why.</summary>
    public string? LastFenceFailure { get; init; }

    /// <summary>When the host last came back after being fenced: its older domains are leftovers to release.</summary>
    public DateTimeOffset? RecoveredFromFencingAt { get; init; }

    /// <summary>What the last evacuation could not move, and why (empty once maintenance is entered or exited).</summary>
    public IReadOnlyList<StuckVm> StuckVms { get; init; } = [];
    public long Version { get; init; }

    public string Describe() => HostState.Describe(Status, Maintenance, FencingId is not null);

    public static HostView? After(HostView? view, IEvent @event)
    {
        var updated = (@event.Data, view) switch
        {
            (HostRegistered e, _) => From(new HostView { Id = e.HostId, RegisteredAt = e.RegisteredAt }, e.Facts),
            (_, null) => null,
            (HostFactsChanged e, _) => From(view, e.Facts),
            (HostLabelsChanged e, _) => view with { Labels = new Dictionary<string, string>(e.Labels) },
            (HostClusterAssigned e, _) => view with { ClusterId = e.ClusterId },
            (HostFencingConfigured e, _) => view with { Fencing = e.Fencing },
            (HostUnreachable e, _) => view with { Status = HostStatus.Unreachable, UnreachableSince = e.DetectedAt },
            (HostFencingStarted e, _) => view with { FencingId = e.FenceId, LastFenceFailure = null },
            (HostFenceAttemptFailed e, _) => view with { LastFenceFailure = $"{e.Fencer}: {e.Reason}" },
            (HostFencingFailed, _) => view with { FencingId = null },
            (HostFenced e, _) => view with
            {
                Status = HostStatus.Fenced, FencingId = null, FencedAt = e.FencedAt, FencedBy = e.Fencer, FenceEvidence = e.Evidence,
            },
            (HostRecovered e, _) => view with
            {
                Status = HostStatus.Online, FencingId = null, UnreachableSince = null,
                RecoveredFromFencingAt = e.WasFenced ? e.RecoveredAt : view.RecoveredFromFencingAt,
            },
            (HostMaintenanceRequested e, _) => view with
            {
                Maintenance = MaintenanceState.Entering, AllowColdMigration = e.AllowColdMigration, MaintenanceRequestedAt = e.RequestedAt, StuckVms = [],
            },
            (HostEvacuationIncomplete e, _) => view with { StuckVms = e.Stuck },
            (HostMaintenanceEntered, _) => view with { Maintenance = MaintenanceState.InMaintenance, StuckVms = [] },
            (HostMaintenanceExited, _) => view with { Maintenance = MaintenanceState.None, AllowColdMigration = false, StuckVms = [] },
            (HostDecommissioned, _) => view with { Status = HostStatus.Decommissioned },
            _ => view,
        };
        return updated is null ? null : updated with { Version = @event.Version };
    }

    private static HostView From(HostView view, HostFacts facts) => view with
    {
        Name = facts.Name, Cpus = facts.Cpus, MemoryMiB = facts.MemoryMiB, CpuModel = facts.CpuModel, CpuFeatures = facts.CpuFeatures ?? [],
        LibvirtUri = facts.LibvirtUri, PeerLibvirtUri = facts.PeerLibvirtUri, MigrateAddress = facts.MigrateAddress,
        LiveMigration = facts.LiveMigration, AgentVersion = facts.AgentVersion,
    };
}

public sealed class HostViewProjection : SingleStreamProjection<HostView, Guid>
{
    public override HostView? Evolve(HostView? snapshot, Guid id, IEvent e) => HostView.After(snapshot, e);
}

/// <summary>
/// The last heartbeat of a host's agent. Telemetry, not history: a document overwritten in place,
/// never an event (see docs/adr).
/// </summary>
public sealed record HostLiveness
{
    public Guid Id { get; init; }
    public DateTimeOffset LastHeartbeatAt { get; init; }
    public int DomainCount { get; init; }
}
