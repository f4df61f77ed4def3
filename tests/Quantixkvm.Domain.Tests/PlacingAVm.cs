using Quantixkvm.Domain.Hosts;
using Quantixkvm.Domain.Placement;

namespace Quantixkvm.Domain.Tests;

public class PlacingAVm
{
    private static HostCandidate Host(
        string name, bool online = true, int cpus = 32, long memoryMiB = 65_536, long allocatedMemoryMiB = 0, int allocatedVcpus = 0) =>
        new(HostDecider.HostIdFor(name), name, online, cpus, memoryMiB, allocatedVcpus, allocatedMemoryMiB);

    private static PlacementRequest Request(int vcpus = 2, int memoryMiB = 4096, string? on = null) =>
        new(vcpus, memoryMiB, on is null ? null : HostDecider.HostIdFor(on));

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
    public void between_hosts_with_equal_free_memory_the_first_name_wins_whatever_the_order()
    {
        HostCandidate[] hosts = [Host("kvm-b"), Host("kvm-a"), Host("kvm-c")];

        HostPlacement.Place(Request(), hosts).HostId.ShouldBe(hosts[1].HostId);
        HostPlacement.Place(Request(), hosts.Reverse().ToArray()).HostId.ShouldBe(hosts[1].HostId);
    }

    [Fact]
    public void the_requested_host_is_chosen_when_it_passes_even_if_another_has_more_room()
    {
        HostCandidate[] hosts = [Host("kvm-01", allocatedMemoryMiB: 50_000), Host("kvm-02")];

        var result = HostPlacement.Place(Request(on: "kvm-01"), hosts);

        result.HostId.ShouldBe(hosts[0].HostId);
        result.Rejections.ShouldBe([new HostRejection(hosts[1].HostId, "kvm-02", "requested-host", "not the requested host")]);
    }

    [Fact]
    public void an_offline_requested_host_means_no_host_and_says_it_is_offline()
    {
        HostCandidate[] hosts = [Host("kvm-01", online: false), Host("kvm-02")];

        var result = HostPlacement.Place(Request(on: "kvm-01"), hosts);

        result.HostId.ShouldBeNull();
        result.Rejections.ShouldContain(new HostRejection(
            hosts[0].HostId, "kvm-01", "online", "the host's agent is not sending heartbeats"));
        result.Explain().ShouldContain("kvm-01: online: the host's agent is not sending heartbeats", Case.Sensitive);
    }

    [Fact]
    public void an_offline_host_is_never_chosen()
    {
        HostCandidate[] hosts = [Host("kvm-01", online: false, memoryMiB: 1_000_000), Host("kvm-02")];

        var result = HostPlacement.Place(Request(), hosts);

        result.HostId.ShouldBe(hosts[1].HostId);
        result.Rejections.ShouldHaveSingleItem().Filter.ShouldBe("online");
    }

    [Fact]
    public void a_host_without_enough_free_memory_is_rejected_with_the_numbers()
    {
        HostCandidate[] hosts = [Host("kvm-01", memoryMiB: 8192, allocatedMemoryMiB: 7168)];

        var result = HostPlacement.Place(Request(memoryMiB: 4096), hosts);

        result.HostId.ShouldBeNull();
        result.Rejections.ShouldBe(
            [new HostRejection(hosts[0].HostId, "kvm-01", "memory", "the VM needs 4096 MiB; 1024 MiB of 8192 MiB are free")]);
    }

    [Fact]
    public void a_vm_that_needs_exactly_the_free_memory_fits()
    {
        HostCandidate[] hosts = [Host("kvm-01", memoryMiB: 8192, allocatedMemoryMiB: 4096)];

        HostPlacement.Place(Request(memoryMiB: 4096), hosts).HostId.ShouldBe(hosts[0].HostId);
    }

    [Fact]
    public void a_host_with_fewer_cpus_than_the_vm_has_vcpus_is_rejected_with_the_numbers()
    {
        HostCandidate[] hosts = [Host("kvm-01", cpus: 4)];

        var result = HostPlacement.Place(Request(vcpus: 8), hosts);

        result.HostId.ShouldBeNull();
        result.Rejections.ShouldBe([new HostRejection(hosts[0].HostId, "kvm-01", "cpu", "the VM needs 8 vCPUs; the host has 4 CPUs")]);
        result.Explain().ShouldBe("kvm-01: cpu: the VM needs 8 vCPUs; the host has 4 CPUs");
    }

    [Fact]
    public void a_vm_with_as_many_vcpus_as_the_host_has_cpus_fits()
    {
        HostCandidate[] hosts = [Host("kvm-01", cpus: 8)];

        HostPlacement.Place(Request(vcpus: 8), hosts).HostId.ShouldBe(hosts[0].HostId);
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
    public void every_rejected_host_appears_exactly_once_with_the_first_filter_it_failed()
    {
        HostCandidate[] hosts =
        [
            Host("offline-and-small", online: false, cpus: 1, memoryMiB: 1024),
            Host("too-few-cpus-and-full", cpus: 1, memoryMiB: 1024, allocatedMemoryMiB: 1024),
            Host("full", memoryMiB: 4096, allocatedMemoryMiB: 2048),
            Host("fits"),
            Host("offline", online: false),
        ];

        var result = HostPlacement.Place(Request(vcpus: 2, memoryMiB: 4096), hosts);

        result.HostId.ShouldBe(hosts[3].HostId);
        result.Rejections.Select(r => r.HostId).ShouldBeUnique();
        result.Rejections.Select(r => (r.HostName, r.Filter)).ShouldBe(
            [("offline-and-small", "online"), ("too-few-cpus-and-full", "cpu"), ("full", "memory"), ("offline", "online")]);
        result.Explain().ShouldBe(
            "offline-and-small: online: the host's agent is not sending heartbeats; "
            + "too-few-cpus-and-full: cpu: the VM needs 2 vCPUs; the host has 1 CPUs; "
            + "full: memory: the VM needs 4096 MiB; 2048 MiB of 4096 MiB are free; "
            + "offline: online: the host's agent is not sending heartbeats");
    }

    [Fact]
    public void a_requested_host_that_is_not_registered_means_no_host()
    {
        HostCandidate[] hosts = [Host("kvm-01"), Host("kvm-02")];

        var result = HostPlacement.Place(Request(on: "kvm-99"), hosts);

        result.HostId.ShouldBeNull();
        result.Rejections.Select(r => r.Filter).ShouldBe(["requested-host", "requested-host"]);
    }
}
