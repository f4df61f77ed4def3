using System.Globalization;

namespace Quantixkvm.Domain.Placement;

/// <summary>
/// The filters, in the order they run. Each one answers for one host in constant time (given the
/// <see cref="PlacementContext"/>): null when the host passes, otherwise the reason in words an
/// operator can act on. The first filter that rejects a host is the one reported.
/// </summary>
public static class PlacementFilters
{
    public const string RequestedHost = "requested-host";
    public const string Excluded = "excluded";
    public const string Availability = "availability";
    public const string Cluster = "cluster";
    public const string Labels = "labels";
    public const string CpuFeatures = "cpu-features";
    public const string Cpu = "cpu";
    public const string Memory = "memory";
    public const string Affinity = "affinity";

    /// <summary>The filter names, in the order they run.</summary>
    public static IReadOnlyList<string> InOrder { get; } =
        [RequestedHost, Excluded, Availability, Cluster, Labels, CpuFeatures, Cpu, Memory, Affinity];

    private const int NamesShown = 3;

    /// <summary>When the request names a host, every other host is out.</summary>
    public static string? RequestedHostFilter(PlacementRequest request, HostCandidate host, PlacementContext context) =>
        request.RequestedHostId is { } wanted && wanted != host.HostId ? context.RequestedHostReason : null;

    /// <summary>Hosts the caller rules out: the migration source, a fenced host.</summary>
    public static string? ExcludedFilter(PlacementRequest request, HostCandidate host, PlacementContext context) =>
        request.ExcludedHosts is { Count: > 0 } excluded && excluded.Contains(host.HostId) ? context.ExclusionReason : null;

    /// <summary>Only an online host takes VMs; a host entering maintenance takes no new ones.</summary>
    public static string? AvailabilityFilter(HostCandidate host) => host.Availability switch
    {
        HostAvailability.Online => null,
        HostAvailability.Unreachable => "the host's agent is not sending heartbeats",
        HostAvailability.Fenced => "the host is fenced and takes no VMs until it is brought back",
        HostAvailability.EnteringMaintenance or HostAvailability.InMaintenance => "the host is in maintenance",
        HostAvailability.Decommissioned => "the host is decommissioned",
        _ => $"the host's availability is {host.Availability}",
    };

    /// <summary>When the request names a cluster, hosts of other clusters (or of none) are out.</summary>
    public static string? ClusterFilter(PlacementRequest request, HostCandidate host) =>
        request.ClusterId is not { } wanted || host.ClusterId == wanted ? null
        : host.ClusterId is { } actual ? $"the host is in cluster {actual}, not in the requested cluster {wanted}"
        : $"the host is in no cluster; the request asks for cluster {wanted}";

    /// <summary>
    /// Every required label key=value must be on the host; the reason names each one missing or different,
    /// e.g. "the request needs label disk=ssd (the host has disk=hdd) and label zone=eu-1 (the host has no zone label)".
    /// </summary>
    public static string? LabelsFilter(HostCandidate host, PlacementContext context)
    {
        List<string>? problems = null;
        foreach (var (key, value) in context.RequiredLabels)
        {
            if (!host.Labels.TryGetValue(key, out var actual))
            {
                (problems ??= []).Add($"label {key}={value} (the host has no {key} label)");
            }
            else if (!string.Equals(actual, value, StringComparison.Ordinal))
            {
                (problems ??= []).Add($"label {key}={value} (the host has {key}={actual})");
            }
        }

        return problems switch
        {
            null => null,
            [var only] => $"the request needs {only}",
            _ => $"the request needs {string.Join(", ", problems.Take(problems.Count - 1))} and {problems[^1]}",
        };
    }

    /// <summary>Every required CPU feature must be offered by the host's CPU; the reason names the first few it lacks.</summary>
    public static string? CpuFeaturesFilter(HostCandidate host, PlacementContext context)
    {
        List<string>? missing = null;
        foreach (var feature in context.RequiredCpuFeatures)
        {
            if (!host.CpuFeatures.Contains(feature))
            {
                (missing ??= []).Add(feature);
            }
        }

        if (missing is null)
        {
            return null;
        }

        var named = string.Join(", ", missing.Take(NamesShown));
        var more = missing.Count > NamesShown ? $" and {missing.Count - NamesShown} more" : "";
        return $"the host's CPU ({host.CpuModel}) lacks {named}{more}";
    }

