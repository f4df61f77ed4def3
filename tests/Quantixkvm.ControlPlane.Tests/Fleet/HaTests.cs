using Quantixkvm.Contracts;
using Quantixkvm.ControlPlane.Tests.Support;

namespace Quantixkvm.ControlPlane.Tests.Fleet;

/// <summary>
/// HA on the control plane's side, with fake agents: a silent host of an HA cluster is fenced before its VMs are restarted
/// elsewhere, each once; without proof of fencing nothing is restarted.
/// </summary>
public sealed class HaTests(HaTests.Fixture fixture) : IClassFixture<HaTests.Fixture>
{
    public sealed class Fixture : FleetFixture
    {
        protected override IReadOnlyDictionary<string, string?> Settings => new Dictionary<string, string?>
        {
            ["ControlPlane:Fleet:LivenessScanSeconds"] = "0.5",
            ["ControlPlane:Fleet:HaScanSeconds"] = "0.5",
            ["ControlPlane:Fleet:FenceRetrySeconds"] = "60",
            ["ControlPlane:Fencing:AgentReplySeconds"] = "1",
        };
    }

    private static readonly TimeSpan Failover = TimeSpan.FromSeconds(20);

    private const string ConfigureFencing = "mutation($hostId: ID!, $fencing: FencingInput!) { configureHostFencing(hostId: $hostId, fencing: $fencing) { id } }";

    private static void Answering(FakeAgent agent) => FleetApi.AnswerEverything(agent);

    [Fact]
    public async Task a_silent_host_is_fenced_by_its_agent_then_its_protected_vms_restart_once_elsewhere_and_its_leftovers_are_released_when_it_returns()
    {
        var api = fixture.App.Api();
        await using var failing = await FakeAgent.StartOnlineAsync(fixture.App, configure: Answering);
        await using var b = await FakeAgent.StartOnlineAsync(fixture.App, configure: Answering);
        await using var c = await FakeAgent.StartOnlineAsync(fixture.App, configure: Answering);
        await api.ClusterWithAsync(new { haEnabled = true, hostFailureDetectionSeconds = 3.0 }, failing, b, c);
        await api.DataAsync(ConfigureFencing, new { hostId = failing.HostId.ToString(), fencing = new { order = new[] { "agent" } } });
        var high = await api.VmOnAsync(failing, "ha-high", start: true, haPriority: "HIGH");
        var medium = await api.VmOnAsync(failing, "ha-medium", start: true);
        var stopped = await api.VmOnAsync(failing, "ha-stopped", start: false, haPriority: "LOW");
        var unprotected = await api.VmOnAsync(failing, "ha-disabled", start: true, haPriority: "DISABLED");
        var moved = new[] { high, medium, stopped };
        failing.AnswersFence = true;
        failing.FencedVmIds = [Guid.Parse(high), Guid.Parse(medium), Guid.Parse(unprotected)];

        await failing.StopHeartbeatsAsync();

        var fenced = await api.HostUntilAsync(failing.HostId, h => h.Str("state") == "FENCED", "the silent host to be FENCED", Failover);
        fenced.Str("fencedBy").ShouldBe("agent");
        fenced.Str("fenceEvidence").ShouldContain("powered off 3 domains");
        var fence = failing.Fences.ShouldHaveSingleItem();
        fence.HostId.ShouldBe(failing.HostId);
        var hostHistory = await api.HistoryAsync("host", failing.HostId.ToString());
        hostHistory.ShouldContain("host.unreachable.v1");
        hostHistory.IndexOf("host.unreachable.v1").ShouldBeLessThan(hostHistory.IndexOf("host.fencing-started.v1"));
        hostHistory.IndexOf("host.fencing-started.v1").ShouldBeLessThan(hostHistory.IndexOf("host.fenced.v1"));

        var others = new[] { b, c };
        foreach (var vmId in moved)
        {
            var newHost = await Eventually.WaitAsync(
                () => api.HostOfVmAsync(vmId), h => h is not null && h != failing.HostId.ToString(), $"VM {vmId} to be restarted elsewhere", Failover);
            var target = others.Single(h => h.HostId.ToString() == newHost);
            var recover = await Eventually.WaitAsync(
                () => Task.FromResult(target.Received.FirstOrDefault(m => m.Domain.VmId == Guid.Parse(vmId))), m => m is not null,
                $"the Recover operation for VM {vmId} on {target.Name}'s queue");
            recover!.Kind.ShouldBe(DomainOperationKind.Recover);
            recover.DesiredPowerState.ShouldBe(vmId == stopped ? DomainPowerState.Stopped : DomainPowerState.Running);
            await Eventually.WaitAsync(async () => (await api.VmHostAsync(vmId))["currentOperation"] is null, $"VM {vmId}'s recovery to end");
        }

        (await api.HostOfVmAsync(unprotected)).ShouldBe(failing.HostId.ToString(), "HA priority DISABLED: the VM stays on its failed host");
        await Task.Delay(TimeSpan.FromSeconds(2)); // four more HA scans
        foreach (var vmId in moved)
        {
            (await api.HistoryAsync("vm", vmId)).Count(t => t == "vm.relocated.v1").ShouldBe(1, $"VM {vmId} is restarted exactly once");
            others.SelectMany(h => h.Received).Count(m => m.Domain.VmId == Guid.Parse(vmId) && m.Kind == DomainOperationKind.Recover).ShouldBe(1);
        }

        (await api.HistoryAsync("vm", unprotected)).ShouldNotContain("vm.relocated.v1");
        var haEvents = (await api.DataAsync("{ haEvents { type } }"))["haEvents"]!.AsArray().Select(e => e!.Str("type")).ToList();
        haEvents.ShouldContain("host.fenced.v1");
        haEvents.ShouldContain("vm.relocated.v1");

        failing.StartHeartbeats(TimeSpan.FromMilliseconds(250));
        await failing.WaitUntilAsync(fixture.App, "ONLINE", Failover);
        (await api.HistoryAsync("host", failing.HostId.ToString())).ShouldContain("host.recovered.v1");

        var releasesBefore = failing.Releases.Count;
        await fixture.App.Consumed.WaitAsync(await failing.ReportInventoryAsync(
            new InventoryDomain(Guid.NewGuid(), "ha-high", DomainPowerState.Running, Guid.Parse(high)),
            new InventoryDomain(Guid.NewGuid(), "ha-disabled", DomainPowerState.Stopped, Guid.Parse(unprotected))));
        var release = await Eventually.WaitAsync(
            () => Task.FromResult(failing.Releases.Skip(releasesBefore).FirstOrDefault()), r => r is not null,
            "ReleaseDomains for the leftover domain in the returned host's inventory");
        release!.HostId.ShouldBe(failing.HostId);
        release.VmIds.ShouldBe([Guid.Parse(high)], "only the domain of the VM that now lives elsewhere is released");
        release.Reason.ShouldContain("live on other hosts");
    }

