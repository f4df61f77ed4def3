namespace Quantixkvm.Domain.Placement;

// TEMPORARY: the same definitions land with the placement pipeline; this file goes when it does.
public enum PlacementStrategy { Spread, Pack }

public enum HostAvailability { Online, Unreachable, Fenced, EnteringMaintenance, InMaintenance, Decommissioned }

public enum AffinityKind { VmAffinity, VmAntiAffinity, HostAffinity, HostAntiAffinity }

public enum RuleEnforcement { Hard, Soft }

public sealed record AffinityRule(Guid RuleId, string Name, AffinityKind Kind, RuleEnforcement Enforcement, IReadOnlyList<Guid> VmIds, IReadOnlyList<Guid> HostIds);

public sealed record HostCandidate(
    Guid HostId, string Name, HostAvailability Availability, Guid? ClusterId,
    int Cpus, long MemoryMiB, int AllocatedVcpus, long AllocatedMemoryMiB,
    double CpuOvercommit, double MemoryOvercommit,
    string CpuModel, IReadOnlySet<string> CpuFeatures,
    IReadOnlyDictionary<string, string> Labels,
    IReadOnlySet<Guid> VmIds);

public sealed record PlacementRequest(
    Guid VmId, int Vcpus, int MemoryMiB,
    Guid? RequestedHostId = null, Guid? ClusterId = null,
    IReadOnlyDictionary<string, string>? RequiredLabels = null,
    IReadOnlySet<string>? RequiredCpuFeatures = null,
    IReadOnlyList<AffinityRule>? Rules = null,
    PlacementStrategy Strategy = PlacementStrategy.Spread,
    IReadOnlySet<Guid>? ExcludedHosts = null,
    string? ExclusionReason = null);

public sealed class PlacementContext;
