using Quantixkvm.Domain.Placement;
using static Quantixkvm.Domain.Tests.Fleet;

namespace Quantixkvm.Domain.Tests;

/// <summary>Each filter: what it rejects, and the reason it gives, with the numbers.</summary>
public class PlacementFiltersRejectWithReasons
{
    private static HostRejection? OnlyRejection(PlacementRequest request, HostCandidate host)
    {
        var result = HostPlacement.Place(request, [host]);
        return result.HostId is null ? result.Rejections.ShouldHaveSingleItem() : null;
    }

    [Fact]
    public void an_excluded_host_is_rejected_with_the_callers_reason()
    {
        var host = Host("kvm-01");
        var request = Request() with { ExcludedHosts = new HashSet<Guid> { host.HostId }, ExclusionReason = "the VM runs there now" };

        OnlyRejection(request, host).ShouldBe(new HostRejection(host.HostId, "kvm-01", "excluded", "the VM runs there now"));
    }

    [Fact]
    public void an_excluded_host_without_a_reason_is_excluded_by_the_request()
    {
        var host = Host("kvm-01");
        var request = Request() with { ExcludedHosts = new HashSet<Guid> { host.HostId } };

        OnlyRejection(request, host)!.Reason.ShouldBe("excluded by the request");
    }

    [Fact]
    public void an_excluded_host_is_skipped_and_the_next_best_is_chosen()
    {
        HostCandidate[] hosts = [Host("roomy"), Host("busier", allocatedMemoryMiB: 30_000)];
        var request = Request() with { ExcludedHosts = new HashSet<Guid> { hosts[0].HostId } };

        HostPlacement.Place(request, hosts).HostId.ShouldBe(hosts[1].HostId);
    }

    [Theory]
    [InlineData(HostAvailability.Unreachable, "the host's agent is not sending heartbeats")]
    [InlineData(HostAvailability.Fenced, "the host is fenced and takes no VMs until it is brought back")]
    [InlineData(HostAvailability.EnteringMaintenance, "the host is in maintenance")]
    [InlineData(HostAvailability.InMaintenance, "the host is in maintenance")]
    [InlineData(HostAvailability.Decommissioned, "the host is decommissioned")]
    public void a_host_that_is_not_online_takes_no_new_vm(HostAvailability availability, string reason)
    {
        var host = Host("kvm-01", availability);

        OnlyRejection(Request(), host).ShouldBe(new HostRejection(host.HostId, "kvm-01", "availability", reason));
    }

    [Fact]
    public void a_host_of_another_cluster_is_rejected_naming_both_clusters()
    {
        var host = Host("kvm-01", cluster: ClusterB);

        OnlyRejection(Request() with { ClusterId = ClusterA }, host)!.Reason
            .ShouldBe($"the host is in cluster {ClusterB}, not in the requested cluster {ClusterA}");
    }

    [Fact]
    public void a_host_in_no_cluster_is_rejected_when_the_request_names_one()
    {
        var host = Host("kvm-01") with { ClusterId = null };

        OnlyRejection(Request() with { ClusterId = ClusterA }, host).ShouldBe(
            new HostRejection(host.HostId, "kvm-01", "cluster", $"the host is in no cluster; the request asks for cluster {ClusterA}"));
    }

    [Fact]
    public void without_a_requested_cluster_hosts_of_any_cluster_or_none_qualify()
    {
        OnlyRejection(Request(), Host("kvm-01", cluster: ClusterB)).ShouldBeNull();
        OnlyRejection(Request(), Host("kvm-02") with { ClusterId = null }).ShouldBeNull();
    }

    [Fact]
    public void a_host_missing_a_label_or_with_a_different_value_is_rejected_naming_each()
    {
        var host = Host("kvm-01", labels: new() { ["disk"] = "hdd", ["rack"] = "r1" });
        var request = Request() with
        {
            RequiredLabels = new Dictionary<string, string> { ["zone"] = "eu-1", ["disk"] = "ssd", ["rack"] = "r1" },
        };

        OnlyRejection(request, host).ShouldBe(new HostRejection(
            host.HostId, "kvm-01", "labels", "the request needs label disk=ssd (the host has disk=hdd) and label zone=eu-1 (the host has no zone label)"));
    }

    [Fact]
    public void a_host_with_every_required_label_qualifies_whatever_else_it_carries()
    {
        var host = Host("kvm-01", labels: new() { ["disk"] = "ssd", ["rack"] = "r1" });

        OnlyRejection(Request() with { RequiredLabels = new Dictionary<string, string> { ["disk"] = "ssd" } }, host).ShouldBeNull();
    }

