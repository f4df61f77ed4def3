namespace Quantixkvm.Domain.Placement;

/// <summary>How placement chooses among the hosts that pass every filter.</summary>
public enum PlacementStrategy
{
    /// <summary>The host left with the largest share of free memory (then of free vCPUs): load spreads out.</summary>
    Spread,

    /// <summary>The host left with the least free memory that still fits: hosts fill up one by one.</summary>
    Pack,
}

/// <summary>Where a host stands for placement.</summary>
public enum HostAvailability
{
    Online,
    Unreachable,
    Fenced,
    EnteringMaintenance,
    InMaintenance,
    Decommissioned,
}

/// <summary>VMs together / apart; VMs on / off the listed hosts.</summary>
public enum AffinityKind
{
    VmAffinity,
    VmAntiAffinity,
    HostAffinity,
    HostAntiAffinity,
}

/// <summary>A hard rule filters hosts out; a soft rule only weighs them.</summary>
public enum RuleEnforcement
{
    Hard,
    Soft,
}

/// <summary>
/// An affinity rule. VM rules relate the VMs in <paramref name="VmIds"/> to each other; host rules
/// keep the VMs in <paramref name="VmIds"/> on (or off) the hosts in <paramref name="HostIds"/>.
/// </summary>
public sealed record AffinityRule(
    Guid RuleId, string Name, AffinityKind Kind, RuleEnforcement Enforcement, IReadOnlyList<Guid> VmIds, IReadOnlyList<Guid> HostIds);

/// <summary>A host as placement sees it: capacity, what is already allocated on it, where it stands, what it offers.</summary>
/// <param name="CpuOvercommit">The host's cluster's vCPU-to-CPU ratio (1.0 = none).</param>
/// <param name="MemoryOvercommit">The host's cluster's memory ratio (1.0 = none).</param>
/// <param name="VmIds">The VMs placed on the host now.</param>
public sealed record HostCandidate(
    Guid HostId, string Name, HostAvailability Availability, Guid? ClusterId,
    int Cpus, long MemoryMiB, int AllocatedVcpus, long AllocatedMemoryMiB,
    double CpuOvercommit, double MemoryOvercommit,
    string CpuModel, IReadOnlySet<string> CpuFeatures,
    IReadOnlyDictionary<string, string> Labels,
    IReadOnlySet<Guid> VmIds)
{
    /// <summary>How many vCPUs the host may carry: its CPUs times the cluster's CPU overcommit, rounded down.</summary>
    public long VcpuCapacity => Overcommitted(Cpus, CpuOvercommit);

    /// <summary>How much memory the host may hand out: its memory times the cluster's memory overcommit, rounded down.</summary>
    public long MemoryCapacityMiB => Overcommitted(MemoryMiB, MemoryOvercommit);

    // The small epsilon keeps 2.3 × 100 at 230 rather than 229.99999999999997.
    private static long Overcommitted(long physical, double ratio) => (long)Math.Floor((physical * ratio) + 1e-6);
}

/// <summary>What a VM needs from a host, and what the caller rules out.</summary>
/// <param name="ExcludedHosts">Hosts never to choose, e.g. the migration source or a fenced host.</param>
/// <param name="ExclusionReason">Said in the rejection of an excluded host.</param>
public sealed record PlacementRequest(
    Guid VmId, int Vcpus, int MemoryMiB,
    Guid? RequestedHostId = null, Guid? ClusterId = null,
    IReadOnlyDictionary<string, string>? RequiredLabels = null,
    IReadOnlySet<string>? RequiredCpuFeatures = null,
    IReadOnlyList<AffinityRule>? Rules = null,
    PlacementStrategy Strategy = PlacementStrategy.Spread,
    IReadOnlySet<Guid>? ExcludedHosts = null,
    string? ExclusionReason = null);

/// <summary>Why one host was not chosen: the filter that rejected it, in words an operator can act on.</summary>
public sealed record HostRejection(Guid HostId, string HostName, string Filter, string Reason);

/// <summary>The chosen host, if any, and every host that was rejected with the first filter it failed.</summary>
public sealed record PlacementResult(Guid? HostId, IReadOnlyList<HostRejection> Rejections)
{
    public string Explain() => Rejections.Count == 0
        ? "there are no registered hosts"
        : string.Join("; ", Rejections.Select(r => $"{r.HostName}: {r.Filter}: {r.Reason}"));
}

/// <summary>
/// A placement decision as it is recorded with the VM (<c>vm.placed.v1</c>): where it went, how many hosts were
/// weighed, how many each filter rejected, and for the first <see cref="MaxListed"/> rejected hosts the filter and
/// reason (a 10,000-host fleet would otherwise write megabytes per decision).
/// </summary>
public sealed record PlacementRecord(
    Guid HostId, string HostName, PlacementStrategy Strategy, int HostsConsidered, IReadOnlyDictionary<string, int> RejectedByFilter,
    IReadOnlyList<HostRejection> Rejections, bool RejectionsTruncated)
{
    public const int MaxListed = 100;

    public static PlacementRecord Of(PlacementResult result, PlacementStrategy strategy, IReadOnlyList<HostCandidate> hosts, Guid chosen)
    {
        var byFilter = new SortedDictionary<string, int>(StringComparer.Ordinal);
        foreach (var rejection in result.Rejections)
        {
            byFilter[rejection.Filter] = byFilter.GetValueOrDefault(rejection.Filter) + 1;
        }

        var name = hosts.FirstOrDefault(h => h.HostId == chosen)?.Name ?? "";
        return new PlacementRecord(
            chosen, name, strategy, hosts.Count, byFilter, [.. result.Rejections.Take(MaxListed)], result.Rejections.Count > MaxListed);
    }
}
