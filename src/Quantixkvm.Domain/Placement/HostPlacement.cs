namespace Quantixkvm.Domain.Placement;

/// <summary>
/// Placement: filters, then weighers. One pass over the hosts builds the <see cref="PlacementContext"/>, one more
/// filters and weighs them, keeping the best so far; nothing sorts the hosts, so a fleet of ten thousand costs two
/// linear passes. Every rejected host is kept with the first filter that rejected it and why.
/// </summary>
public static class HostPlacement
{
    public static PlacementResult Place(PlacementRequest request, IReadOnlyList<HostCandidate> hosts)
    {
        ArgumentNullException.ThrowIfNull(request);
        ArgumentNullException.ThrowIfNull(hosts);

        var context = PlacementContext.For(request, hosts);
        var rejections = new List<HostRejection>();
        HostCandidate? best = null;
        var bestWeight = default(HostWeight);
        for (var i = 0; i < hosts.Count; i++)
        {
            var host = hosts[i];
            if (CheckFor(request, host, context) is { } rejection)
            {
                rejections.Add(rejection);
                continue;
            }

            var weight = PlacementWeighers.Weigh(request, host, context);
            var order = best is null ? 1 : weight.CompareTo(bestWeight);
            if (order > 0 || (order == 0 && string.CompareOrdinal(host.Name, best!.Name) < 0))
            {
                best = host;
                bestWeight = weight;
            }
        }

        return new PlacementResult(best?.HostId, rejections);
    }

    /// <summary>The first filter that rejects this host, or null: for migration prechecks and DRS.</summary>
    public static HostRejection? Check(PlacementRequest request, HostCandidate host, PlacementContext context)
    {
        ArgumentNullException.ThrowIfNull(request);
        ArgumentNullException.ThrowIfNull(host);
        ArgumentNullException.ThrowIfNull(context);
        context.EnsureFor(request);
        return CheckFor(request, host, context);
    }

    private static HostRejection? CheckFor(PlacementRequest request, HostCandidate host, PlacementContext context)
    {
        if (PlacementFilters.RequestedHostFilter(request, host, context) is { } requested)
        {
            return Rejection(host, PlacementFilters.RequestedHost, requested);
        }

        if (PlacementFilters.ExcludedFilter(request, host, context) is { } excluded)
        {
            return Rejection(host, PlacementFilters.Excluded, excluded);
        }

        if (PlacementFilters.AvailabilityFilter(host) is { } availability)
        {
            return Rejection(host, PlacementFilters.Availability, availability);
        }

        if (PlacementFilters.ClusterFilter(request, host) is { } cluster)
        {
            return Rejection(host, PlacementFilters.Cluster, cluster);
        }

        if (PlacementFilters.LabelsFilter(host, context) is { } labels)
        {
            return Rejection(host, PlacementFilters.Labels, labels);
        }

        if (PlacementFilters.CpuFeaturesFilter(host, context) is { } features)
        {
            return Rejection(host, PlacementFilters.CpuFeatures, features);
        }

        if (PlacementFilters.CpuFilter(request, host) is { } cpu)
        {
            return Rejection(host, PlacementFilters.Cpu, cpu);
        }

        if (PlacementFilters.MemoryFilter(request, host) is { } memory)
        {
            return Rejection(host, PlacementFilters.Memory, memory);
        }

        if (PlacementFilters.AffinityFilter(host, context) is { } affinity)
        {
            return Rejection(host, PlacementFilters.Affinity, affinity);
        }

        return null;
    }

    private static HostRejection Rejection(HostCandidate host, string filter, string reason) => new(host.HostId, host.Name, filter, reason);
}
