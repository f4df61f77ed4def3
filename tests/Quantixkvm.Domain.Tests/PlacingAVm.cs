using Quantixkvm.Domain.Placement;
using static Quantixkvm.Domain.Tests.Fleet;

namespace Quantixkvm.Domain.Tests;

public class PlacingAVm
{
    [Fact]
    public void the_host_with_the_most_free_memory_is_chosen()
    {
        HostCandidate[] hosts =
        [
            Host("kvm-01", allocatedMemoryMiB: 40_000),
            Host("kvm-02", allocatedMemoryMiB: 10_000),
            Host("kvm-03", allocatedMemoryMiB: 30_000),
        ];

        var result = HostPlacement.Place(Request(), hosts);

        result.HostId.ShouldBe(hosts[1].HostId);
        result.Rejections.ShouldBeEmpty();
    }

    [Fact]
    public void free_memory_counts_what_is_already_allocated_not_the_host_size()
    {
        HostCandidate[] hosts =
        [
            Host("big-but-full", memoryMiB: 131_072, allocatedMemoryMiB: 120_000),
            Host("small-but-empty", memoryMiB: 32_768),
        ];

        HostPlacement.Place(Request(), hosts).HostId.ShouldBe(hosts[1].HostId);
    }

    [Fact]
    public void spread_prefers_the_larger_share_of_free_memory_then_the_larger_share_of_free_vcpus()
    {
        HostCandidate[] hosts =
        [
            Host("half-full-memory", memoryMiB: 65_536, allocatedMemoryMiB: 32_768),
            Host("busy-cpus", memoryMiB: 65_536, allocatedVcpus: 24),
            Host("idle", memoryMiB: 65_536, allocatedVcpus: 4),
        ];

        HostPlacement.Place(Request(), hosts).HostId.ShouldBe(hosts[2].HostId);
    }

    [Fact]
    public void pack_chooses_the_host_left_with_the_least_free_memory_that_still_fits()
    {
        HostCandidate[] hosts =
        [
            Host("empty"),
            Host("nearly-full", memoryMiB: 65_536, allocatedMemoryMiB: 60_000),
            Host("too-full", memoryMiB: 65_536, allocatedMemoryMiB: 64_000),
            Host("half-full", memoryMiB: 65_536, allocatedMemoryMiB: 32_768),
        ];

        var result = HostPlacement.Place(Request(memoryMiB: 4096, strategy: PlacementStrategy.Pack), hosts);

        result.HostId.ShouldBe(hosts[1].HostId);
        result.Rejections.ShouldHaveSingleItem().HostName.ShouldBe("too-full");
    }

    [Fact]
    public void spread_and_pack_choose_different_hosts_from_the_same_fleet()
    {
        HostCandidate[] hosts = [Host("kvm-01", allocatedMemoryMiB: 50_000), Host("kvm-02", allocatedMemoryMiB: 8_000)];

        HostPlacement.Place(Request(strategy: PlacementStrategy.Spread), hosts).HostId.ShouldBe(hosts[1].HostId);
        HostPlacement.Place(Request(strategy: PlacementStrategy.Pack), hosts).HostId.ShouldBe(hosts[0].HostId);
    }

    [Theory]
    [InlineData(PlacementStrategy.Spread)]
    [InlineData(PlacementStrategy.Pack)]
    public void between_equal_hosts_the_first_name_wins_whatever_the_order(PlacementStrategy strategy)
    {
        HostCandidate[] hosts = [Host("kvm-b"), Host("kvm-a"), Host("kvm-c"), Host("kvm-A")];

        HostPlacement.Place(Request(strategy: strategy), hosts).HostId.ShouldBe(HostIdOf("kvm-A"));
        HostPlacement.Place(Request(strategy: strategy), hosts.Reverse().ToArray()).HostId.ShouldBe(HostIdOf("kvm-A"));
        HostPlacement.Place(Request(strategy: strategy), [hosts[2], hosts[0], hosts[3], hosts[1]]).HostId.ShouldBe(HostIdOf("kvm-A"));
    }

    [Fact]
    public void the_requested_host_is_chosen_when_it_passes_even_if_another_has_more_room()
    {
        HostCandidate[] hosts = [Host("kvm-01", allocatedMemoryMiB: 50_000), Host("kvm-02")];

        var result = HostPlacement.Place(Request(on: "kvm-01"), hosts);

        result.HostId.ShouldBe(hosts[0].HostId);
        result.Rejections.ShouldBe(
            [new HostRejection(hosts[1].HostId, "kvm-02", "requested-host", $"not the requested host {hosts[0].HostId}")]);
    }

    [Fact]
    public void an_unreachable_requested_host_means_no_host_and_says_its_agent_is_silent()
    {
        HostCandidate[] hosts = [Host("kvm-01", HostAvailability.Unreachable), Host("kvm-02")];

        var result = HostPlacement.Place(Request(on: "kvm-01"), hosts);

        result.HostId.ShouldBeNull();
        result.Rejections.ShouldContain(new HostRejection(
            hosts[0].HostId, "kvm-01", "availability", "the host's agent is not sending heartbeats"));
        result.Explain().ShouldContain("kvm-01: availability: the host's agent is not sending heartbeats", Case.Sensitive);
    }

    [Fact]
    public void a_requested_host_that_is_not_registered_means_no_host()
    {
        HostCandidate[] hosts = [Host("kvm-01"), Host("kvm-02")];

        var result = HostPlacement.Place(Request(on: "kvm-99"), hosts);

        result.HostId.ShouldBeNull();
        result.Rejections.Select(r => r.Filter).ShouldBe(["requested-host", "requested-host"]);
        result.Rejections[0].Reason.ShouldBe($"not the requested host {HostIdOf("kvm-99")}");
    }

