namespace Quantixkvm.Domain.Placement;

/// <summary>
/// How a host that passed every filter ranks; higher is better, compared field by field:
/// first the affinity score (soft rules, and for hard VM affinity how many of the rule's VMs the host holds),
/// then the strategy's two measures. Placement breaks what is still tied by host name (ordinal).
/// </summary>
public readonly record struct HostWeight(int AffinityScore, double Primary, double Secondary) : IComparable<HostWeight>
{
    public int CompareTo(HostWeight other)
    {
        var byAffinity = AffinityScore.CompareTo(other.AffinityScore);
        if (byAffinity != 0)
        {
            return byAffinity;
        }

        var byPrimary = Primary.CompareTo(other.Primary);
        return byPrimary != 0 ? byPrimary : Secondary.CompareTo(other.Secondary);
    }

    public static bool operator >(HostWeight left, HostWeight right) => left.CompareTo(right) > 0;

    public static bool operator <(HostWeight left, HostWeight right) => left.CompareTo(right) < 0;

    public static bool operator >=(HostWeight left, HostWeight right) => left.CompareTo(right) >= 0;

    public static bool operator <=(HostWeight left, HostWeight right) => left.CompareTo(right) <= 0;
}

/// <summary>The weighers: constant time per host, pure.</summary>
public static class PlacementWeighers
{
    public static HostWeight Weigh(PlacementRequest request, HostCandidate host, PlacementContext context)
    {
        ArgumentNullException.ThrowIfNull(request);
        ArgumentNullException.ThrowIfNull(host);
        ArgumentNullException.ThrowIfNull(context);
        var affinity = AffinityScore(host, context);
        return request.Strategy == PlacementStrategy.Pack
            ? new HostWeight(affinity, -FreeMemoryAfterMiB(request, host), -FreeVcpusAfter(request, host))
            : new HostWeight(affinity, FreeMemoryFractionAfter(request, host), FreeVcpuFractionAfter(request, host));
    }

    /// <summary>
    /// Soft rules tip the balance: +1 per other VM of a soft affinity rule on the host (and of a hard one, so the host
    /// holding most of the group wins), −1 per other VM of a soft anti-affinity rule on it, +1 for a soft host-affinity
    /// rule that lists the host, −1 for a soft host-anti-affinity rule that lists it. Hard rules are filters, never scores.
    /// </summary>
    public static int AffinityScore(HostCandidate host, PlacementContext context)
    {
        ArgumentNullException.ThrowIfNull(host);
        ArgumentNullException.ThrowIfNull(context);
        if (context.Rules.Length == 0)
        {
            return 0;
        }

        var score = 0;
        var holdsOthers = context.Holders.Contains(host.HostId);
        foreach (var view in context.Rules)
        {
            switch (view.Rule.Kind)
            {
                case AffinityKind.VmAffinity when holdsOthers:
                    score += view.OthersOn(host.HostId);
                    break;
                case AffinityKind.VmAntiAffinity when holdsOthers && !view.IsHard:
                    score -= view.OthersOn(host.HostId);
                    break;
                case AffinityKind.HostAffinity when !view.IsHard && view.Hosts.Contains(host.HostId):
                    score += 1;
                    break;
                case AffinityKind.HostAntiAffinity when !view.IsHard && view.Hosts.Contains(host.HostId):
                    score -= 1;
                    break;
                default:
                    break;
            }
        }

        return score;
    }

    /// <summary>Spread: the share of the host's memory capacity (with overcommit) still free once the VM is on it.</summary>
    public static double FreeMemoryFractionAfter(PlacementRequest request, HostCandidate host)
    {
        ArgumentNullException.ThrowIfNull(host);
        var capacity = host.MemoryCapacityMiB;
        return capacity <= 0 ? 0 : (double)FreeMemoryAfterMiB(request, host) / capacity;
    }

    /// <summary>Spread, second: the share of the host's vCPU capacity (with overcommit) still free once the VM is on it.</summary>
    public static double FreeVcpuFractionAfter(PlacementRequest request, HostCandidate host)
    {
        ArgumentNullException.ThrowIfNull(host);
        var capacity = host.VcpuCapacity;
        return capacity <= 0 ? 0 : (double)FreeVcpusAfter(request, host) / capacity;
    }

    /// <summary>Pack: memory left on the host (with overcommit) once the VM is on it; the least wins.</summary>
    public static long FreeMemoryAfterMiB(PlacementRequest request, HostCandidate host)
    {
        ArgumentNullException.ThrowIfNull(request);
        ArgumentNullException.ThrowIfNull(host);
        return host.MemoryCapacityMiB - host.AllocatedMemoryMiB - request.MemoryMiB;
    }

    /// <summary>Pack, second: vCPUs left on the host (with overcommit) once the VM is on it; the fewest win.</summary>
    public static long FreeVcpusAfter(PlacementRequest request, HostCandidate host)
    {
        ArgumentNullException.ThrowIfNull(request);
        ArgumentNullException.ThrowIfNull(host);
        return host.VcpuCapacity - host.AllocatedVcpus - request.Vcpus;
    }
}
