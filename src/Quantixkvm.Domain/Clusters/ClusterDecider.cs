using System.Collections.Immutable;
using Quantixkvm.Domain.Placement;

namespace Quantixkvm.Domain.Clusters;

using ClusterDecision = Decision<ClusterEvent>;

public enum DrsMode
{
    Off,

    /// <summary>Recommendations are recorded; an operator applies or dismisses them.</summary>
    Manual,

    /// <summary>Recommendations are applied as soon as they are made.</summary>
    Automatic,
}

/// <summary>
/// A cluster's policy. <c>DrsThreshold</c>: the imbalance (standard deviation of host loads, 0..1) above which DRS
/// recommends moves; <c>HostFailureDetectionSeconds</c>: how long without heartbeats before a host is unreachable.
/// </summary>
public sealed record ClusterSettings(
    bool HaEnabled, double HostFailureDetectionSeconds, DrsMode DrsMode, double DrsThreshold,
    double CpuOvercommit, double MemoryOvercommit, PlacementStrategy PlacementStrategy)
{
    public static ClusterSettings Default { get; } = new(
        HaEnabled: true, HostFailureDetectionSeconds: 15, DrsMode: DrsMode.Manual, DrsThreshold: 0.1,
        CpuOvercommit: 4.0, MemoryOvercommit: 1.0, PlacementStrategy: PlacementStrategy.Spread);

    public IEnumerable<string> Problems()
    {
        if (HostFailureDetectionSeconds is < 3 or > 3600)
        {
            yield return $"host failure detection time must be 3 to 3600 seconds (got {HostFailureDetectionSeconds})";
        }

        if (DrsThreshold is < 0.01 or > 1)
        {
            yield return $"DRS threshold must be between 0.01 and 1 (got {DrsThreshold})";
        }

        if (CpuOvercommit is < 1 or > 32)
        {
            yield return $"CPU overcommit must be 1 to 32 (got {CpuOvercommit})";
        }

        if (MemoryOvercommit is < 1 or > 4)
        {
            yield return $"memory overcommit must be 1 to 4 (got {MemoryOvercommit}); memory beyond 1.0 relies on ballooning or KSM";
        }
    }
}

/// <summary>
/// A DRS proposal as recorded: move a VM from one host to another, and by how much that lowers the imbalance.
/// <c>RequiresRestart</c>: the hosts cannot live-migrate, so applying it powers the VM off and starts it on the target;
/// automatic DRS never applies those.
/// </summary>
public sealed record DrsRecommendation(
    Guid RecommendationId, Guid VmId, string VmName, Guid FromHostId, Guid ToHostId, double ImbalanceBefore, double ImbalanceAfter, string Reason,
    bool RequiresRestart = false);

public abstract record ClusterCommand(CommandContext Context);

public sealed record CreateCluster(CommandContext Context, Guid ClusterId, string Name, ClusterSettings Settings) : ClusterCommand(Context);

public sealed record ConfigureCluster(CommandContext Context, ClusterSettings Settings) : ClusterCommand(Context);

public sealed record AddAffinityRule(CommandContext Context, AffinityRule Rule) : ClusterCommand(Context);

public sealed record RemoveAffinityRule(CommandContext Context, Guid RuleId) : ClusterCommand(Context);

/// <summary>A DRS evaluation's proposals: new ones are recorded, open ones it no longer makes are dismissed (nothing while DRS is off).</summary>
public sealed record RecordDrsEvaluation(CommandContext Context, IReadOnlyList<DrsRecommendation> Proposals, double Imbalance) : ClusterCommand(Context);

/// <summary>Marks a recommendation applied; the caller then starts the migration.</summary>
public sealed record ApplyRecommendation(CommandContext Context, Guid RecommendationId) : ClusterCommand(Context);

public sealed record DismissRecommendation(CommandContext Context, Guid RecommendationId, string Reason) : ClusterCommand(Context);

public sealed record DeleteCluster(CommandContext Context, int HostsRemaining) : ClusterCommand(Context);

public abstract record ClusterEvent(Guid ClusterId);

public sealed record ClusterCreated(Guid ClusterId, string Name, ClusterSettings Settings, DateTimeOffset CreatedAt) : ClusterEvent(ClusterId);

public sealed record ClusterConfigured(Guid ClusterId, ClusterSettings Settings, DateTimeOffset ConfiguredAt) : ClusterEvent(ClusterId);

public sealed record AffinityRuleAdded(Guid ClusterId, AffinityRule Rule, DateTimeOffset AddedAt) : ClusterEvent(ClusterId);

public sealed record AffinityRuleRemoved(Guid ClusterId, Guid RuleId, DateTimeOffset RemovedAt) : ClusterEvent(ClusterId);

public sealed record DrsRecommended(Guid ClusterId, DrsRecommendation Recommendation, DateTimeOffset RecommendedAt) : ClusterEvent(ClusterId);

