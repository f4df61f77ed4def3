using Quantixkvm.Domain.Drs;
using Quantixkvm.Domain.Placement;
using static Quantixkvm.Domain.Tests.Fleet;

namespace Quantixkvm.Domain.Tests;

public class BalancingAClusterWithDrs
{
    private const double Precision = 1e-9;

    private static DrsVm VmOn(string host, string name, int vcpus, int memoryMiB, bool movable = true) =>
        new(Vm(name), name, HostIdOf(host), vcpus, memoryMiB, movable);

    /// <summary>The hosts with what the VMs on them allocate.</summary>
    private static HostCandidate[] Carrying(DrsVm[] vms, params HostCandidate[] hosts) =>
        hosts.Select(h =>
        {
            var on = vms.Where(v => v.HostId == h.HostId).ToArray();
            return h with
            {
                AllocatedVcpus = h.AllocatedVcpus + on.Sum(v => v.Vcpus),
                AllocatedMemoryMiB = h.AllocatedMemoryMiB + on.Sum(v => (long)v.MemoryMiB),
                VmIds = new HashSet<Guid>(h.VmIds.Concat(on.Select(v => v.VmId))),
            };
        }).ToArray();

    /// <summary>What the cluster looks like once a proposal is carried out.</summary>
    private static (HostCandidate[] Hosts, DrsVm[] Vms) Apply(HostCandidate[] hosts, DrsVm[] vms, DrsProposal proposal)
    {
        var vm = vms.Single(v => v.VmId == proposal.VmId);
        vm.HostId.ShouldBe(proposal.FromHostId);
        var movedVms = vms.Select(v => v.VmId == vm.VmId ? v with { HostId = proposal.ToHostId } : v).ToArray();
        var movedHosts = hosts.Select(h =>
            h.HostId == proposal.FromHostId
                ? h with
                {
                    AllocatedVcpus = h.AllocatedVcpus - vm.Vcpus,
                    AllocatedMemoryMiB = h.AllocatedMemoryMiB - vm.MemoryMiB,
                    VmIds = new HashSet<Guid>(h.VmIds.Where(id => id != vm.VmId)),
                }
                : h.HostId == proposal.ToHostId
                    ? h with
                    {
                        AllocatedVcpus = h.AllocatedVcpus + vm.Vcpus,
                        AllocatedMemoryMiB = h.AllocatedMemoryMiB + vm.MemoryMiB,
                        VmIds = new HashSet<Guid>(h.VmIds.Append(vm.VmId)),
                    }
                    : h).ToArray();
        return (movedHosts, movedVms);
    }

    /// <summary>kvm-01 carries four VMs, kvm-02 one, kvm-03 none.</summary>
    private static (HostCandidate[] Hosts, DrsVm[] Vms) Unbalanced(bool dbMovable = true)
    {
        DrsVm[] vms =
        [
            VmOn("kvm-01", "web-1", 4, 8192), VmOn("kvm-01", "web-2", 4, 8192), VmOn("kvm-01", "web-3", 4, 8192),
            VmOn("kvm-01", "db-1", 8, 16_384, dbMovable), VmOn("kvm-02", "app-1", 2, 4096),
        ];
        return (Carrying(vms, Host("kvm-01"), Host("kvm-02"), Host("kvm-03")), vms);
    }

    [Fact]
    public void the_load_of_a_host_is_the_mean_of_its_cpu_and_memory_demand_over_physical_capacity()
    {
        DrsPolicy.LoadOf(Host("kvm-01", cpus: 32, memoryMiB: 65_536, allocatedVcpus: 16, allocatedMemoryMiB: 16_384)).ShouldBe(0.375);
        DrsPolicy.LoadOf(Host("kvm-02", cpus: 32, allocatedVcpus: 48, cpuOvercommit: 2.0)).ShouldBe(0.75);
    }

    [Fact]
    public void imbalance_is_the_population_standard_deviation_of_the_online_hosts_loads()
    {
        HostCandidate[] hosts =
        [
            Host("half", allocatedVcpus: 16, allocatedMemoryMiB: 32_768),
            Host("empty"),
            Host("full-but-in-maintenance", HostAvailability.InMaintenance, allocatedVcpus: 32, allocatedMemoryMiB: 65_536),
        ];

        DrsPolicy.Imbalance(hosts).ShouldBe(0.25, Precision);
        DrsPolicy.Imbalance([hosts[0]]).ShouldBe(0);
        DrsPolicy.Imbalance([]).ShouldBe(0);
    }