    [Fact]
    public async Task an_unreachable_host_whose_every_fencer_fails_is_never_fenced_and_its_vms_are_not_restarted()
    {
        var api = fixture.App.Api();
        await using var failing = await FakeAgent.StartOnlineAsync(fixture.App, configure: Answering);
        await using var spare = await FakeAgent.StartOnlineAsync(fixture.App, configure: Answering);
        await api.ClusterWithAsync(new { haEnabled = true, hostFailureDetectionSeconds = 3.0 }, failing, spare);
        await api.DataAsync(ConfigureFencing, new { hostId = failing.HostId.ToString(), fencing = new { order = new[] { "agent", "storage-lease" } } });
        var vmId = await api.VmOnAsync(failing, "unproven", start: true, haPriority: "HIGH");
        failing.AnswersFence = false;

        await failing.StopHeartbeatsAsync();

        var history = await Eventually.WaitAsync(
            () => api.HistoryAsync("host", failing.HostId.ToString()), h => h.Contains("host.fencing-failed.v1"), "fencing to fail", Failover);
        history.Count(t => t == "host.fence-attempt-failed.v1").ShouldBe(2, "the agent, then the storage lease");
        history.ShouldNotContain("host.fenced.v1");
        failing.Fences.ShouldNotBeEmpty("the agent was asked, and did not answer");
        var host = await api.HostAsync(failing.HostId);
        host.Str("state").ShouldBe("UNREACHABLE");
        host.Str("lastFenceFailure").ShouldContain("storage-lease");
        host["fencedAt"].ShouldBeNull();

        await Task.Delay(TimeSpan.FromSeconds(2)); // four more HA scans
        (await api.HostAsync(failing.HostId)).Str("state").ShouldBe("UNREACHABLE");
        (await api.HostOfVmAsync(vmId)).ShouldBe(failing.HostId.ToString());
        (await api.HistoryAsync("vm", vmId)).ShouldNotContain("vm.relocated.v1");
        spare.Received.ShouldBeEmpty("nothing is restarted without proof that the host is off");
    }
}
