using Quantixkvm.ControlPlane.Tests.Support;

namespace Quantixkvm.ControlPlane.Tests.Fleet;

/// <summary>Placement through the API with several hosts: every host's verdict is explained, and clusters, labels, overcommit and maintenance steer it.</summary>
public sealed class PlacementExplanationTests(PlacementExplanationTests.Fixture fixture) : IClassFixture<PlacementExplanationTests.Fixture>
{
    public sealed class Fixture : FleetFixture
    {
        protected override IReadOnlyDictionary<string, string?> Settings => new Dictionary<string, string?>
        {
            ["ControlPlane:Fleet:MaintenanceScanSeconds"] = "0.5",
        };
    }

    private const string Placement =
        $"query($input: PlacementInput!) {{ placement(input: $input) {{ host {{ id name }} rejections {{ {FleetApi.RejectionFields} }} explanation }} }}";

    private const string CreateVm = "mutation($input: CreateVmInput!) { createVm(input: $input) { operation { id hostId } vm { id } } }";

    [Fact]
    public async Task the_placement_query_and_a_create_that_fits_nowhere_give_every_host_its_filter_and_reason()
    {
        var api = fixture.App.Api();
        await using var small = await FakeAgent.StartOnlineAsync(fixture.App, cpus: 2, memoryMiB: 2048);
        await using var medium = await FakeAgent.StartOnlineAsync(fixture.App, cpus: 8, memoryMiB: 8192);
        await using var big = await FakeAgent.StartOnlineAsync(fixture.App, cpus: 16, memoryMiB: 4096);
        var clusterId = await api.ClusterWithAsync(null, medium, big);
        await api.SetLabelsAsync(medium.HostId, ("disk", "hdd"));
        await api.SetLabelsAsync(big.HostId, ("disk", "ssd"));
        var labels = new[] { new { key = "disk", value = "ssd" } };

        var fits = (await api.DataAsync(Placement, new { input = new { vcpus = 2, memoryMiB = 2048, clusterId, requiredLabels = labels } }))["placement"]!;
        fits.Str("host.id").ShouldBe(big.HostId.ToString());
        fits.Str("explanation").ShouldBe("placed");
        var smallRejected = FleetApi.RejectionOf(fits["rejections"]!, small.HostId);
        smallRejected.Str("filter").ShouldBe("cluster");
        smallRejected.Str("reason").ShouldContain("in no cluster");
        var mediumRejected = FleetApi.RejectionOf(fits["rejections"]!, medium.HostId);
        mediumRejected.Str("filter").ShouldBe("labels");
        mediumRejected.Str("reason").ShouldBe("the request needs label disk=ssd (the host has disk=hdd)");
        mediumRejected.Str("hostName").ShouldBe(medium.Name);

        var tooBig = (await api.DataAsync(Placement, new { input = new { vcpus = 2, memoryMiB = 6144, clusterId, requiredLabels = labels } }))["placement"]!;
        tooBig["host"].ShouldBeNull();
        var memory = FleetApi.RejectionOf(tooBig["rejections"]!, big.HostId);
        memory.Str("filter").ShouldBe("memory");
        memory.Str("reason").ShouldContain("the VM needs 6144 MiB; 4096 MiB of 4096 MiB are free");
        foreach (var host in new[] { small, medium, big })
        {
            tooBig.Str("explanation").ShouldContain(host.Name);
        }

        var (code, error) = await api.ErrorAsync(CreateVm, new { input = new { name = "nowhere", vcpus = 2, memoryMiB = 6144, clusterId, requiredLabels = labels } });
        code.ShouldBe("NO_HOST_AVAILABLE");
        var rejections = error["extensions"]!["rejections"]!;
        FleetApi.RejectionOf(rejections, small.HostId).Str("filter").ShouldBe("cluster");
        FleetApi.RejectionOf(rejections, medium.HostId).Str("filter").ShouldBe("labels");
        FleetApi.RejectionOf(rejections, big.HostId).Str("filter").ShouldBe("memory");
        error.Str("message").ShouldContain(big.Name);
        (await api.DataAsync("{ vms { name } }"))["vms"]!.AsArray().ShouldNotContain(v => v!.Str("name") == "nowhere");
    }