    [Fact]
    public void a_balanced_cluster_has_no_imbalance_and_gets_no_proposals()
    {
        DrsVm[] vms = [VmOn("kvm-01", "web-1", 4, 8192), VmOn("kvm-02", "web-2", 4, 8192), VmOn("kvm-03", "web-3", 4, 8192)];
        var hosts = Carrying(vms, Host("kvm-01"), Host("kvm-02"), Host("kvm-03"));

        DrsPolicy.Imbalance(hosts).ShouldBe(0, Precision);
        DrsPolicy.Propose(hosts, vms, [], threshold: 0, minImprovement: 0, maxMoves: 10).ShouldBeEmpty();
    }

    [Fact]
    public void an_unbalanced_cluster_gets_a_move_that_really_lowers_the_imbalance()
    {
        var (hosts, vms) = Unbalanced();

        var proposal = DrsPolicy.Propose(hosts, vms, [], threshold: 0.05, minImprovement: 0.01, maxMoves: 1).ShouldHaveSingleItem();

        proposal.VmName.ShouldBe("db-1");
        proposal.FromHostId.ShouldBe(HostIdOf("kvm-01"));
        proposal.ToHostId.ShouldBe(HostIdOf("kvm-03"));
        proposal.ImbalanceBefore.ShouldBe(DrsPolicy.Imbalance(hosts), Precision);
        proposal.ImbalanceAfter.ShouldBeLessThan(proposal.ImbalanceBefore);
        var (after, _) = Apply(hosts, vms, proposal);
        DrsPolicy.Imbalance(after).ShouldBe(proposal.ImbalanceAfter, Precision);
        DrsPolicy.Imbalance(after).ShouldBeLessThan(DrsPolicy.Imbalance(hosts));
        proposal.Reason.ShouldBe(
            "host kvm-01 carries load 0.63 against a cluster mean of 0.23; "
            + "moving db-1 (8 vCPUs, 16384 MiB) to kvm-03 lowers the imbalance from 0.28 to 0.13");
    }

    [Fact]
    public void each_proposal_carried_out_in_order_lowers_the_imbalance_further()
    {
        var (hosts, vms) = Unbalanced();

        var proposals = DrsPolicy.Propose(hosts, vms, [], threshold: 0, minImprovement: 0.001, maxMoves: 10);

        proposals.Count.ShouldBeGreaterThan(1);
        proposals.Select(p => p.VmId).ShouldBeUnique();
        foreach (var proposal in proposals)
        {
            proposal.ImbalanceBefore.ShouldBe(DrsPolicy.Imbalance(hosts), Precision);
            (hosts, vms) = Apply(hosts, vms, proposal);
            DrsPolicy.Imbalance(hosts).ShouldBe(proposal.ImbalanceAfter, Precision);
            proposal.ImbalanceAfter.ShouldBeLessThan(proposal.ImbalanceBefore);
        }
    }

    [Fact]
    public void max_moves_caps_the_number_of_proposals()
    {
        var (hosts, vms) = Unbalanced();

        DrsPolicy.Propose(hosts, vms, [], threshold: 0, minImprovement: 0, maxMoves: 2).Count.ShouldBe(2);
        DrsPolicy.Propose(hosts, vms, [], threshold: 0, minImprovement: 0, maxMoves: 0).ShouldBeEmpty();
    }

    [Fact]
    public void a_threshold_at_or_above_the_imbalance_stops_proposals()
    {
        var (hosts, vms) = Unbalanced();
        var imbalance = DrsPolicy.Imbalance(hosts);

        DrsPolicy.Propose(hosts, vms, [], threshold: imbalance, minImprovement: 0, maxMoves: 10).ShouldBeEmpty();
        var proposal = DrsPolicy.Propose(hosts, vms, [], threshold: 0.2, minImprovement: 0, maxMoves: 10).ShouldHaveSingleItem();
        proposal.ImbalanceAfter.ShouldBeLessThanOrEqualTo(0.2);
    }

    [Fact]
    public void a_best_move_that_improves_less_than_the_minimum_is_not_proposed()
    {
        var (hosts, vms) = Unbalanced();

        DrsPolicy.Propose(hosts, vms, [], threshold: 0, minImprovement: 0.2, maxMoves: 10).ShouldBeEmpty();
    }

