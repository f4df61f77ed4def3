using System.Globalization;
using Quantixkvm.Domain.Placement;

namespace Quantixkvm.Domain.Drs;

/// <summary>A VM as DRS sees it.</summary>
/// <param name="Movable">Running, no operation under way, not excluded by the caller.</param>
public sealed record DrsVm(Guid VmId, string Name, Guid HostId, int Vcpus, int MemoryMiB, bool Movable);

/// <summary>One live migration DRS proposes, with the imbalance before and after it and why, in words.</summary>
public sealed record DrsProposal(
    Guid VmId, string VmName, Guid FromHostId, Guid ToHostId, double ImbalanceBefore, double ImbalanceAfter, string Reason);

/// <summary>
/// Distributed resource scheduling as a pure policy: how unevenly a cluster is loaded, and which migrations
/// would even it out. The caller passes the hosts of one cluster and decides whether to run it at all.
/// </summary>
public static class DrsPolicy
{
    // Improvements closer than this are ties, so the order of the inputs never decides between them.
    private const double Tie = 1e-12;

    /// <summary>
    /// Load of a host: the mean of its CPU and memory demand fractions over its physical capacity (no overcommit):
    /// (allocated vCPUs / CPUs + allocated MiB / MiB) / 2. A host with no CPUs or no memory counts 0 for that part.
    /// </summary>
    public static double LoadOf(HostCandidate host)
    {
        ArgumentNullException.ThrowIfNull(host);
        return LoadOf(host.Cpus, host.MemoryMiB, host.AllocatedVcpus, host.AllocatedMemoryMiB);
    }

    /// <summary>
    /// Imbalance: the population standard deviation of the loads of the Online hosts (0 when fewer than two).
    /// Hosts in any other state are left out.
    /// </summary>
    public static double Imbalance(IReadOnlyList<HostCandidate> hosts)
    {
        ArgumentNullException.ThrowIfNull(hosts);
        var loads = new List<double>(hosts.Count);
        foreach (var host in hosts)
        {
            if (host.Availability == HostAvailability.Online)
            {
                loads.Add(LoadOf(host));
            }
        }

        return StandardDeviation(loads, out _);
    }

    /// <summary>
    /// Up to <paramref name="maxMoves"/> proposals, greedy. Each step considers moving each movable VM off a host loaded
    /// above the mean to each other Online host that passes <see cref="HostPlacement.Check"/> (same cluster, capacity
    /// with overcommit, affinity rules, availability), applies the move that lowers the imbalance most to a working copy,
    /// and repeats. It stops when the imbalance is at or under <paramref name="threshold"/>, when the best move improves
    /// it by less than <paramref name="minImprovement"/>, or when no move helps. Each VM moves at most once per call,
    /// so every proposal stays valid whatever the caller executes first. Only Online hosts are sources or targets.
    /// Deterministic: ties go to the VM name, then the target host name (ordinal), whatever the input order.
    /// Cost per step: O(movable VMs × hosts).
    /// </summary>
    public static IReadOnlyList<DrsProposal> Propose(
        IReadOnlyList<HostCandidate> hosts, IReadOnlyList<DrsVm> vms, IReadOnlyList<AffinityRule> rules,
        double threshold, double minImprovement, int maxMoves)
    {
        ArgumentNullException.ThrowIfNull(hosts);
        ArgumentNullException.ThrowIfNull(vms);
        ArgumentNullException.ThrowIfNull(rules);
        ArgumentOutOfRangeException.ThrowIfNegative(maxMoves);

        // The working copy, in name order so ties are decided by names, not by the caller's order.
        var working = hosts
            .Select(h => h with { VmIds = new HashSet<Guid>(h.VmIds) })
            .OrderBy(h => h.Name, StringComparer.Ordinal).ThenBy(h => h.HostId)
            .ToArray();
        var indexOf = new Dictionary<Guid, int>(working.Length);
        for (var i = 0; i < working.Length; i++)
        {
            indexOf.TryAdd(working[i].HostId, i);
        }

        var online = Enumerable.Range(0, working.Length).Where(i => working[i].Availability == HostAvailability.Online).ToArray();
        if (online.Length < 2 || maxMoves == 0)
        {
            return [];
        }

        var rulesByVm = new Dictionary<Guid, List<AffinityRule>>();
        foreach (var rule in rules)
        {
            foreach (var vm in rule.VmIds.Distinct())
            {
                if (!rulesByVm.TryGetValue(vm, out var list))
                {
                    rulesByVm[vm] = list = [];
                }

                list.Add(rule);
            }
        }

        var candidates = vms
            .Where(vm => vm.Movable && indexOf.ContainsKey(vm.HostId))
            .OrderBy(vm => vm.Name, StringComparer.Ordinal).ThenBy(vm => vm.VmId)
            .ToList();
        var location = candidates.Select(vm => indexOf[vm.HostId]).ToArray();
        var moved = new bool[candidates.Count];

        var proposals = new List<DrsProposal>();
        var loads = new double[working.Length];
        while (proposals.Count < maxMoves)
        {
            double sum = 0, sumOfSquares = 0;
            var onlineLoads = new double[online.Length];
            for (var k = 0; k < online.Length; k++)
            {
                var load = loads[online[k]] = LoadOf(working[online[k]]);
                onlineLoads[k] = load;
                sum += load;
                sumOfSquares += load * load;
            }

            var before = StandardDeviation(onlineLoads, out var mean);
            if (before <= threshold)
            {
                break;
            }

            var n = online.Length;
            var bestVariance = Variance(sum, sumOfSquares, n);
            var best = -1;
            var bestTarget = -1;
            for (var c = 0; c < candidates.Count; c++)
            {
                var source = location[c];
                if (moved[c] || working[source].Availability != HostAvailability.Online || loads[source] <= mean)
                {
                    continue;
                }

                var vm = candidates[c];
                var from = working[source];
                var sourceAfter = LoadOf(from.Cpus, from.MemoryMiB, from.AllocatedVcpus - vm.Vcpus, from.AllocatedMemoryMiB - vm.MemoryMiB);
                PlacementRequest? request = null;
                PlacementContext? context = null;
                foreach (var target in online)
                {
                    if (target == source)
                    {
                        continue;
                    }

                    var to = working[target];
                    var targetAfter = LoadOf(to.Cpus, to.MemoryMiB, to.AllocatedVcpus + vm.Vcpus, to.AllocatedMemoryMiB + vm.MemoryMiB);
                    var variance = Variance(
                        sum - loads[source] - loads[target] + sourceAfter + targetAfter,
                        sumOfSquares - (loads[source] * loads[source]) - (loads[target] * loads[target])
                            + (sourceAfter * sourceAfter) + (targetAfter * targetAfter),
                        n);
                    if (variance >= bestVariance - Tie)
                    {
                        continue;
                    }

                    request ??= new PlacementRequest(
                        vm.VmId, vm.Vcpus, vm.MemoryMiB, ClusterId: from.ClusterId, Rules: rulesByVm.GetValueOrDefault(vm.VmId));
                    context ??= PlacementContext.For(request, working);
                    if (HostPlacement.Check(request, to, context) is not null)
                    {
                        continue;
                    }

                    bestVariance = variance;
                    best = c;
                    bestTarget = target;
                }
            }

            if (best < 0)
            {
                break;
            }

            var chosen = candidates[best];
            var fromIndex = location[best];
            var sourceHost = working[fromIndex];
            var targetHost = working[bestTarget];
            var next = (HostCandidate[])working.Clone();
            next[fromIndex] = Without(sourceHost, chosen);
            next[bestTarget] = With(targetHost, chosen);
            var after = Imbalance(next);
            if (before - after < minImprovement || after >= before)
            {
                break;
            }

            proposals.Add(new DrsProposal(
                chosen.VmId, chosen.Name, sourceHost.HostId, targetHost.HostId, before, after,
                $"host {sourceHost.Name} carries load {Figure(loads[fromIndex])} against a cluster mean of {Figure(mean)}; "
                + $"moving {chosen.Name} ({chosen.Vcpus} vCPUs, {chosen.MemoryMiB} MiB) to {targetHost.Name} "
                + $"lowers the imbalance from {Change(before, after)}"));
            working = next;
            location[best] = bestTarget;
            moved[best] = true;
        }

        return proposals;
    }

