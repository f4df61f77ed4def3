namespace Quantixkvm.Domain.Placement;

// TEMPORARY: the same definitions land with the placement pipeline; this file goes when it does.
public enum PlacementStrategy { Spread, Pack }

public enum AffinityKind { VmAffinity, VmAntiAffinity, HostAffinity, HostAntiAffinity }

public enum RuleEnforcement { Hard, Soft }

public sealed record AffinityRule(Guid RuleId, string Name, AffinityKind Kind, RuleEnforcement Enforcement, IReadOnlyList<Guid> VmIds, IReadOnlyList<Guid> HostIds);