    [Fact]
    public void a_vm_that_is_not_movable_is_never_proposed()
    {
        var (hosts, vms) = Unbalanced(dbMovable: false);

        var proposals = DrsPolicy.Propose(hosts, vms, [], threshold: 0, minImprovement: 0, maxMoves: 10);

        proposals.ShouldNotBeEmpty();
        proposals.ShouldAllBe(p => p.VmName != "db-1");
        DrsPolicy.Propose(hosts, vms.Select(v => v with { Movable = false }).ToArray(), [], 0, 0, 10).ShouldBeEmpty();
    }

    [Fact]
    public void hard_anti_affinity_prevents_a_move_that_would_put_the_vms_together()
    {
        DrsVm[] vms =
        [
            VmOn("kvm-01", "db-1", 8, 16_384), VmOn("kvm-01", "web-1", 4, 8192, movable: false),
            VmOn("kvm-02", "app-1", 4, 8192), VmOn("kvm-03", "db-2", 2, 2048),
        ];
        var hosts = Carrying(vms, Host("kvm-01"), Host("kvm-02"), Host("kvm-03"));
        var apart = Rule("db-apart", AffinityKind.VmAntiAffinity, RuleEnforcement.Hard, [Vm("db-1"), Vm("db-2")]);

        var unruled = DrsPolicy.Propose(hosts, vms, [], threshold: 0, minImprovement: 0, maxMoves: 10);
        var ruled = DrsPolicy.Propose(hosts, vms, [apart], threshold: 0, minImprovement: 0, maxMoves: 10);

        unruled.ShouldContain(p => p.VmName == "db-1" && p.ToHostId == HostIdOf("kvm-03"));
        ruled.ShouldNotContain(p => p.VmName == "db-1" && p.ToHostId == HostIdOf("kvm-03"));
        ruled.ShouldNotContain(p => p.VmName == "db-2" && p.ToHostId == HostIdOf("kvm-01"));
    }

    [Fact]
    public void hosts_that_are_not_online_are_never_sources_or_targets()
    {
        var (hosts, vms) = Unbalanced();
        DrsVm[] stranded = [VmOn("a-fenced", "stranded-1", 16, 32_768)];
        HostCandidate[] others =
        [
            Host("a-entering", HostAvailability.EnteringMaintenance), Host("a-maintenance", HostAvailability.InMaintenance),
            Host("a-unreachable", HostAvailability.Unreachable), Host("a-decommissioned", HostAvailability.Decommissioned),
            .. Carrying(stranded, Host("a-fenced", HostAvailability.Fenced)),
        ];

        var proposals = DrsPolicy.Propose([.. others, .. hosts], [.. stranded, .. vms], [], threshold: 0, minImprovement: 0, maxMoves: 10);

        proposals.ShouldNotBeEmpty();
        var online = hosts.Select(h => h.HostId).ToHashSet();
        proposals.ShouldAllBe(p => online.Contains(p.ToHostId) && online.Contains(p.FromHostId));
    }

    [Fact]
    public void hosts_of_another_cluster_are_never_targets()
    {
        var (hosts, vms) = Unbalanced();
        HostCandidate[] withForeign = [.. hosts, Host("a-foreign", cluster: ClusterB)];

        DrsPolicy.Propose(withForeign, vms, [], threshold: 0, minImprovement: 0, maxMoves: 10)
            .ShouldAllBe(p => p.ToHostId != HostIdOf("a-foreign"));
    }

    [Fact]
    public void a_target_without_room_for_the_vm_is_not_chosen()
    {
        var (hosts, vms) = Unbalanced();
        hosts[2] = hosts[2] with { MemoryMiB = 8192 };

        DrsPolicy.Propose(hosts, vms, [], threshold: 0, minImprovement: 0, maxMoves: 10)
            .ShouldNotContain(p => p.VmName == "db-1" && p.ToHostId == HostIdOf("kvm-03"));
    }

    [Fact]
    public void the_proposals_are_the_same_whatever_the_order_of_the_inputs()
    {
        var (hosts, vms) = Unbalanced();

        var forward = DrsPolicy.Propose(hosts, vms, [], threshold: 0, minImprovement: 0, maxMoves: 10);
        var backward = DrsPolicy.Propose(hosts.Reverse().ToArray(), vms.Reverse().ToArray(), [], threshold: 0, minImprovement: 0, maxMoves: 10);

        backward.Select(p => (p.VmName, p.ToHostId, p.Reason)).ShouldBe(forward.Select(p => (p.VmName, p.ToHostId, p.Reason)));
    }
}