    [Fact]
    public void a_host_lacking_cpu_features_is_rejected_naming_the_first_few()
    {
        var host = Host("kvm-01", cpuModel: "Westmere", features: ["sse4_2"]);
        var request = Request() with
        {
            RequiredCpuFeatures = new HashSet<string> { "sse4_2", "vmx", "avx2", "avx512f", "aes", "avx" },
        };

        OnlyRejection(request, host).ShouldBe(
            new HostRejection(host.HostId, "kvm-01", "cpu-features", "the host's CPU (Westmere) lacks aes, avx, avx2 and 2 more"));
    }

    [Fact]
    public void a_vm_with_more_vcpus_than_the_host_has_cpus_is_rejected_even_with_overcommit()
    {
        var host = Host("kvm-01", cpus: 4, cpuOvercommit: 4.0);

        var result = HostPlacement.Place(Request(vcpus: 8), [host]);

        result.HostId.ShouldBeNull();
        result.Explain().ShouldBe("kvm-01: cpu: the VM needs 8 vCPUs; the host has 4 CPUs");
    }

    [Fact]
    public void a_vm_with_as_many_vcpus_as_the_host_has_cpus_fits()
    {
        OnlyRejection(Request(vcpus: 8), Host("kvm-01", cpus: 8)).ShouldBeNull();
    }

    [Fact]
    public void without_cpu_overcommit_allocated_vcpus_may_not_exceed_the_cpus()
    {
        var host = Host("kvm-01", cpus: 32, allocatedVcpus: 30);

        OnlyRejection(Request(vcpus: 4), host).ShouldBe(new HostRejection(
            host.HostId, "kvm-01", "cpu", "the VM needs 4 vCPUs; 30 of 32 vCPUs are allocated (32 CPUs, no overcommit)"));
        OnlyRejection(Request(vcpus: 2), host).ShouldBeNull();
    }

    [Fact]
    public void cpu_overcommit_lets_more_vcpus_onto_the_host_up_to_the_ratio()
    {
        OnlyRejection(Request(vcpus: 4), Host("kvm-01", cpus: 32, allocatedVcpus: 30, cpuOvercommit: 1.5)).ShouldBeNull();

        var full = Host("kvm-02", cpus: 32, allocatedVcpus: 46, cpuOvercommit: 1.5);
        OnlyRejection(Request(vcpus: 4), full).ShouldBe(new HostRejection(
            full.HostId, "kvm-02", "cpu", "the VM needs 4 vCPUs; 46 of 48 vCPUs are allocated (32 CPUs × overcommit 1.5)"));
    }

    [Fact]
    public void a_host_without_enough_free_memory_is_rejected_with_the_numbers()
    {
        var host = Host("kvm-01", memoryMiB: 8192, allocatedMemoryMiB: 7168);

        OnlyRejection(Request(memoryMiB: 4096), host).ShouldBe(
            new HostRejection(host.HostId, "kvm-01", "memory", "the VM needs 4096 MiB; 1024 MiB of 8192 MiB are free"));
    }

    [Fact]
    public void a_vm_that_needs_exactly_the_free_memory_fits()
    {
        OnlyRejection(Request(memoryMiB: 4096), Host("kvm-01", memoryMiB: 8192, allocatedMemoryMiB: 4096)).ShouldBeNull();
    }

    [Fact]
    public void memory_overcommit_changes_the_verdict_and_the_reason_names_the_ratio()
    {
        OnlyRejection(Request(memoryMiB: 4096), Host("kvm-01", memoryMiB: 8192, allocatedMemoryMiB: 7168, memoryOvercommit: 1.5))
            .ShouldBeNull();

        var full = Host("kvm-02", memoryMiB: 8192, allocatedMemoryMiB: 11_264, memoryOvercommit: 1.5);
        OnlyRejection(Request(memoryMiB: 4096), full).ShouldBe(new HostRejection(
            full.HostId, "kvm-02", "memory", "the VM needs 4096 MiB; 1024 MiB of 12288 MiB are free (8192 MiB × overcommit 1.5)"));
    }

    [Fact]
    public void a_host_already_over_its_memory_says_none_is_free()
    {
        OnlyRejection(Request(memoryMiB: 1024), Host("kvm-01", memoryMiB: 8192, allocatedMemoryMiB: 9000))!.Reason
            .ShouldBe("the VM needs 1024 MiB; 0 MiB of 8192 MiB are free");
    }

