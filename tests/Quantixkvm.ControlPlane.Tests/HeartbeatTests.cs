using Quantixkvm.ControlPlane.Tests.Fleet;
using Quantixkvm.ControlPlane.Tests.Support;

namespace Quantixkvm.ControlPlane.Tests;

/// <summary>Liveness is the agent's own heartbeat: without it a host is UNREACHABLE and gets no VMs; heartbeats are telemetry, not history.</summary>
public sealed class HeartbeatTests(HeartbeatTests.ShortHeartbeatTimeout fixture) : IClassFixture<HeartbeatTests.ShortHeartbeatTimeout>
{
    /// <summary>A host is judged dead two seconds after its last heartbeat; each test brings its own host.</summary>
    public sealed class ShortHeartbeatTimeout : ControlPlaneFixture
    {
        protected override IReadOnlyDictionary<string, string?> Settings => new Dictionary<string, string?>
        {
            ["ControlPlane:HeartbeatTimeoutSeconds"] = "2",
        };

        protected override bool StartsAgent => false;
    }

    [Fact]
    public async Task storage_work_for_an_unreachable_host_is_refused_at_once_instead_of_waiting_for_its_deadline()
    {
        await using var agent = await FakeAgent.StartOnlineAsync(fixture.App);
        var api = fixture.App.Api();
        var poolId = await api.ReadyPoolAsync(agent.HostId, "stranded");

        await agent.StopHeartbeatsAsync();
        await agent.WaitUntilAsync(fixture.App, "UNREACHABLE");

        var created = await api.SendAsync(StorageApi.CreatePool, new { input = StorageApi.DirPoolInput(agent.HostId, "late", StorageApi.UniquePath("late")) });
        created.Error().Code.ShouldBe("NO_HOST_AVAILABLE");
        created.Error().Error.Str("message").ShouldContain("UNREACHABLE");
        var refreshed = await api.SendAsync("mutation($id: ID!) { refreshStoragePool(id: $id) { operation { id } } }", new { id = poolId });
        refreshed.Error().Code.ShouldBe("NO_HOST_AVAILABLE");
    }

    [Fact]
    public async Task a_host_whose_heartbeats_stop_becomes_unreachable_and_placement_refuses_it_as_not_online()
    {
        await using var agent = await FakeAgent.StartOnlineAsync(fixture.App);
        var api = fixture.App.Api();

        await agent.StopHeartbeatsAsync();
        await agent.WaitUntilAsync(fixture.App, "UNREACHABLE");

        var host = (await api.DataAsync("query($id: ID!) { host(id: $id) { state lastHeartbeatAt } }", new { id = agent.HostId.ToString() }))["host"]!;
        host["lastHeartbeatAt"].ShouldNotBeNull("the last heartbeat is still shown");
        var (code, error) = await api.ErrorAsync(
            "mutation { createVm(input: { name: \"nowhere\", vcpus: 1, memoryMiB: 256 }) { operation { id } } }");
        code.ShouldBe("NO_HOST_AVAILABLE");
        var rejections = error["extensions"]!["rejections"]!.AsArray();
        var rejection = rejections.Single(r => r!["hostId"]!.GetValue<string>() == agent.HostId.ToString())!;
        rejection["filter"]!.GetValue<string>().ShouldBe("availability");
        rejection["hostName"]!.GetValue<string>().ShouldBe(agent.Name);
        rejection["reason"]!.GetValue<string>().ShouldContain("heartbeat");
        error["message"]!.GetValue<string>().ShouldContain(agent.Name);

        // A host that beats again is back in placement. Its silence is recorded first: ONLINE then means recovered.
        await Eventually.WaitAsync(async () => (await api.HistoryAsync("host", agent.HostId.ToString())).Contains("host.unreachable.v1"),
            "the liveness scan to record the host unreachable");
        agent.StartHeartbeats(TimeSpan.FromMilliseconds(250));
        await agent.WaitUntilAsync(fixture.App, "ONLINE");
        var created = await api.CreateVmAsync("somewhere", hostId: agent.HostId);
        created.Str("operation.hostId").ShouldBe(agent.HostId.ToString());
    }

    [Fact]
    public async Task heartbeats_are_kept_as_telemetry_and_never_stored_as_events()
    {
        await using var agent = await FakeAgent.StartOnlineAsync(fixture.App);
        await agent.StopHeartbeatsAsync();
        var before = await fixture.App.Events.AllAsync();

        for (var i = 0; i < 5; i++)
        {
            await fixture.App.Consumed.WaitAsync(await agent.HeartbeatAsync());
        }

        var after = await fixture.App.Events.AllAsync();
        after.Count.ShouldBe(before.Count, "heartbeats append nothing");
        after.ShouldNotContain(e => e.Type.Contains("heartbeat", StringComparison.OrdinalIgnoreCase));
        (await fixture.App.Events.StreamAsync(agent.HostId)).Select(e => e.Type).ShouldBe(["host.registered.v1"]);
        (await fixture.App.Events.ScalarAsync($"select count(*) from {{schema}}.mt_doc_hostliveness where id = '{agent.HostId}'"))
            .ShouldBe(1, "one telemetry document per host, overwritten in place");
    }
}
