using Quantixkvm.Domain.Placement;
using static Quantixkvm.Domain.Tests.Fleet;

namespace Quantixkvm.Domain.Tests;

/// <summary>Among the hosts that pass, the weighers decide; soft rules tip the balance but never reopen a filtered host.</summary>
public class PlacementWeighersTipTheBalance
{
    [Fact]
    public void soft_anti_affinity_prefers_a_host_without_the_other_vms_even_with_less_room()
    {
        var rule = Rule("web-apart", AffinityKind.VmAntiAffinity, RuleEnforcement.Soft, [NewVm, Vm("web-1")]);
        HostCandidate[] hosts = [Host("roomy", vms: [Vm("web-1")]), Host("busier", allocatedMemoryMiB: 40_000)];

        HostPlacement.Place(Request(rules: rule), hosts).HostId.ShouldBe(hosts[1].HostId);
        HostPlacement.Place(Request(), hosts).HostId.ShouldBe(hosts[0].HostId);
    }

    [Fact]
    public void soft_anti_affinity_still_places_the_vm_when_every_host_violates_it()
    {
        var rule = Rule("web-apart", AffinityKind.VmAntiAffinity, RuleEnforcement.Soft, [NewVm, Vm("web-1"), Vm("web-2")]);
        HostCandidate[] hosts = [Host("kvm-01", vms: [Vm("web-1"), Vm("web-2")]), Host("kvm-02", allocatedMemoryMiB: 40_000, vms: [Vm("web-1")])];

        var result = HostPlacement.Place(Request(rules: rule), hosts);

        result.HostId.ShouldBe(hosts[1].HostId);
        result.Rejections.ShouldBeEmpty();
    }

    [Fact]
    public void soft_affinity_prefers_the_host_of_the_other_vms()
    {
        var rule = Rule("app-near-db", AffinityKind.VmAffinity, RuleEnforcement.Soft, [NewVm, Vm("db-1")]);
        HostCandidate[] hosts = [Host("roomy"), Host("with-db", allocatedMemoryMiB: 40_000, vms: [Vm("db-1")])];

        HostPlacement.Place(Request(rules: rule), hosts).HostId.ShouldBe(hosts[1].HostId);
    }

    [Fact]
    public void soft_host_affinity_and_anti_affinity_prefer_and_avoid_the_listed_hosts()
    {
        HostCandidate[] hosts = [Host("kvm-01"), Host("kvm-02", allocatedMemoryMiB: 40_000)];

        HostPlacement.Place(Request(rules: Rule("prefer-02", AffinityKind.HostAffinity, RuleEnforcement.Soft, [NewVm], ["kvm-02"])), hosts)
            .HostId.ShouldBe(hosts[1].HostId);
        HostPlacement.Place(Request(rules: Rule("avoid-01", AffinityKind.HostAntiAffinity, RuleEnforcement.Soft, [NewVm], ["kvm-01"])), hosts)
            .HostId.ShouldBe(hosts[1].HostId);
    }

    [Fact]
    public void a_soft_rule_never_overrides_a_hard_filter()
    {
        var soft = Rule("prefer-01", AffinityKind.HostAffinity, RuleEnforcement.Soft, [NewVm], ["kvm-01"]);
        var hard = Rule("never-01", AffinityKind.HostAntiAffinity, RuleEnforcement.Hard, [NewVm], ["kvm-01"]);
        HostCandidate[] hosts = [Host("kvm-01"), Host("kvm-02", allocatedMemoryMiB: 40_000), Host("kvm-03", memoryMiB: 4096, allocatedMemoryMiB: 2048)];
        var toFull = Rule("prefer-03", AffinityKind.HostAffinity, RuleEnforcement.Soft, [NewVm], ["kvm-03"]);

        HostPlacement.Place(Request(rules: [soft, hard]), hosts).HostId.ShouldBe(hosts[1].HostId);
        var result = HostPlacement.Place(Request(rules: toFull), hosts);
        result.HostId.ShouldBe(hosts[0].HostId);
        result.Rejections.ShouldHaveSingleItem().Filter.ShouldBe("memory");
    }

    [Fact]
    public void hard_affinity_prefers_the_host_that_holds_most_of_the_group()
    {
        var rule = Rule("together", AffinityKind.VmAffinity, RuleEnforcement.Hard, [NewVm, Vm("a"), Vm("b"), Vm("c")]);
        HostCandidate[] hosts = [Host("one-of-them", vms: [Vm("a")]), Host("two-of-them", allocatedMemoryMiB: 40_000, vms: [Vm("b"), Vm("c")])];

        HostPlacement.Place(Request(rules: rule), hosts).HostId.ShouldBe(hosts[1].HostId);
    }

    [Fact]
    public void the_weights_compare_the_affinity_score_before_the_strategy()
    {
        new HostWeight(1, 0.1, 0.1).ShouldBeGreaterThan(new HostWeight(0, 0.9, 0.9));
        new HostWeight(0, 0.5, 0.1).ShouldBeGreaterThan(new HostWeight(0, 0.4, 0.9));
        new HostWeight(0, 0.5, 0.2).ShouldBeGreaterThan(new HostWeight(0, 0.5, 0.1));
    }

    [Fact]
    public void spread_and_pack_measure_what_is_left_after_the_vm_is_placed()
    {
        var host = Host("kvm-01", cpus: 16, memoryMiB: 16_384, allocatedVcpus: 4, allocatedMemoryMiB: 4096, memoryOvercommit: 2.0);
        var request = Request(vcpus: 4, memoryMiB: 4096);

        PlacementWeighers.FreeMemoryAfterMiB(request, host).ShouldBe(32_768 - 8192);
        PlacementWeighers.FreeMemoryFractionAfter(request, host).ShouldBe(0.75);
        PlacementWeighers.FreeVcpusAfter(request, host).ShouldBe(8);
        PlacementWeighers.FreeVcpuFractionAfter(request, host).ShouldBe(0.5);
    }
}