    private static string Figure(double value) => value.ToString("0.00", CultureInfo.InvariantCulture);

    /// <summary>"0.29 to 0.12"; with more digits when two would hide the change.</summary>
    private static string Change(double before, double after)
    {
        var format = Figure(before) == Figure(after) ? "0.0000" : "0.00";
        return $"{before.ToString(format, CultureInfo.InvariantCulture)} to {after.ToString(format, CultureInfo.InvariantCulture)}";
    }

    private static HostCandidate Without(HostCandidate host, DrsVm vm)
    {
        var vmIds = new HashSet<Guid>(host.VmIds);
        vmIds.Remove(vm.VmId);
        return host with
        {
            AllocatedVcpus = host.AllocatedVcpus - vm.Vcpus,
            AllocatedMemoryMiB = host.AllocatedMemoryMiB - vm.MemoryMiB,
            VmIds = vmIds,
        };
    }

    private static HostCandidate With(HostCandidate host, DrsVm vm)
    {
        var vmIds = new HashSet<Guid>(host.VmIds) { vm.VmId };
        return host with
        {
            AllocatedVcpus = host.AllocatedVcpus + vm.Vcpus,
            AllocatedMemoryMiB = host.AllocatedMemoryMiB + vm.MemoryMiB,
            VmIds = vmIds,
        };
    }

    private static double LoadOf(int cpus, long memoryMiB, long allocatedVcpus, long allocatedMemoryMiB) =>
        ((cpus > 0 ? (double)allocatedVcpus / cpus : 0) + (memoryMiB > 0 ? (double)allocatedMemoryMiB / memoryMiB : 0)) / 2;

    private static double Variance(double sum, double sumOfSquares, int count)
    {
        var mean = sum / count;
        return Math.Max(0, (sumOfSquares / count) - (mean * mean));
    }

    private static double StandardDeviation(IReadOnlyList<double> values, out double mean)
    {
        mean = 0;
        if (values.Count == 0)
        {
            return 0;
        }

        foreach (var value in values)
        {
            mean += value;
        }

        mean /= values.Count;
        if (values.Count < 2)
        {
            return 0;
        }

        double squares = 0;
        foreach (var value in values)
        {
            squares += (value - mean) * (value - mean);
        }

        return Math.Sqrt(squares / values.Count);
    }
}