public sealed record DrsRecommendationApplied(Guid ClusterId, Guid RecommendationId, string Actor, DateTimeOffset AppliedAt) : ClusterEvent(ClusterId);

public sealed record DrsRecommendationDismissed(Guid ClusterId, Guid RecommendationId, string Reason, string Actor, DateTimeOffset DismissedAt)
    : ClusterEvent(ClusterId);

public sealed record ClusterDeleted(Guid ClusterId, DateTimeOffset DeletedAt) : ClusterEvent(ClusterId);

public sealed record ClusterState(Guid ClusterId, string Name, ClusterSettings Settings, bool Exists, bool Deleted)
{
    public static ClusterState Initial { get; } = new(Guid.Empty, "", ClusterSettings.Default, false, false);

    public ImmutableList<AffinityRule> Rules { get; init; } = [];

    public ImmutableDictionary<Guid, DrsRecommendation> OpenRecommendations { get; init; } = ImmutableDictionary<Guid, DrsRecommendation>.Empty;
}

/// <summary>The cluster aggregate: its policy (HA, DRS, overcommit, placement), affinity rules and DRS recommendations.</summary>
public static class ClusterDecider
{
    public static Guid ClusterIdFor(string commandId) => DeterministicId.From("cluster", commandId);

    /// <summary>A recommendation's id follows from what it proposes, so an evaluation that repeats itself records nothing new.</summary>
    public static Guid RecommendationIdFor(Guid clusterId, Guid vmId, Guid from, Guid to, string evaluation) =>
        DeterministicId.From("drs", clusterId.ToString(), vmId.ToString(), from.ToString(), to.ToString(), evaluation);

    public static ClusterDecision Decide(ClusterCommand command, ClusterState state) => command switch
    {
        CreateCluster create => DecideCreate(create, state),
        _ when !state.Exists || state.Deleted => ClusterDecision.Reject(RejectionCode.NotFound, "the cluster does not exist", command: Name(command)),
        ConfigureCluster configure => DecideConfigure(configure, state),
        AddAffinityRule add => DecideAddRule(add, state),
        RemoveAffinityRule remove => state.Rules.Any(r => r.RuleId == remove.RuleId)
            ? ClusterDecision.Accept(null, new AffinityRuleRemoved(state.ClusterId, remove.RuleId, remove.Context.Now))
            : ClusterDecision.Reject(RejectionCode.NotFound, $"cluster '{state.Name}' has no rule {remove.RuleId}", command: "remove-affinity-rule"),
        RecordDrsEvaluation evaluation => DecideEvaluation(evaluation, state),
        ApplyRecommendation apply => state.OpenRecommendations.ContainsKey(apply.RecommendationId)
            ? ClusterDecision.Accept(null, new DrsRecommendationApplied(state.ClusterId, apply.RecommendationId, apply.Context.Actor, apply.Context.Now))
            : ClusterDecision.Reject(RejectionCode.NotFound,
                $"recommendation {apply.RecommendationId} is not open in cluster '{state.Name}' (applied, dismissed or superseded)", command: "apply-recommendation"),
        DismissRecommendation dismiss => state.OpenRecommendations.ContainsKey(dismiss.RecommendationId)
            ? ClusterDecision.Accept(null, new DrsRecommendationDismissed(
                state.ClusterId, dismiss.RecommendationId, dismiss.Reason, dismiss.Context.Actor, dismiss.Context.Now))
            : ClusterDecision.Reject(RejectionCode.NotFound,
                $"recommendation {dismiss.RecommendationId} is not open in cluster '{state.Name}'", command: "dismiss-recommendation"),
        DeleteCluster delete => delete.HostsRemaining > 0
            ? ClusterDecision.Reject(RejectionCode.InvalidState,
                $"cluster '{state.Name}' still has {delete.HostsRemaining} hosts; move them out first", command: "delete-cluster")
            : ClusterDecision.Accept(null, new ClusterDeleted(state.ClusterId, delete.Context.Now)),
        _ => throw new ArgumentOutOfRangeException(nameof(command), command.GetType().Name, "unknown cluster command"),
    };

    public static ClusterState Evolve(ClusterState state, ClusterEvent @event) => @event switch
    {
        ClusterCreated e => state with { ClusterId = e.ClusterId, Name = e.Name, Settings = e.Settings, Exists = true },
        ClusterConfigured e => state with { Settings = e.Settings },
        AffinityRuleAdded e => state with { Rules = state.Rules.Add(e.Rule) },
        AffinityRuleRemoved e => state with { Rules = state.Rules.RemoveAll(r => r.RuleId == e.RuleId) },
        DrsRecommended e => state with { OpenRecommendations = state.OpenRecommendations.SetItem(e.Recommendation.RecommendationId, e.Recommendation) },
        DrsRecommendationApplied e => state with { OpenRecommendations = state.OpenRecommendations.Remove(e.RecommendationId) },
        DrsRecommendationDismissed e => state with { OpenRecommendations = state.OpenRecommendations.Remove(e.RecommendationId) },
        ClusterDeleted => state with { Deleted = true },
        _ => state,
    };

