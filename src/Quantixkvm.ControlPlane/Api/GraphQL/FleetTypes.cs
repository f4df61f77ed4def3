using GraphQL;
using GraphQL.Types;
using Marten;
using Quantixkvm.ControlPlane.Fleet;
using Quantixkvm.ControlPlane.ReadModels;
using Quantixkvm.Domain.Clusters;
using Quantixkvm.Domain.Drs;
using Quantixkvm.Domain.Hosts;
using Quantixkvm.Domain.Placement;
using Quantixkvm.Domain.Vms;

namespace Quantixkvm.ControlPlane.Api.GraphQL;

public sealed class MaintenanceStateType : EnumerationGraphType<MaintenanceState>
{
    public MaintenanceStateType() => Description = "NONE; ENTERING while the host is evacuated (no new VMs); IN_MAINTENANCE once empty.";
}

public sealed class DrsModeType : EnumerationGraphType<DrsMode>;

public sealed class PlacementStrategyType : EnumerationGraphType<PlacementStrategy>
{
    public PlacementStrategyType() => Description = "SPREAD: the host with the largest free share; PACK: the fullest host that still fits.";
}

public sealed class AffinityKindType : EnumerationGraphType<AffinityKind>
{
    public AffinityKindType() => Description = "VM_AFFINITY / VM_ANTI_AFFINITY: the rule's VMs together / apart; HOST_AFFINITY / HOST_ANTI_AFFINITY: on / off the rule's hosts.";
}

public sealed class RuleEnforcementType : EnumerationGraphType<RuleEnforcement>
{
    public RuleEnforcementType() => Description = "HARD: placement never breaks it; SOFT: placement prefers hosts that keep it.";
}

public sealed class MigrationModeType : EnumerationGraphType<MigrationMode>;

public sealed class MigrationStatusType : EnumerationGraphType<MigrationStatus>;

public sealed class HaPriorityType : EnumerationGraphType<HaPriority>
{
    public HaPriorityType() => Description = "HA restart order after a host failure; DISABLED VMs stay on the failed host.";
}

public sealed class RecommendationStatusType : EnumerationGraphType<RecommendationStatus>;

public sealed record Label(string Key, string Value);

public sealed class LabelType : ObjectGraphType<Label>
{
    public LabelType()
    {
        Field(l => l.Key);
        Field(l => l.Value);
    }
}

public sealed class LabelInputType : InputObjectGraphType<Label>
{
    public LabelInputType()
    {
        Name = "LabelInput";
        Field<NonNullGraphType<StringGraphType>>("key");
        Field<NonNullGraphType<StringGraphType>>("value");
    }

    public override object ParseDictionary(IDictionary<string, object?> value) => new Label((string)value["key"]!, (string)value["value"]!);
}

/// <summary>Capacity and what is allocated, with the cluster's overcommit applied.</summary>
public sealed record HostAllocation(int AllocatedVcpus, long AllocatedMemoryMiB, long VcpuCapacity, long MemoryCapacityMiB, double Load);

public sealed class HostAllocationType : ObjectGraphType<HostAllocation>
{
    public HostAllocationType()
    {
        Description = "What the host's VMs take (every VM placed there, running or not) against its capacity with the cluster's overcommit; "
            + "load is DRS's measure (running VMs over physical capacity).";
        Field<NonNullGraphType<IntGraphType>>("allocatedVcpus").Resolve(c => c.Source.AllocatedVcpus);
        Field<NonNullGraphType<FloatGraphType>>("allocatedMemoryMiB").Resolve(c => c.Source.AllocatedMemoryMiB);
        Field<NonNullGraphType<FloatGraphType>>("vcpuCapacity").Resolve(c => c.Source.VcpuCapacity);
        Field<NonNullGraphType<FloatGraphType>>("memoryCapacityMiB").Resolve(c => c.Source.MemoryCapacityMiB);
        Field<NonNullGraphType<FloatGraphType>>("load").Resolve(c => c.Source.Load);
    }
}