    [Fact]
    public void hard_anti_affinity_rejects_the_host_of_another_vm_of_the_rule_naming_it()
    {
        var rule = Rule("web-apart", AffinityKind.VmAntiAffinity, RuleEnforcement.Hard, [NewVm, Vm("web-1"), Vm("web-2")]);
        HostCandidate[] hosts = [Host("kvm-01", vms: [Vm("web-1")]), Host("kvm-02", allocatedMemoryMiB: 30_000, vms: [Vm("db-1")])];

        var result = HostPlacement.Place(Request(rules: rule), hosts);

        result.HostId.ShouldBe(hosts[1].HostId);
        result.Rejections.ShouldBe([new HostRejection(
            hosts[0].HostId, "kvm-01", "affinity", $"rule 'web-apart' keeps this VM apart from VM {Vm("web-1")}, which is on this host")]);
    }

    [Fact]
    public void hard_affinity_keeps_the_vm_with_the_others_of_its_rule_naming_their_host()
    {
        var rule = Rule("app-with-db", AffinityKind.VmAffinity, RuleEnforcement.Hard, [NewVm, Vm("db-1")]);
        HostCandidate[] hosts = [Host("kvm-01"), Host("kvm-02", allocatedMemoryMiB: 30_000, vms: [Vm("db-1")])];

        var result = HostPlacement.Place(Request(rules: rule), hosts);

        result.HostId.ShouldBe(hosts[1].HostId);
        result.Rejections.ShouldBe([new HostRejection(
            hosts[0].HostId, "kvm-01", "affinity", "rule 'app-with-db' keeps this VM with its other VMs, which are on kvm-02")]);
    }

    [Fact]
    public void hard_affinity_with_none_of_the_others_placed_yet_lets_the_first_vm_go_anywhere()
    {
        var rule = Rule("app-with-db", AffinityKind.VmAffinity, RuleEnforcement.Hard, [NewVm, Vm("db-1")]);
        HostCandidate[] hosts = [Host("kvm-01", allocatedMemoryMiB: 30_000), Host("kvm-02")];

        var result = HostPlacement.Place(Request(rules: rule), hosts);

        result.HostId.ShouldBe(hosts[1].HostId);
        result.Rejections.ShouldBeEmpty();
    }

    [Fact]
    public void hard_host_affinity_keeps_the_vm_on_the_listed_hosts()
    {
        var rule = Rule("licensed", AffinityKind.HostAffinity, RuleEnforcement.Hard, [NewVm], ["kvm-02"]);
        HostCandidate[] hosts = [Host("kvm-01"), Host("kvm-02", allocatedMemoryMiB: 30_000)];

        var result = HostPlacement.Place(Request(rules: rule), hosts);

        result.HostId.ShouldBe(hosts[1].HostId);
        result.Rejections.ShouldBe([new HostRejection(
            hosts[0].HostId, "kvm-01", "affinity", "rule 'licensed' keeps this VM on its one listed host, and this is not it")]);
    }

    [Fact]
    public void hard_host_anti_affinity_keeps_the_vm_off_the_listed_hosts()
    {
        var rule = Rule("not-on-old", AffinityKind.HostAntiAffinity, RuleEnforcement.Hard, [NewVm], ["kvm-01", "kvm-03"]);
        HostCandidate[] hosts = [Host("kvm-01"), Host("kvm-02", allocatedMemoryMiB: 30_000)];

        var result = HostPlacement.Place(Request(rules: rule), hosts);

        result.HostId.ShouldBe(hosts[1].HostId);
        result.Rejections.ShouldBe([new HostRejection(hosts[0].HostId, "kvm-01", "affinity", "rule 'not-on-old' keeps this VM off this host")]);
    }

    [Fact]
    public void rules_that_do_not_name_the_vm_are_ignored()
    {
        var rule = Rule("others-apart", AffinityKind.VmAntiAffinity, RuleEnforcement.Hard, [Vm("web-1"), Vm("web-2")]);
        HostCandidate[] hosts = [Host("kvm-01", vms: [Vm("web-1")])];

        HostPlacement.Place(Request(rules: rule), hosts).HostId.ShouldBe(hosts[0].HostId);
    }

    [Fact]
    public void the_placed_vm_itself_on_a_host_does_not_count_against_that_host()
    {
        var rule = Rule("apart", AffinityKind.VmAntiAffinity, RuleEnforcement.Hard, [NewVm, Vm("web-2")]);
        HostCandidate[] hosts = [Host("kvm-01", vms: [NewVm])];

        HostPlacement.Place(Request(rules: rule), hosts).HostId.ShouldBe(hosts[0].HostId);
    }
}
