namespace Quantixkvm.Domain.Placement;

/// <summary>Why one host was not chosen: the filter that rejected it, in words an operator can act on.</summary>
public sealed record HostRejection(Guid HostId, string HostName, string Filter, string Reason);

public sealed record PlacementResult(Guid? HostId, IReadOnlyList<HostRejection> Rejections)
{
    public string Explain() => Rejections.Count == 0
        ? "there are no registered hosts"
        : string.Join("; ", Rejections.Select(r => $"{r.HostName}: {r.Filter}: {r.Reason}"));
}

/// <summary>
/// The spine's placement: the requested host if it passes the filters, otherwise the online host
/// with the most free memory. One pass over the hosts; every rejection is kept with its reason.
/// </summary>
public static class HostPlacement
{
    public static PlacementResult Place(PlacementRequest request, IReadOnlyList<HostCandidate> hosts)
    {
        var rejections = new List<HostRejection>();
        HostCandidate? best = null;
        foreach (var host in hosts)
        {
            var reason = Reject(request, host);
            if (reason is { } r)
            {
                rejections.Add(r);
            }
            else if (best is null || FreeMemory(host) > FreeMemory(best)
                     || (FreeMemory(host) == FreeMemory(best) && string.CompareOrdinal(host.Name, best.Name) < 0))
            {
                best = host;
            }
        }

        return new PlacementResult(best?.HostId, rejections);
    }

    public static HostRejection? Check(PlacementRequest request, HostCandidate host, PlacementContext context) => Reject(request, host);

    private static long FreeMemory(HostCandidate host) => host.MemoryMiB - host.AllocatedMemoryMiB;

    private static HostRejection? Reject(PlacementRequest request, HostCandidate host)
    {
        if (request.RequestedHostId is { } wanted && wanted != host.HostId)
        {
            return new(host.HostId, host.Name, "requested-host", "not the requested host");
        }

        if (host.Availability != HostAvailability.Online)
        {
            return new(host.HostId, host.Name, "online", "the host's agent is not sending heartbeats");
        }

        if (request.Vcpus > host.Cpus)
        {
            return new(host.HostId, host.Name, "cpu", $"the VM needs {request.Vcpus} vCPUs; the host has {host.Cpus} CPUs");
        }

        if (request.MemoryMiB > FreeMemory(host))
        {
            return new(host.HostId, host.Name, "memory",
                $"the VM needs {request.MemoryMiB} MiB; {FreeMemory(host)} MiB of {host.MemoryMiB} MiB are free");
        }

        return null;
    }
}