public sealed class HostFencingType : ObjectGraphType<HostFencing>
{
    public HostFencingType()
    {
        Name = "HostFencing";
        Description = "The fencers HA tries, in order, before it restarts the host's VMs elsewhere. Passwords are named secrets, never shown.";
        Field<NonNullGraphType<ListGraphType<NonNullGraphType<StringGraphType>>>>("order").Resolve(c => c.Source.Order);
        Field<StringGraphType>("redfishEndpoint").Resolve(c => c.Source.Redfish?.Endpoint);
        Field<StringGraphType>("redfishSystemId").Resolve(c => c.Source.Redfish?.SystemId);
        Field<StringGraphType>("redfishUsername").Resolve(c => c.Source.Redfish?.Username);
        Field<StringGraphType>("ipmiAddress").Resolve(c => c.Source.Ipmi?.Address);
        Field<StringGraphType>("ipmiUsername").Resolve(c => c.Source.Ipmi?.Username);
    }
}

public sealed class StuckVmType : ObjectGraphType<StuckVm>
{
    public StuckVmType()
    {
        Description = "A VM maintenance could not move, and why.";
        Field<NonNullGraphType<IdGraphType>>("vmId").Resolve(c => c.Source.VmId);
        Field<NonNullGraphType<StringGraphType>>("vmName").Resolve(c => c.Source.VmName);
        Field<NonNullGraphType<StringGraphType>>("reason").Resolve(c => c.Source.Reason);
    }
}

public sealed class HostRejectionType : ObjectGraphType<HostRejection>
{
    public HostRejectionType()
    {
        Description = "Why placement did not choose a host: the first filter that rejected it, in words.";
        Field<NonNullGraphType<IdGraphType>>("hostId").Resolve(c => c.Source.HostId);
        Field<NonNullGraphType<StringGraphType>>("hostName").Resolve(c => c.Source.HostName);
        Field<NonNullGraphType<StringGraphType>>("filter").Resolve(c => c.Source.Filter);
        Field<NonNullGraphType<StringGraphType>>("reason").Resolve(c => c.Source.Reason);
    }
}

public sealed class PlacementExplanationType : ObjectGraphType<PlacementResult>
{
    public PlacementExplanationType()
    {
        Name = "PlacementExplanation";
        Description = "A placement decision: the chosen host (null when none fits) and, for every other host, why not.";
        Field<HostType>("host").ResolveAsync(async c => c.Source.HostId is { } id
            ? await c.RequestServices!.GetRequiredService<HostDirectory>().FindAsync(id, c.CancellationToken)
            : null);
        Field<NonNullGraphType<ListGraphType<NonNullGraphType<HostRejectionType>>>>("rejections").Resolve(c => c.Source.Rejections);
        Field<NonNullGraphType<StringGraphType>>("explanation").Resolve(c => c.Source.HostId is null ? c.Source.Explain() : "placed");
    }
}

public sealed class AffinityRuleType : ObjectGraphType<AffinityRule>
{
    public AffinityRuleType()
    {
        Field<NonNullGraphType<IdGraphType>>("id").Resolve(c => c.Source.RuleId);
        Field(r => r.Name);
        Field<NonNullGraphType<AffinityKindType>>("kind").Resolve(c => c.Source.Kind);
        Field<NonNullGraphType<RuleEnforcementType>>("enforcement").Resolve(c => c.Source.Enforcement);
        Field<NonNullGraphType<ListGraphType<NonNullGraphType<IdGraphType>>>>("vmIds").Resolve(c => c.Source.VmIds);
        Field<NonNullGraphType<ListGraphType<NonNullGraphType<IdGraphType>>>>("hostIds").Resolve(c => c.Source.HostIds);
    }
}

