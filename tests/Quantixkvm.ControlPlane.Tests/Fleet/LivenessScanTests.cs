using Microsoft.Extensions.DependencyInjection;
using Quantixkvm.ControlPlane.Fleet;
using Quantixkvm.ControlPlane.ReadModels;
using Quantixkvm.ControlPlane.Tests.Support;
using Quantixkvm.Domain.Hosts;

namespace Quantixkvm.ControlPlane.Tests.Fleet;

/// <summary>
/// The liveness scan decides on one read of every host. A heartbeat that arrives after that read must win: the scan
/// must not record a host UNREACHABLE that has just been heard from.
/// </summary>
public sealed class LivenessScanTests(LivenessScanTests.ManualScans fixture) : IClassFixture<LivenessScanTests.ManualScans>
{
    /// <summary>Hosts are judged dead after two seconds of silence, and the scan runs only when a test runs it.</summary>
    public sealed class ManualScans : ControlPlaneFixture
    {
        protected override IReadOnlyDictionary<string, string?> Settings => new Dictionary<string, string?>
        {
            ["ControlPlane:HeartbeatTimeoutSeconds"] = "2",
            ["ControlPlane:Fleet:LivenessScanSeconds"] = "3600",
        };

        protected override bool StartsAgent => false;
    }

    [Fact]
    public async Task a_heartbeat_that_arrives_after_the_scan_read_the_hosts_keeps_the_host_from_being_marked_unreachable()
    {
        await using var agent = await FakeAgent.StartOnlineAsync(fixture.App);
        await agent.StopHeartbeatsAsync();
        await agent.WaitUntilAsync(fixture.App, "UNREACHABLE");
        var silent = await ReadHostsAsync();
        silent.Single(h => h.Host.Id == agent.HostId).Status.ShouldBe(HostStatus.Unreachable, "the read the scan acts on");

        await fixture.App.Consumed.WaitAsync(await agent.HeartbeatAsync());
        await ScanAsync(silent);

        (await fixture.App.Events.StreamAsync(agent.HostId)).Select(e => e.Type).ShouldNotContain("host.unreachable.v1");
    }

    [Fact]
    public async Task a_host_still_silent_when_the_scan_acts_is_marked_unreachable()
    {
        await using var agent = await FakeAgent.StartOnlineAsync(fixture.App);
        await agent.StopHeartbeatsAsync();
        await agent.WaitUntilAsync(fixture.App, "UNREACHABLE");

        await ScanAsync(await ReadHostsAsync());

        (await fixture.App.Events.StreamAsync(agent.HostId)).Select(e => e.Type).ShouldContain("host.unreachable.v1");
    }

    private async Task<IReadOnlyList<HostSnapshot>> ReadHostsAsync()
    {
        await using var scope = fixture.App.Services.CreateAsyncScope();
        return await scope.ServiceProvider.GetRequiredService<HostDirectory>().AllAsync(CancellationToken.None);
    }

    private async Task ScanAsync(IReadOnlyList<HostSnapshot> hosts)
    {
        var watcher = fixture.App.Services.GetRequiredService<LivenessWatcher>();
        await using var scope = fixture.App.Services.CreateAsyncScope();
        await watcher.ScanAsync(scope.ServiceProvider, hosts, CancellationToken.None);
    }
}