    private static string Name(ClusterCommand command) => command switch
    {
        ConfigureCluster => "configure-cluster",
        AddAffinityRule => "add-affinity-rule",
        RemoveAffinityRule => "remove-affinity-rule",
        ApplyRecommendation => "apply-recommendation",
        DismissRecommendation => "dismiss-recommendation",
        DeleteCluster => "delete-cluster",
        _ => command.GetType().Name,
    };

    private static ClusterDecision DecideCreate(CreateCluster command, ClusterState state)
    {
        if (state.Exists)
        {
            return state.Name == command.Name
                ? ClusterDecision.Accept(null)
                : ClusterDecision.Reject(RejectionCode.Conflict, $"command id '{command.Context.CommandId}' already created cluster '{state.Name}'", command: "create-cluster");
        }

        var problems = new List<string>();
        if (ResourceNames.Check("cluster", command.Name) is { } nameProblem)
        {
            problems.Add(nameProblem);
        }

        problems.AddRange(command.Settings.Problems());
        return problems.Count > 0
            ? ClusterDecision.Reject(RejectionCode.Validation, string.Join("; ", problems), command: "create-cluster")
            : ClusterDecision.Accept(null, new ClusterCreated(command.ClusterId, command.Name, command.Settings, command.Context.Now));
    }

    private static ClusterDecision DecideConfigure(ConfigureCluster command, ClusterState state)
    {
        var problems = command.Settings.Problems().ToList();
        if (problems.Count > 0)
        {
            return ClusterDecision.Reject(RejectionCode.Validation, string.Join("; ", problems), command: "configure-cluster");
        }

        if (command.Settings == state.Settings)
        {
            return ClusterDecision.Accept(null);
        }

        var events = new List<ClusterEvent> { new ClusterConfigured(state.ClusterId, command.Settings, command.Context.Now) };
        if (command.Settings.DrsMode == DrsMode.Off)
        {
            // Turning DRS off withdraws what it proposed.
            events.AddRange(state.OpenRecommendations.Keys.Order().Select(id =>
                new DrsRecommendationDismissed(state.ClusterId, id, "DRS was turned off", command.Context.Actor, command.Context.Now)));
        }

        return new ClusterDecision.Accepted(events, null);
    }

    private static ClusterDecision DecideAddRule(AddAffinityRule command, ClusterState state)
    {
        var rule = command.Rule;
        if (state.Rules.Any(r => r.RuleId == rule.RuleId))
        {
            return ClusterDecision.Accept(null);
        }

        string? problem = ResourceNames.Check("rule", rule.Name);
        problem ??= state.Rules.Any(r => r.Name == rule.Name) ? $"cluster '{state.Name}' already has a rule named '{rule.Name}'" : null;
        problem ??= rule.Kind switch
        {
            AffinityKind.VmAffinity or AffinityKind.VmAntiAffinity when rule.VmIds.Distinct().Count() < 2 =>
                "a VM-VM rule needs at least two distinct VMs",
            AffinityKind.HostAffinity or AffinityKind.HostAntiAffinity when rule.VmIds.Count == 0 || rule.HostIds.Count == 0 =>
                "a VM-host rule needs at least one VM and one host",
            _ => null,
        };
        return problem is null
            ? ClusterDecision.Accept(null, new AffinityRuleAdded(state.ClusterId, rule, command.Context.Now))
            : ClusterDecision.Reject(RejectionCode.Validation, problem, command: "add-affinity-rule");
    }

    private static ClusterDecision DecideEvaluation(RecordDrsEvaluation command, ClusterState state)
    {
        if (state.Settings.DrsMode == DrsMode.Off)
        {
            // An evaluation begun before DRS was turned off: what it proposes was withdrawn with it.
            return ClusterDecision.Accept(null);
        }

        var now = command.Context.Now;
        var proposed = command.Proposals.Select(p => (p.VmId, p.FromHostId, p.ToHostId)).ToHashSet();
        var events = new List<ClusterEvent>();
        foreach (var open in state.OpenRecommendations.Values.OrderBy(r => r.RecommendationId))
        {
            if (!proposed.Contains((open.VmId, open.FromHostId, open.ToHostId)))
            {
                events.Add(new DrsRecommendationDismissed(state.ClusterId, open.RecommendationId, "no longer recommended by the latest evaluation", "system:drs", now));
            }
        }

        var openMoves = state.OpenRecommendations.Values.Select(r => (r.VmId, r.FromHostId, r.ToHostId)).ToHashSet();
        events.AddRange(command.Proposals
            .Where(p => !openMoves.Contains((p.VmId, p.FromHostId, p.ToHostId)))
            .DistinctBy(p => (p.VmId, p.FromHostId, p.ToHostId))
            .Select(p => new DrsRecommended(state.ClusterId, p, now)));
        return new ClusterDecision.Accepted(events, null);
    }
}