public sealed class RecommendationType : ObjectGraphType<RecommendationView>
{
    public RecommendationType()
    {
        Name = "DrsRecommendation";
        Description = "DRS proposes moving a VM: from, to, the imbalance before and after, and why.";
        Field<NonNullGraphType<IdGraphType>>("id").Resolve(c => c.Source.Recommendation.RecommendationId);
        Field<NonNullGraphType<IdGraphType>>("vmId").Resolve(c => c.Source.Recommendation.VmId);
        Field<NonNullGraphType<StringGraphType>>("vmName").Resolve(c => c.Source.Recommendation.VmName);
        Field<NonNullGraphType<IdGraphType>>("fromHostId").Resolve(c => c.Source.Recommendation.FromHostId);
        Field<NonNullGraphType<IdGraphType>>("toHostId").Resolve(c => c.Source.Recommendation.ToHostId);
        Field<NonNullGraphType<FloatGraphType>>("imbalanceBefore").Resolve(c => c.Source.Recommendation.ImbalanceBefore);
        Field<NonNullGraphType<FloatGraphType>>("imbalanceAfter").Resolve(c => c.Source.Recommendation.ImbalanceAfter);
        Field<NonNullGraphType<StringGraphType>>("reason").Resolve(c => c.Source.Recommendation.Reason);
        Field<NonNullGraphType<BooleanGraphType>>("requiresRestart").Resolve(c => c.Source.Recommendation.RequiresRestart);
        Field<NonNullGraphType<RecommendationStatusType>>("status").Resolve(c => c.Source.Status);
        Field<NonNullGraphType<DateTimeOffsetGraphType>>("recommendedAt").Resolve(c => c.Source.RecommendedAt);
        Field<DateTimeOffsetGraphType>("closedAt").Resolve(c => c.Source.ClosedAt);
        Field<StringGraphType>("closedBy").Resolve(c => c.Source.ClosedBy);
        Field<StringGraphType>("dismissReason").Resolve(c => c.Source.DismissReason);
    }
}

public sealed class ClusterType : ObjectGraphType<ClusterView>
{
    public ClusterType()
    {
        Name = "Cluster";
        Description = "Hosts that share HA, DRS, overcommit and placement policy, and affinity rules.";
        Field<NonNullGraphType<IdGraphType>>("id").Resolve(c => c.Source.Id);
        Field(v => v.Name);
        Field<NonNullGraphType<BooleanGraphType>>("haEnabled").Resolve(c => c.Source.Settings.HaEnabled);
        Field<NonNullGraphType<FloatGraphType>>("hostFailureDetectionSeconds").Resolve(c => c.Source.Settings.HostFailureDetectionSeconds);
        Field<NonNullGraphType<DrsModeType>>("drsMode").Resolve(c => c.Source.Settings.DrsMode);
        Field<NonNullGraphType<FloatGraphType>>("drsThreshold").Resolve(c => c.Source.Settings.DrsThreshold);
        Field<NonNullGraphType<FloatGraphType>>("cpuOvercommit").Resolve(c => c.Source.Settings.CpuOvercommit);
        Field<NonNullGraphType<FloatGraphType>>("memoryOvercommit").Resolve(c => c.Source.Settings.MemoryOvercommit);
        Field<NonNullGraphType<PlacementStrategyType>>("placementStrategy").Resolve(c => c.Source.Settings.PlacementStrategy);
        Field<NonNullGraphType<ListGraphType<NonNullGraphType<AffinityRuleType>>>>("rules").Resolve(c => c.Source.Rules);
        Field<NonNullGraphType<ListGraphType<NonNullGraphType<RecommendationType>>>>("recommendations")
            .Description("Open recommendations first, then the most recent closed ones.")
            .Argument<RecommendationStatusType>("status")
            .Resolve(c => c.GetArgument<RecommendationStatus?>("status") is { } status
                ? c.Source.Recommendations.Where(r => r.Status == status).ToList()
                : c.Source.Recommendations);
        Field<NonNullGraphType<FloatGraphType>>("imbalance")
            .Description("DRS's measure now: the standard deviation of the ONLINE hosts' loads (mean of CPU and memory demand of running VMs over physical capacity).")
            .ResolveAsync(async c =>
            {
                var inputs = await c.RequestServices!.GetRequiredService<HostDirectory>().PlacementInputsAsync(c.CancellationToken);
                return DrsPolicy.Imbalance(DrsEvaluator.Demand(inputs, c.Source.Id).Hosts);
            });
        Field<NonNullGraphType<ListGraphType<NonNullGraphType<HostType>>>>("hosts").ResolveAsync(async c =>
            (await c.RequestServices!.GetRequiredService<HostDirectory>().AllAsync(c.CancellationToken)).Where(h => h.Host.ClusterId == c.Source.Id).ToList());
        Field<NonNullGraphType<IntGraphType>>("version").Resolve(c => (int)c.Source.Version);
    }
}

