namespace Quantixkvm.Domain.Placement;

/// <summary>
/// What one request needs to know about the whole fleet, worked out once so each filter and weigher
/// answers for a host in constant time: the rules that concern the VM, which hosts hold the other VMs
/// of its VM–VM rules, the host sets of its host rules, and the reasons that read the same for every host.
/// Build it with <see cref="For"/> for one request and one list of hosts; it is stale once either changes.
/// </summary>
public sealed class PlacementContext
{
    private const int FewOtherVms = 8;

    private PlacementContext(
        PlacementRequest request,
        string requestedHostReason,
        string exclusionReason,
        KeyValuePair<string, string>[] requiredLabels,
        string[] requiredCpuFeatures,
        RuleView[] rules,
        HashSet<Guid> holders)
    {
        Holders = holders;
        Request = request;
        RequestedHostReason = requestedHostReason;
        ExclusionReason = exclusionReason;
        RequiredLabels = requiredLabels;
        RequiredCpuFeatures = requiredCpuFeatures;
        Rules = rules;
    }

    /// <summary>The request this context was built for.</summary>
    public PlacementRequest Request { get; }

    /// <summary>The hard and soft rules that name the VM being placed, in the order the request gave them.</summary>
    public IReadOnlyList<AffinityRule> ApplicableRules => Array.ConvertAll(Rules, r => r.Rule);

    internal string RequestedHostReason { get; }

    internal string ExclusionReason { get; }

    /// <summary>Required labels by key, ordinal order, so reasons read the same whatever order the request gave.</summary>
    internal KeyValuePair<string, string>[] RequiredLabels { get; }

    /// <summary>Required CPU features, ordinal order.</summary>
    internal string[] RequiredCpuFeatures { get; }

    internal RuleView[] Rules { get; }

    /// <summary>Every host that holds another VM of any of the request's VM–VM rules: one lookup tells a host holds none.</summary>
    internal HashSet<Guid> Holders { get; }

    /// <summary>The hosts that hold another VM of a VM–VM rule (empty for host rules and for rules that do not name the VM).</summary>
    public IReadOnlyCollection<Guid> HostsHoldingOtherVmsOf(Guid ruleId)
    {
        foreach (var view in Rules)
        {
            if (view.Rule.RuleId == ruleId)
            {
                return view.OthersByHost.Keys;
            }
        }

        return [];
    }

    /// <summary>One pass over the hosts: O(hosts × min(VMs on the host, other VMs named by the request's VM–VM rules)).</summary>
    public static PlacementContext For(PlacementRequest request, IReadOnlyList<HostCandidate> hosts)
    {
        ArgumentNullException.ThrowIfNull(request);
        ArgumentNullException.ThrowIfNull(hosts);

        var requestedHostReason = request.RequestedHostId is { } wanted ? $"not the requested host {wanted}" : "";
        var exclusionReason = string.IsNullOrWhiteSpace(request.ExclusionReason) ? "excluded by the request" : request.ExclusionReason;

        var labels = request.RequiredLabels is { Count: > 0 } required ? required.ToArray() : [];
        Array.Sort(labels, (a, b) => string.CompareOrdinal(a.Key, b.Key));

        var features = request.RequiredCpuFeatures is { Count: > 0 } wantedFeatures ? wantedFeatures.ToArray() : [];
        Array.Sort(features, string.CompareOrdinal);

        var views = new List<RuleView>();
        // other VM → the VM–VM rules (by index in views) that name it alongside the VM being placed
        Dictionary<Guid, List<int>>? others = null;
        foreach (var rule in request.Rules ?? [])
        {
            if (!rule.VmIds.Contains(request.VmId))
            {
                continue;
            }

            var view = new RuleView(rule);
            views.Add(view);
            if (rule.Kind is AffinityKind.VmAffinity or AffinityKind.VmAntiAffinity)
            {
                others ??= [];
                foreach (var vm in rule.VmIds)
                {
                    if (vm == request.VmId)
                    {
                        continue;
                    }

                    if (!others.TryGetValue(vm, out var ruleIndexes))
                    {
                        others[vm] = ruleIndexes = [];
                    }

                    if (!ruleIndexes.Contains(views.Count - 1))
                    {
                        ruleIndexes.Add(views.Count - 1);
                    }
                }
            }
        }

        var rules = views.ToArray();
        var holders = new HashSet<Guid>();
        if (others is { Count: > 0 })
        {
            for (var i = 0; i < hosts.Count; i++)
            {
                var host = hosts[i];
                // Walk the smaller side; enumerating a set through its interface allocates, so only a HashSet is walked.
                if (host.VmIds is HashSet<Guid> set && set.Count <= others.Count)
                {
                    foreach (var vm in set)
                    {
                        if (others.TryGetValue(vm, out var ruleIndexes))
                        {
                            Record(rules, ruleIndexes, host, vm, holders);
                        }
                    }
                }
                else if (others.Count <= FewOtherVms || others.Count <= host.VmIds.Count)
                {
                    foreach (var (vm, ruleIndexes) in others)
                    {
                        if (host.VmIds.Contains(vm))
                        {
                            Record(rules, ruleIndexes, host, vm, holders);
                        }
                    }
                }
                else
                {
                    foreach (var vm in host.VmIds)
                    {
                        if (others.TryGetValue(vm, out var ruleIndexes))
                        {
                            Record(rules, ruleIndexes, host, vm, holders);
                        }
                    }
                }
            }
        }

        return new PlacementContext(request, requestedHostReason, exclusionReason, labels, features, rules, holders);
    }

    private static void Record(RuleView[] rules, List<int> ruleIndexes, HostCandidate host, Guid vm, HashSet<Guid> holders)
    {
        holders.Add(host.HostId);
        foreach (var index in ruleIndexes)
        {
            rules[index].Holds(host, vm);
        }
    }

    internal void EnsureFor(PlacementRequest request)
    {
        if (!Equals(Request, request))
        {
            throw new ArgumentException("the placement context was built for another request; build one with PlacementContext.For", nameof(request));
        }
    }

    /// <summary>One applicable rule with what the filters and weighers ask of it.</summary>
    internal sealed class RuleView(AffinityRule rule)
    {
        public AffinityRule Rule { get; } = rule;

        /// <summary>For host rules: the listed hosts.</summary>
        public HashSet<Guid> Hosts { get; } = rule.Kind is AffinityKind.HostAffinity or AffinityKind.HostAntiAffinity ? [.. rule.HostIds] : [];

        /// <summary>For VM–VM rules: each host that holds other VMs of the rule, and which (in the order found).</summary>
        public Dictionary<Guid, List<Guid>> OthersByHost { get; } = [];

        /// <summary>For VM–VM rules: the names of the hosts in <see cref="OthersByHost"/>, in the order found.</summary>
        public List<string> HolderNames { get; } = [];

        public bool IsHard => Rule.Enforcement == RuleEnforcement.Hard;

        /// <summary>How many other VMs of the rule the host holds.</summary>
        public int OthersOn(Guid hostId) => OthersByHost.TryGetValue(hostId, out var vms) ? vms.Count : 0;

        public void Holds(HostCandidate host, Guid vm)
        {
            if (!OthersByHost.TryGetValue(host.HostId, out var vms))
            {
                OthersByHost[host.HostId] = vms = [];
                HolderNames.Add(host.Name);
            }

            if (!vms.Contains(vm))
            {
                vms.Add(vm);
            }
        }
    }
}
