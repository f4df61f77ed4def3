using Quantixkvm.Domain.Clusters;
using Quantixkvm.Domain.Placement;

namespace Quantixkvm.Domain.Tests.Support;

/// <summary>The fixed cluster ("prod"), its history, and DRS proposals and affinity rules to give it.</summary>
internal static class Cluster
{
    public const string CommandId = "create-cluster-1";
    public const string Name = "prod";

    public static readonly Guid Id = ClusterDecider.ClusterIdFor(CommandId);

    public static readonly Guid VmA = new("0000000a-0000-4000-8000-000000000001");
    public static readonly Guid VmB = new("0000000a-0000-4000-8000-000000000002");
    public static readonly Guid VmC = new("0000000a-0000-4000-8000-000000000003");

    public static ClusterCreated Created(ClusterSettings? settings = null) => new(Id, Name, settings ?? ClusterSettings.Default, Fixed.Earlier);

    /// <summary>A DRS proposal to move <paramref name="vmId"/>, with the id a given evaluation gives it.</summary>
    public static DrsRecommendation Move(Guid vmId, Guid from, Guid to, string evaluation = "drs-eval-1") => new(
        ClusterDecider.RecommendationIdFor(Id, vmId, from, to, evaluation), vmId, "vm-" + vmId.ToString()[7], from, to,
        ImbalanceBefore: 0.30, ImbalanceAfter: 0.12, "kvm-01 runs at 90% CPU");

    public static DrsRecommended Recommended(DrsRecommendation recommendation) => new(Id, recommendation, Fixed.Earlier);

    public static RecordDrsEvaluation Evaluation(params DrsRecommendation[] proposals) =>
        new(Fixed.Context("drs-eval"), proposals, Imbalance: 0.30);

    public static AffinityRule Rule(
        string name, AffinityKind kind, Guid[] vmIds, Guid[]? hostIds = null, Guid? ruleId = null,
        RuleEnforcement enforcement = RuleEnforcement.Hard) =>
        new(ruleId ?? DeterministicId.From("test-rule", name), name, kind, enforcement, vmIds, hostIds ?? []);
}
