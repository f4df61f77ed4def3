using Quantixkvm.ControlPlane.Tests.Support;

namespace Quantixkvm.ControlPlane.Tests;

/// <summary>Placement through the API: it explains refusals and does not overfill a host.</summary>
public sealed class PlacementTests(PlacementTests.NoHosts fixture) : IClassFixture<PlacementTests.NoHosts>
{
    /// <summary>Each test registers the hosts it needs.</summary>
    public sealed class NoHosts : ControlPlaneFixture
    {
        protected override bool StartsAgent => false;
    }

    [Fact]
    public async Task a_vm_too_big_for_every_host_is_refused_with_each_hosts_reason()
    {
        await using var small = await FakeAgent.StartOnlineAsync(fixture.App, cpus: 2, memoryMiB: 1024);

        var (code, error) = await fixture.App.Api().ErrorAsync(
            "mutation { createVm(input: { name: \"too-big\", vcpus: 1, memoryMiB: 4096 }) { operation { id } } }");

        code.ShouldBe("NO_HOST_AVAILABLE");
        var rejection = error["extensions"]!["rejections"]!.AsArray().Single(r => r!["hostId"]!.GetValue<string>() == small.HostId.ToString())!;
        rejection["filter"]!.GetValue<string>().ShouldBe("memory");
        rejection["reason"]!.GetValue<string>().ShouldContain("4096 MiB");
    }

    [Fact]
    public async Task a_host_filled_by_earlier_vms_refuses_the_next_one_for_memory()
    {
        await using var host = await FakeAgent.StartOnlineAsync(fixture.App, cpus: 64, memoryMiB: 1024);
        var api = fixture.App.Api();
        await api.CreateVmAsync("first-half", hostId: host.HostId, memoryMiB: 512);
        await api.CreateVmAsync("second-half", hostId: host.HostId, memoryMiB: 512);

        var (code, error) = await api.ErrorAsync(
            "mutation($host: ID) { createVm(input: { name: \"one-too-many\", vcpus: 1, memoryMiB: 512, hostId: $host }) { operation { id } } }",
            new { host = host.HostId.ToString() });

        code.ShouldBe("NO_HOST_AVAILABLE");
        var rejection = error["extensions"]!["rejections"]!.AsArray().Single(r => r!["hostId"]!.GetValue<string>() == host.HostId.ToString())!;
        rejection["filter"]!.GetValue<string>().ShouldBe("memory");
        rejection["reason"]!.GetValue<string>().ShouldContain("0 MiB of 1024 MiB are free");
    }

    [Fact]
    public async Task parallel_creates_never_place_more_memory_on_a_host_than_it_has()
    {
        await using var host = await FakeAgent.StartOnlineAsync(fixture.App, cpus: 64, memoryMiB: 1024);
        var api = fixture.App.Api();

        var answers = await Task.WhenAll(Enumerable.Range(0, 8).Select(i => Task.Run(() => api.SendAsync(
            "mutation($input: CreateVmInput!) { createVm(input: $input) { operation { id } } }",
            new { input = new { name = $"half-{i}", vcpus = 1, memoryMiB = 512, hostId = host.HostId.ToString() } }))));

        answers.Count(a => a["errors"] is null).ShouldBe(2, "1024 MiB hold two 512 MiB VMs");
        answers.Where(a => a["errors"] is not null).Select(a => a["errors"]![0]!["extensions"]!["code"]!.GetValue<string>())
            .ShouldAllBe(c => c == "NO_HOST_AVAILABLE");
    }
}