public sealed class MigrationProgressType : ObjectGraphType<MigrationProgress>
{
    public MigrationProgressType()
    {
        Description = "The source host's last report on the migration job (libvirt's figures).";
        Field<NonNullGraphType<FloatGraphType>>("dataTotalBytes").Resolve(c => c.Source.DataTotalBytes);
        Field<NonNullGraphType<FloatGraphType>>("dataProcessedBytes").Resolve(c => c.Source.DataProcessedBytes);
        Field<NonNullGraphType<FloatGraphType>>("dataRemainingBytes").Resolve(c => c.Source.DataRemainingBytes);
        Field<NonNullGraphType<FloatGraphType>>("percent").Resolve(c => c.Source.Percent);
        Field<NonNullGraphType<FloatGraphType>>("elapsedSeconds").Resolve(c => c.Source.ElapsedSeconds);
        Field<NonNullGraphType<DateTimeOffsetGraphType>>("reportedAt").Resolve(c => c.Source.ReportedAt);
    }
}

public sealed class MigrationType : ObjectGraphType<MigrationUpdate>
{
    public MigrationType()
    {
        Name = "Migration";
        Description = "A move of a VM between hosts: live (memory copied while it runs) or cold; a failure leaves the VM on its source.";
        Field<NonNullGraphType<IdGraphType>>("id").Resolve(c => c.Source.Migration.Id);
        Field<NonNullGraphType<IdGraphType>>("vmId").Resolve(c => c.Source.Migration.VmId);
        Field<NonNullGraphType<IdGraphType>>("fromHostId").Resolve(c => c.Source.Migration.FromHostId);
        Field<NonNullGraphType<IdGraphType>>("toHostId").Resolve(c => c.Source.Migration.ToHostId);
        Field<NonNullGraphType<MigrationModeType>>("mode").Resolve(c => c.Source.Migration.Mode);
        Field<NonNullGraphType<BooleanGraphType>>("restartOnTarget").Resolve(c => c.Source.Migration.RestartOnTarget);
        Field<NonNullGraphType<StringGraphType>>("reason").Resolve(c => c.Source.Migration.Reason);
        Field<NonNullGraphType<StringGraphType>>("actor").Resolve(c => c.Source.Migration.Actor);
        Field<NonNullGraphType<MigrationStatusType>>("status").Resolve(c => c.Source.Migration.Status);
        Field<StringGraphType>("error").Resolve(c => c.Source.Migration.Error);
        Field<NonNullGraphType<DateTimeOffsetGraphType>>("requestedAt").Resolve(c => c.Source.Migration.RequestedAt);
        Field<DateTimeOffsetGraphType>("cancelRequestedAt").Resolve(c => c.Source.Migration.CancelRequestedAt);
        Field<DateTimeOffsetGraphType>("finishedAt").Resolve(c => c.Source.Migration.FinishedAt);
        // Reports come about once a second, so the last one before success is short of the end; success means all was sent.
        Field<MigrationProgressType>("progress").Description("The source host's last report on the job; complete once the migration SUCCEEDED.")
            .Resolve(c => c.Source is { Migration.Status: MigrationStatus.Succeeded, Progress: { } last }
                ? last with { DataProcessedBytes = last.DataTotalBytes, DataRemainingBytes = 0 }
                : c.Source.Progress);
    }

    public static async Task<MigrationUpdate?> LoadAsync(IQuerySession session, Guid id, CancellationToken cancellationToken) =>
        await session.LoadAsync<MigrationView>(id, cancellationToken) is { } migration
            ? new MigrationUpdate(migration, await session.LoadAsync<MigrationProgress>(id, cancellationToken))
            : null;
}

public sealed class DrsEvaluationType : ObjectGraphType<DrsEvaluation>
{
    public DrsEvaluationType()
    {
        Field<NonNullGraphType<FloatGraphType>>("imbalance").Resolve(c => c.Source.Imbalance);
        Field<NonNullGraphType<IntGraphType>>("recommendationCount").Resolve(c => c.Source.Recommendations.Count);
        Field<StringGraphType>("skippedBecause").Description("Why DRS stood aside (HA or maintenance at work), if it did.").Resolve(c => c.Source.SkippedBecause);
    }
}

/// <summary>Cluster settings as a client gives them: omitted ones keep their current (or default) value.</summary>
public sealed record ClusterSettingsInput(
    bool? HaEnabled, double? HostFailureDetectionSeconds, DrsMode? DrsMode, double? DrsThreshold, double? CpuOvercommit, double? MemoryOvercommit,
    PlacementStrategy? PlacementStrategy)
{
    public ClusterSettings Over(ClusterSettings current) => new(
        HaEnabled ?? current.HaEnabled, HostFailureDetectionSeconds ?? current.HostFailureDetectionSeconds, DrsMode ?? current.DrsMode,
        DrsThreshold ?? current.DrsThreshold, CpuOvercommit ?? current.CpuOvercommit, MemoryOvercommit ?? current.MemoryOvercommit,
        PlacementStrategy ?? current.PlacementStrategy);
}