    /// <summary>
    /// A VM never has more vCPUs than the host has CPUs, and the host's allocated vCPUs plus the VM's stay within
    /// its CPUs times the cluster's CPU overcommit.
    /// </summary>
    public static string? CpuFilter(PlacementRequest request, HostCandidate host)
    {
        if (request.Vcpus > host.Cpus)
        {
            return $"the VM needs {request.Vcpus} vCPUs; the host has {host.Cpus} CPUs";
        }

        var capacity = host.VcpuCapacity;
        if (host.AllocatedVcpus + (long)request.Vcpus <= capacity)
        {
            return null;
        }

        return $"the VM needs {request.Vcpus} vCPUs; {host.AllocatedVcpus} of {capacity} vCPUs are allocated"
            + (host.CpuOvercommit == 1.0 ? $" ({host.Cpus} CPUs, no overcommit)" : $" ({host.Cpus} CPUs × overcommit {Ratio(host.CpuOvercommit)})");
    }

    /// <summary>The host's allocated memory plus the VM's stays within its memory times the cluster's memory overcommit.</summary>
    public static string? MemoryFilter(PlacementRequest request, HostCandidate host)
    {
        var capacity = host.MemoryCapacityMiB;
        var free = capacity - host.AllocatedMemoryMiB;
        if (request.MemoryMiB <= free)
        {
            return null;
        }

        return $"the VM needs {request.MemoryMiB} MiB; {Math.Max(free, 0)} MiB of {capacity} MiB are free"
            + (host.MemoryOvercommit == 1.0 ? "" : $" ({host.MemoryMiB} MiB × overcommit {Ratio(host.MemoryOvercommit)})");
    }

    /// <summary>
    /// Hard rules that name the VM: apart from the other VMs of an anti-affinity rule; with the other VMs of an
    /// affinity rule once any of them is placed; on the hosts of a host-affinity rule; off those of a host-anti-affinity rule.
    /// Soft rules never reject; they weigh (see <see cref="PlacementWeighers"/>).
    /// </summary>
    public static string? AffinityFilter(HostCandidate host, PlacementContext context)
    {
        if (context.Rules.Length == 0)
        {
            return null;
        }

        var holdsOthers = context.Holders.Contains(host.HostId);
        foreach (var view in context.Rules)
        {
            if (!view.IsHard)
            {
                continue;
            }

            var rule = view.Rule;
            switch (rule.Kind)
            {
                case AffinityKind.VmAntiAffinity when holdsOthers && view.OthersByHost.TryGetValue(host.HostId, out var together):
                    return together.Count == 1
                        ? $"rule '{rule.Name}' keeps this VM apart from VM {together[0]}, which is on this host"
                        : $"rule '{rule.Name}' keeps this VM apart from VMs {string.Join(", ", together.Take(NamesShown))}"
                          + (together.Count > NamesShown ? $" and {together.Count - NamesShown} more" : "") + ", which are on this host";
                case AffinityKind.VmAffinity when view.OthersByHost.Count > 0 && !(holdsOthers && view.OthersByHost.ContainsKey(host.HostId)):
                    return $"rule '{rule.Name}' keeps this VM with its other VMs, which are on "
                        + string.Join(", ", view.HolderNames.Take(NamesShown))
                        + (view.HolderNames.Count > NamesShown ? $" and {view.HolderNames.Count - NamesShown} more hosts" : "");
                case AffinityKind.HostAffinity when !view.Hosts.Contains(host.HostId):
                    return view.Hosts.Count == 1
                        ? $"rule '{rule.Name}' keeps this VM on its one listed host, and this is not it"
                        : $"rule '{rule.Name}' keeps this VM on its {view.Hosts.Count} listed hosts, and this host is not one of them";
                case AffinityKind.HostAntiAffinity when view.Hosts.Contains(host.HostId):
                    return $"rule '{rule.Name}' keeps this VM off this host";
                default:
                    break;
            }
        }

        return null;
    }

    private static string Ratio(double ratio) => ratio.ToString("0.##", CultureInfo.InvariantCulture);
}