    [Fact]
    public async Task required_labels_and_a_cluster_id_steer_create_vm_to_the_only_host_that_matches()
    {
        var api = fixture.App.Api();
        await using var first = await FakeAgent.StartOnlineAsync(fixture.App);
        await using var second = await FakeAgent.StartOnlineAsync(fixture.App);
        await using var third = await FakeAgent.StartOnlineAsync(fixture.App);
        var rack = FleetApi.Unique("rack");
        await api.SetLabelsAsync(second.HostId, ("rack", rack));
        var clusterId = await api.ClusterWithAsync(null, third);

        for (var i = 0; i < 3; i++)
        {
            var byLabel = (await api.DataAsync(CreateVm, new { input = new { name = $"labelled-{i}", vcpus = 1, memoryMiB = 256, requiredLabels = new[] { new { key = "rack", value = rack } } } }))["createVm"]!;
            byLabel.Str("operation.hostId").ShouldBe(second.HostId.ToString());
            var byCluster = (await api.DataAsync(CreateVm, new { input = new { name = $"clustered-{i}", vcpus = 1, memoryMiB = 256, clusterId } }))["createVm"]!;
            byCluster.Str("operation.hostId").ShouldBe(third.HostId.ToString());
        }

        var (code, _) = await api.ErrorAsync(CreateVm, new { input = new { name = "lost", vcpus = 1, memoryMiB = 256, clusterId = Guid.NewGuid().ToString() } });
        code.ShouldBe("NOT_FOUND");

        // The decision is recorded with the VM: where it went, and why each other host did not take it.
        var placed = (await api.DataAsync(CreateVm, new { input = new { name = "recorded", vcpus = 1, memoryMiB = 256, clusterId } }))["createVm"]!;
        var decision = (await api.DataAsync(
            "query($id: ID!) { vm(id: $id) { placement { purpose hostId hostsConsidered rejectedByFilter { filter count } rejections { hostId filter reason } } } }",
            new { id = placed.Str("vm.id") }))["vm"]!["placement"]!;
        decision.Str("purpose").ShouldBe("create");
        decision.Str("hostId").ShouldBe(third.HostId.ToString());
        var rejected = decision["rejections"]!.AsArray();
        FleetApi.RejectionOf(rejected, first.HostId).Str("filter").ShouldBe("cluster");
        FleetApi.RejectionOf(rejected, second.HostId).Str("filter").ShouldBe("cluster");
        decision["rejectedByFilter"]!.AsArray().Single(f => f!["filter"]!.GetValue<string>() == "cluster")!["count"]!.GetValue<int>()
            .ShouldBeGreaterThanOrEqualTo(2, "at least the two hosts outside the cluster");
        decision["hostsConsidered"]!.GetValue<int>().ShouldBe(rejected.Count + 1, "every host considered is either chosen or rejected with a reason");
    }

    [Fact]
    public async Task a_clusters_cpu_overcommit_decides_whether_a_host_with_its_cpus_allocated_takes_another_vm()
    {
        var api = fixture.App.Api();
        await using var host = await FakeAgent.StartOnlineAsync(fixture.App, cpus: 2, memoryMiB: 8192);
        var clusterId = await api.ClusterWithAsync(new { cpuOvercommit = 1.0 }, host);
        (await api.DataAsync(CreateVm, new { input = new { name = "two-cpus", vcpus = 2, memoryMiB = 256, clusterId } }))["createVm"]!
            .Str("operation.hostId").ShouldBe(host.HostId.ToString());
        var input = new { vcpus = 1, memoryMiB = 256, clusterId };

        var full = (await api.DataAsync(Placement, new { input }))["placement"]!;
        full["host"].ShouldBeNull();
        var cpu = FleetApi.RejectionOf(full["rejections"]!, host.HostId);
        cpu.Str("filter").ShouldBe("cpu");
        cpu.Str("reason").ShouldBe("the VM needs 1 vCPUs; 2 of 2 vCPUs are allocated (2 CPUs, no overcommit)");
        (await api.HostAsync(host.HostId, "allocation { allocatedVcpus vcpuCapacity }"))["allocation"]!["vcpuCapacity"]!.GetValue<double>().ShouldBe(2);

        await api.DataAsync(
            "mutation($id: ID!, $settings: ClusterSettingsInput!) { configureCluster(clusterId: $id, settings: $settings) { id } }",
            new { id = clusterId, settings = new { cpuOvercommit = 2.0 } });

        var room = (await api.DataAsync(Placement, new { input }))["placement"]!;
        room.Str("host.id").ShouldBe(host.HostId.ToString());
        (await api.HostAsync(host.HostId, "allocation { vcpuCapacity }"))["allocation"]!["vcpuCapacity"]!.GetValue<double>().ShouldBe(4);
        (await api.DataAsync(CreateVm, new { input = new { name = "overcommitted", vcpus = 1, memoryMiB = 256, clusterId } }))["createVm"]!
            .Str("operation.hostId").ShouldBe(host.HostId.ToString());
    }

    [Fact]
    public async Task a_host_in_maintenance_gets_no_new_vm_and_placement_names_the_availability_filter()
    {
        var api = fixture.App.Api();
        await using var host = await FakeAgent.StartOnlineAsync(fixture.App);
        var clusterId = await api.ClusterWithAsync(null, host);
        var before = (await api.DataAsync(Placement, new { input = new { vcpus = 1, memoryMiB = 256, clusterId } }))["placement"]!;
        before.Str("host.id").ShouldBe(host.HostId.ToString());

        await api.DataAsync("mutation($id: ID!) { enterMaintenance(hostId: $id) { id } }", new { id = host.HostId.ToString() });
        await api.HostUntilAsync(host.HostId, h => h.Str("maintenance") == "IN_MAINTENANCE", "the empty host to be IN_MAINTENANCE");

        var after = (await api.DataAsync(Placement, new { input = new { vcpus = 1, memoryMiB = 256, clusterId } }))["placement"]!;
        after["host"].ShouldBeNull();
        var rejection = FleetApi.RejectionOf(after["rejections"]!, host.HostId);
        rejection.Str("filter").ShouldBe("availability");
        rejection.Str("reason").ShouldContain("maintenance");
        var (code, error) = await api.ErrorAsync(CreateVm, new { input = new { name = "not-here", vcpus = 1, memoryMiB = 256, hostId = host.HostId.ToString() } });
        code.ShouldBe("NO_HOST_AVAILABLE");
        FleetApi.RejectionOf(error["extensions"]!["rejections"]!, host.HostId).Str("filter").ShouldBe("availability");
    }
}
