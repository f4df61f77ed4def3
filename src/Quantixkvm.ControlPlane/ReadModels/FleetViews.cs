using JasperFx.Events;
using Marten.Events.Aggregation;
using Marten.Events.Projections;
using Quantixkvm.Domain.Clusters;
using Quantixkvm.Domain.Placement;
using Quantixkvm.Domain.Vms;

namespace Quantixkvm.ControlPlane.ReadModels;

public enum RecommendationStatus
{
    Open,
    Applied,
    Dismissed,
}

/// <summary>A DRS recommendation and what became of it.</summary>
public sealed record RecommendationView(
    DrsRecommendation Recommendation, RecommendationStatus Status, DateTimeOffset RecommendedAt, DateTimeOffset? ClosedAt = null,
    string? ClosedBy = null, string? DismissReason = null);

/// <summary>A cluster: its settings, affinity rules and DRS recommendations (the last 200 closed ones are kept).</summary>
public sealed record ClusterView
{
    private const int ClosedKept = 200;

    public Guid Id { get; init; }
    public string Name { get; init; } = "";
    public ClusterSettings Settings { get; init; } = ClusterSettings.Default;
    public IReadOnlyList<AffinityRule> Rules { get; init; } = [];
    public IReadOnlyList<RecommendationView> Recommendations { get; init; } = [];
    public DateTimeOffset CreatedAt { get; init; }
    public DateTimeOffset? DeletedAt { get; init; }
    public long Version { get; init; }

    public static ClusterView? After(ClusterView? view, IEvent @event)
    {
        var updated = (@event.Data, view) switch
        {
            (ClusterCreated e, _) => new ClusterView { Id = e.ClusterId, Name = e.Name, Settings = e.Settings, CreatedAt = e.CreatedAt },
            (_, null) => null,
            (ClusterConfigured e, _) => view with { Settings = e.Settings },
            (AffinityRuleAdded e, _) => view with { Rules = [.. view.Rules, e.Rule] },
            (AffinityRuleRemoved e, _) => view with { Rules = view.Rules.Where(r => r.RuleId != e.RuleId).ToList() },
            (DrsRecommended e, _) => view with
            {
                Recommendations = [new RecommendationView(e.Recommendation, RecommendationStatus.Open, e.RecommendedAt), .. view.Recommendations],
            },
            (DrsRecommendationApplied e, _) => Close(view, e.RecommendationId, r => r with
            {
                Status = RecommendationStatus.Applied, ClosedAt = e.AppliedAt, ClosedBy = e.Actor,
            }),
            (DrsRecommendationDismissed e, _) => Close(view, e.RecommendationId, r => r with
            {
                Status = RecommendationStatus.Dismissed, ClosedAt = e.DismissedAt, ClosedBy = e.Actor, DismissReason = e.Reason,
            }),
            (ClusterDeleted e, _) => view with { DeletedAt = e.DeletedAt },
            _ => view,
        };
        return updated is null ? null : updated with { Version = @event.Version };
    }

    private static ClusterView Close(ClusterView view, Guid id, Func<RecommendationView, RecommendationView> close)
    {
        var all = view.Recommendations.Select(r => r.Recommendation.RecommendationId == id ? close(r) : r).ToList();
        var open = all.Where(r => r.Status == RecommendationStatus.Open);
        var closed = all.Where(r => r.Status != RecommendationStatus.Open).Take(ClosedKept);
        return view with { Recommendations = [.. open, .. closed] };
    }
}

public sealed class ClusterViewProjection : SingleStreamProjection<ClusterView, Guid>
{
    public override ClusterView? Evolve(ClusterView? snapshot, Guid id, IEvent e) => ClusterView.After(snapshot, e);
}

public enum MigrationStatus
{
    Running,
    Succeeded,
    Failed,
}

/// <summary>One move of a VM between hosts, from request to its end. Live progress is in <see cref="MigrationProgress"/>.</summary>
public sealed record MigrationView
{
    public Guid Id { get; init; }
    public Guid VmId { get; init; }
    public Guid FromHostId { get; init; }
    public Guid ToHostId { get; init; }
    public MigrationMode Mode { get; init; }
    public bool RestartOnTarget { get; init; }
    public string Reason { get; init; } = "";
    public string Actor { get; init; } = "";
    public MigrationStatus Status { get; init; }
    public string? Error { get; init; }
    public DateTimeOffset RequestedAt { get; init; }
    public DateTimeOffset? CancelRequestedAt { get; init; }
    public DateTimeOffset? FinishedAt { get; init; }

    public static MigrationView? After(MigrationView? view, IEvent @event) => (@event.Data, view) switch
    {
        (VmMigrationRequested e, _) => new MigrationView
        {
            Id = e.MigrationId, VmId = e.VmId, FromHostId = e.FromHostId, ToHostId = e.ToHostId, Mode = e.Mode, RestartOnTarget = e.RestartOnTarget,
            Reason = e.Reason, Actor = e.Actor, Status = MigrationStatus.Running, RequestedAt = e.RequestedAt,
        },
        (_, null) => null,
        (VmMigrated e, _) => view with { Status = MigrationStatus.Succeeded, FinishedAt = e.MigratedAt },
        (VmMigrationFailed e, _) => view with { Status = MigrationStatus.Failed, Error = e.Reason, FinishedAt = e.FailedAt },
        (VmMigrationCancelRequested e, _) => view with { CancelRequestedAt = e.RequestedAt },
        _ => view,
    };
}

public sealed class MigrationViewProjection : MultiStreamProjection<MigrationView, Guid>, IRoutedProjection
{
    /// <summary>Every event of a migration names it.</summary>
    public static IdentityRoutes Routes { get; } = new IdentityRoutes()
        .Route<VmMigrationRequested>(e => e.MigrationId)
        .Route<VmMigrated>(e => e.MigrationId)
        .Route<VmMigrationFailed>(e => e.MigrationId)
        .Route<VmMigrationCancelRequested>(e => e.MigrationId);

    public MigrationViewProjection() => Routes.RegisterWith(this);

    IdentityRoutes IRoutedProjection.Routes => Routes;

    public override MigrationView? Evolve(MigrationView? snapshot, Guid id, IEvent e) => MigrationView.After(snapshot, e);
}

/// <summary>
/// The source host's last report on a live migration's job (libvirt's figures). Telemetry, overwritten in place like
/// heartbeats: not history.
/// </summary>
public sealed record MigrationProgress
{
    public Guid Id { get; init; }
    public long DataTotalBytes { get; init; }
    public long DataProcessedBytes { get; init; }
    public long DataRemainingBytes { get; init; }
    public double ElapsedSeconds { get; init; }
    public DateTimeOffset ReportedAt { get; init; }

    public double Percent => DataTotalBytes <= 0 ? 0 : Math.Round(100.0 * DataProcessedBytes / DataTotalBytes, 1);
}

/// <summary>A migration with its latest progress report, as subscriptions deliver it.</summary>
public sealed record MigrationUpdate(MigrationView Migration, MigrationProgress? Progress);
