using BenchmarkDotNet.Attributes;
using Quantixkvm.Domain.Drs;
using Quantixkvm.Domain.Placement;

namespace Quantixkvm.Bench;

/// <summary>
/// Placing one VM over a fleet of 1,000 and 10,000 hosts (the aim: p99 ≤ 2 ms at 10,000), plain, with labels,
/// and with hard and soft affinity rules; and one DRS evaluation of a 100-host cluster. Hosts are generated with a fixed
/// seed: varied sizes and allocations, a few unreachable or in maintenance, labels on some.
/// </summary>
[MemoryDiagnoser]
public class PlacementBenchmarks
{
    private IReadOnlyList<HostCandidate> _hosts = [];
    private PlacementRequest _plain = null!;
    private PlacementRequest _labelled = null!;
    private PlacementRequest _withRules = null!;
    private IReadOnlyList<HostCandidate> _cluster = [];
    private IReadOnlyList<DrsVm> _clusterVms = [];

    [Params(1_000, 10_000)]
    public int Hosts { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        var random = new Random(42);
        var hosts = new List<HostCandidate>(Hosts);
        var vmsOf = new List<Guid>[Hosts];
        for (var i = 0; i < Hosts; i++)
        {
            var cpus = random.Next(2) == 0 ? 32 : 64;
            var memory = cpus * 8192L;
            vmsOf[i] = Enumerable.Range(0, random.Next(0, 20)).Select(_ => Guid.NewGuid()).ToList();
            var availability = random.Next(100) switch { 0 => HostAvailability.Unreachable, 1 => HostAvailability.InMaintenance, _ => HostAvailability.Online };
            var labels = new Dictionary<string, string> { ["rack"] = $"r{i % 40}" };
            if (i % 3 == 0)
            {
                labels["ssd"] = "true";
            }

            hosts.Add(new HostCandidate(
                Guid.NewGuid(), $"kvm-{i:D5}", availability, null, cpus, memory, vmsOf[i].Count * 2, (long)(memory * random.NextDouble() * 0.9),
                4, 1, "EPYC", new HashSet<string> { "avx2", "aes" }, labels, vmsOf[i].ToHashSet()));
        }

        _hosts = hosts;
        var vmId = Guid.NewGuid();
        _plain = new PlacementRequest(vmId, 4, 8192);
        _labelled = _plain with { RequiredLabels = new Dictionary<string, string> { ["ssd"] = "true" }, RequiredCpuFeatures = new HashSet<string> { "avx2" } };
        var group = Enumerable.Range(0, 10).Select(i => vmsOf[i * 7 % Hosts].FirstOrDefault()).Where(id => id != Guid.Empty).Append(vmId).ToList();
        _withRules = _plain with
        {
            Rules =
            [
                new AffinityRule(Guid.NewGuid(), "apart", AffinityKind.VmAntiAffinity, RuleEnforcement.Hard, group, []),
                new AffinityRule(Guid.NewGuid(), "near", AffinityKind.VmAffinity, RuleEnforcement.Soft, group.Take(3).Append(vmId).ToList(), []),
            ],
        };

        _cluster = hosts.Take(100).Select(h => h with { Availability = HostAvailability.Online }).ToList();
        _clusterVms = _cluster.SelectMany(h => h.VmIds.Select(id => new DrsVm(id, id.ToString()[..8], h.HostId, 2, 4096, true))).ToList();
    }

    [Benchmark]
    public Guid? Spread() => HostPlacement.Place(_plain, _hosts).HostId;

    [Benchmark]
    public Guid? Pack() => HostPlacement.Place(_plain with { Strategy = PlacementStrategy.Pack }, _hosts).HostId;

    [Benchmark]
    public Guid? LabelsAndCpuFeatures() => HostPlacement.Place(_labelled, _hosts).HostId;

    [Benchmark]
    public Guid? HardAndSoftAffinity() => HostPlacement.Place(_withRules, _hosts).HostId;

    /// <summary>Nothing fits: every host's reason is written (the slow path of an impossible placement).</summary>
    [Benchmark]
    public int NothingFits() => HostPlacement.Place(_plain with { MemoryMiB = int.MaxValue }, _hosts).Rejections.Count;

    [Benchmark]
    public int DrsOver100Hosts() => DrsPolicy.Propose(_cluster, _clusterVms, [], 0.01, 0.01, 5).Count;
}