    [Fact]
    public void with_no_hosts_there_is_no_host_and_the_explanation_says_none_are_registered()
    {
        var result = HostPlacement.Place(Request(), []);

        result.HostId.ShouldBeNull();
        result.Rejections.ShouldBeEmpty();
        result.Explain().ShouldBe("there are no registered hosts");
    }

    [Fact]
    public void an_impossible_placement_lists_every_host_once_with_the_first_filter_it_failed()
    {
        var request = Request(vcpus: 4, memoryMiB: 8192) with
        {
            ClusterId = ClusterA,
            RequiredLabels = new Dictionary<string, string> { ["disk"] = "ssd" },
            RequiredCpuFeatures = new HashSet<string> { "avx2" },
            ExcludedHosts = new HashSet<Guid> { HostIdOf("source") },
            ExclusionReason = "the VM is migrating away from it",
            Rules = [Rule("apart", AffinityKind.VmAntiAffinity, RuleEnforcement.Hard, [NewVm, Vm("db-1")])],
        };
        var ssd = new Dictionary<string, string> { ["disk"] = "ssd" };
        HostCandidate[] hosts =
        [
            Host("source", labels: ssd),
            Host("silent", HostAvailability.Unreachable, labels: ssd),
            Host("other-cluster", cluster: ClusterB, labels: ssd),
            Host("spinning", labels: new() { ["disk"] = "hdd" }),
            Host("old-cpu", labels: ssd, cpuModel: "Westmere", features: ["sse4_2"]),
            Host("small", labels: ssd, cpus: 2),
            Host("full", labels: ssd, memoryMiB: 16_384, allocatedMemoryMiB: 12_288),
            Host("with-db", labels: ssd, vms: [Vm("db-1")]),
        ];

        var result = HostPlacement.Place(request, hosts);

        result.HostId.ShouldBeNull();
        result.Rejections.Select(r => r.HostId).ShouldBeUnique();
        result.Rejections.Select(r => (r.HostName, r.Filter)).ShouldBe(
        [
            ("source", "excluded"), ("silent", "availability"), ("other-cluster", "cluster"), ("spinning", "labels"),
            ("old-cpu", "cpu-features"), ("small", "cpu"), ("full", "memory"), ("with-db", "affinity"),
        ]);
        result.Explain().ShouldBe(
            "source: excluded: the VM is migrating away from it; "
            + "silent: availability: the host's agent is not sending heartbeats; "
            + $"other-cluster: cluster: the host is in cluster {ClusterB}, not in the requested cluster {ClusterA}; "
            + "spinning: labels: the request needs label disk=ssd (the host has disk=hdd); "
            + "old-cpu: cpu-features: the host's CPU (Westmere) lacks avx2; "
            + "small: cpu: the VM needs 4 vCPUs; the host has 2 CPUs; "
            + "full: memory: the VM needs 8192 MiB; 4096 MiB of 16384 MiB are free; "
            + $"with-db: affinity: rule 'apart' keeps this VM apart from VM {Vm("db-1")}, which is on this host");
    }

    [Fact]
    public void the_filters_run_in_a_fixed_order()
    {
        PlacementFilters.InOrder.ShouldBe(
            ["requested-host", "excluded", "availability", "cluster", "labels", "cpu-features", "cpu", "memory", "affinity"]);
    }

    [Fact]
    public void check_answers_for_one_host_as_place_would()
    {
        HostCandidate[] hosts = [Host("kvm-01", memoryMiB: 8192, allocatedMemoryMiB: 7168), Host("kvm-02")];
        var request = Request(memoryMiB: 4096);
        var context = PlacementContext.For(request, hosts);

        HostPlacement.Check(request, hosts[0], context).ShouldBe(
            new HostRejection(hosts[0].HostId, "kvm-01", "memory", "the VM needs 4096 MiB; 1024 MiB of 8192 MiB are free"));
        HostPlacement.Check(request, hosts[1], context).ShouldBeNull();
    }

    [Fact]
    public void check_refuses_a_context_built_for_another_request()
    {
        HostCandidate[] hosts = [Host("kvm-01")];
        var context = PlacementContext.For(Request(memoryMiB: 1024), hosts);

        Should.Throw<ArgumentException>(() => HostPlacement.Check(Request(memoryMiB: 2048), hosts[0], context));
    }

    [Fact]
    public void among_ten_thousand_hosts_the_one_with_the_most_room_is_chosen()
    {
        var hosts = Enumerable.Range(0, 10_000)
            .Select(i => Host(
                $"kvm-{i:D5}",
                availability: i % 97 == 0 ? HostAvailability.Unreachable : HostAvailability.Online,
                allocatedVcpus: 8 + (i % 16),
                allocatedMemoryMiB: i == 7_777 ? 1_024 : 16_384 + (i % 4096),
                vms: [Vm($"vm-{i}")]))
            .ToArray();
        var request = Request(memoryMiB: 4096, rules: Rule("apart", AffinityKind.VmAntiAffinity, RuleEnforcement.Hard, [NewVm, Vm("vm-1234")]));

        var result = HostPlacement.Place(request, hosts);

        result.HostId.ShouldBe(HostIdOf("kvm-07777"));
        result.Rejections.Count(r => r.Filter == "availability").ShouldBe((10_000 / 97) + 1);
        result.Rejections.Count.ShouldBe((10_000 / 97) + 1 + 1);
        result.Rejections.ShouldContain(r => r.HostName == "kvm-01234" && r.Filter == "affinity");
    }
}