public sealed class ClusterSettingsInputType : InputObjectGraphType<ClusterSettingsInput>
{
    public ClusterSettingsInputType()
    {
        Name = "ClusterSettingsInput";
        Description = "Omitted settings keep their value (defaults: HA on, 15 s detection, DRS MANUAL at 0.1, CPU overcommit 4, memory 1, SPREAD).";
        Field<BooleanGraphType>("haEnabled");
        Field<FloatGraphType>("hostFailureDetectionSeconds").Description("3 to 3600 seconds without heartbeats before a host is unreachable.");
        Field<DrsModeType>("drsMode");
        Field<FloatGraphType>("drsThreshold").Description("0.01 to 1: the imbalance above which DRS recommends moves.");
        Field<FloatGraphType>("cpuOvercommit").Description("1 to 32 vCPUs per physical CPU.");
        Field<FloatGraphType>("memoryOvercommit").Description("1 to 4.");
        Field<PlacementStrategyType>("placementStrategy");
    }

    public override object ParseDictionary(IDictionary<string, object?> value) => new ClusterSettingsInput(
        value.Value("haEnabled") as bool?, Number(value, "hostFailureDetectionSeconds"), value.Value("drsMode") as DrsMode?,
        Number(value, "drsThreshold"), Number(value, "cpuOvercommit"), Number(value, "memoryOvercommit"),
        value.Value("placementStrategy") as PlacementStrategy?);

    private static double? Number(IDictionary<string, object?> value, string key) => value.Value(key) is { } v ? Convert.ToDouble(v, System.Globalization.CultureInfo.InvariantCulture) : null;
}

public sealed record AffinityRuleInput(string Name, AffinityKind Kind, RuleEnforcement Enforcement, IReadOnlyList<string> VmIds, IReadOnlyList<string> HostIds);

public sealed class AffinityRuleInputType : InputObjectGraphType<AffinityRuleInput>
{
    public AffinityRuleInputType()
    {
        Name = "AffinityRuleInput";
        Field<NonNullGraphType<StringGraphType>>("name");
        Field<NonNullGraphType<AffinityKindType>>("kind");
        Field<NonNullGraphType<RuleEnforcementType>>("enforcement");
        Field<ListGraphType<NonNullGraphType<IdGraphType>>>("vmIds");
        Field<ListGraphType<NonNullGraphType<IdGraphType>>>("hostIds").Description("For HOST_AFFINITY and HOST_ANTI_AFFINITY.");
    }

    public override object ParseDictionary(IDictionary<string, object?> value) => new AffinityRuleInput(
        (string)value["name"]!, (AffinityKind)value["kind"]!, (RuleEnforcement)value["enforcement"]!,
        Ids(value.Value("vmIds")), Ids(value.Value("hostIds")));

    private static List<string> Ids(object? raw) => raw is IEnumerable<object?> list ? list.Select(x => x?.ToString() ?? "").ToList() : [];
}

public sealed record FencingInput(
    IReadOnlyList<string> Order, string? RedfishEndpoint, string? RedfishSystemId, string? RedfishUsername, string? RedfishPasswordSecret,
    bool? RedfishVerifyTls, string? IpmiAddress, string? IpmiUsername, string? IpmiPasswordSecret)
{
    public HostFencing ToFencing() => new(
        Order,
        RedfishEndpoint is null ? null : new RedfishFencing(RedfishEndpoint, RedfishSystemId ?? "1", RedfishUsername ?? "", RedfishPasswordSecret ?? "", RedfishVerifyTls ?? true),
        IpmiAddress is null ? null : new IpmiFencing(IpmiAddress, IpmiUsername ?? "", IpmiPasswordSecret ?? ""));
}

public sealed class FencingInputType : InputObjectGraphType<FencingInput>
{
    public FencingInputType()
    {
        Name = "FencingInput";
        Description = "Fencers in order: agent, redfish, ipmi, storage-lease. Passwords are the names of files in the control plane's secrets folder.";
        Field<NonNullGraphType<ListGraphType<NonNullGraphType<StringGraphType>>>>("order");
        Field<StringGraphType>("redfishEndpoint");
        Field<StringGraphType>("redfishSystemId");
        Field<StringGraphType>("redfishUsername");
        Field<StringGraphType>("redfishPasswordSecret");
        Field<BooleanGraphType>("redfishVerifyTls");
        Field<StringGraphType>("ipmiAddress");
        Field<StringGraphType>("ipmiUsername");
        Field<StringGraphType>("ipmiPasswordSecret");
    }

    public override object ParseDictionary(IDictionary<string, object?> value) => new FencingInput(
        value["order"] is IEnumerable<object?> order ? order.Select(o => o?.ToString() ?? "").ToList() : [],
        value.Value("redfishEndpoint") as string, value.Value("redfishSystemId") as string,
        value.Value("redfishUsername") as string, value.Value("redfishPasswordSecret") as string,
        value.Value("redfishVerifyTls") as bool?, value.Value("ipmiAddress") as string,
        value.Value("ipmiUsername") as string, value.Value("ipmiPasswordSecret") as string);
}

public sealed record PlacementQueryInput(int Vcpus, int MemoryMiB, string? ClusterId, string? HostId, IReadOnlyList<Label>? RequiredLabels);

public sealed class PlacementQueryInputType : InputObjectGraphType<PlacementQueryInput>
{
    public PlacementQueryInputType()
    {
        Name = "PlacementInput";
        Field<NonNullGraphType<IntGraphType>>("vcpus");
        Field<NonNullGraphType<IntGraphType>>("memoryMiB");
        Field<IdGraphType>("clusterId");
        Field<IdGraphType>("hostId");
        Field<ListGraphType<NonNullGraphType<LabelInputType>>>("requiredLabels");
    }

    public override object ParseDictionary(IDictionary<string, object?> value) => new PlacementQueryInput(
        (int)value["vcpus"]!, (int)value["memoryMiB"]!, value.Value("clusterId")?.ToString(), value.Value("hostId")?.ToString(),
        value.Value("requiredLabels") is IEnumerable<object?> labels ? labels.OfType<Label>().ToList() : null);
}

internal static class InputValues
{
    /// <summary>An input field's value, or null when the client left it out.</summary>
    public static object? Value(this IDictionary<string, object?> input, string key) => input.TryGetValue(key, out var value) ? value : null;
}

public sealed record FilterCount(string Filter, int Count);

public sealed class FilterCountType : ObjectGraphType<FilterCount>
{
    public FilterCountType()
    {
        Field(f => f.Filter);
        Field(f => f.Count);
    }
}

public sealed class PlacementDecisionType : ObjectGraphType<VmPlaced>
{
    public PlacementDecisionType()
    {
        Name = "PlacementDecision";
        Description = "A recorded placement decision (vm.placed.v1): where the VM went and why the other hosts did not take it.";
        Field<NonNullGraphType<StringGraphType>>("purpose").Description("create, migrate or ha-restart.").Resolve(c => c.Source.Purpose);
        Field<NonNullGraphType<IdGraphType>>("hostId").Resolve(c => c.Source.Placement.HostId);
        Field<NonNullGraphType<StringGraphType>>("hostName").Resolve(c => c.Source.Placement.HostName);
        Field<NonNullGraphType<PlacementStrategyType>>("strategy").Resolve(c => c.Source.Placement.Strategy);
        Field<NonNullGraphType<IntGraphType>>("hostsConsidered").Resolve(c => c.Source.Placement.HostsConsidered);
        Field<NonNullGraphType<ListGraphType<NonNullGraphType<FilterCountType>>>>("rejectedByFilter")
            .Resolve(c => c.Source.Placement.RejectedByFilter.Select(kv => new FilterCount(kv.Key, kv.Value)).ToList());
        Field<NonNullGraphType<ListGraphType<NonNullGraphType<HostRejectionType>>>>("rejections")
            .Description($"The first {PlacementRecord.MaxListed} rejected hosts, each with its filter and reason.").Resolve(c => c.Source.Placement.Rejections);
        Field<NonNullGraphType<BooleanGraphType>>("rejectionsTruncated").Resolve(c => c.Source.Placement.RejectionsTruncated);
        Field<NonNullGraphType<DateTimeOffsetGraphType>>("placedAt").Resolve(c => c.Source.PlacedAt);
    }
}
