using System.Collections.Concurrent;
using System.Diagnostics;
using MassTransit;
using Quantixkvm.Contracts;
using Quantixkvm.ControlPlane.Ha.Fencing;
using Quantixkvm.ControlPlane.Tests.Support;
using Quantixkvm.Domain.Hosts;
using Quantixkvm.Hosting;
using Quantixkvm.Testing;

namespace Quantixkvm.ControlPlane.Tests.Fencing;

/// <summary>A RabbitMQ vhost of the class's own and the fencing services on it.</summary>
public sealed class AgentFencingFixture : IAsyncLifetime
{
    public string VirtualHost { get; } = TestServices.UniqueName("fence");

    public FencingHost Host { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        await TestServices.CreateVirtualHostAsync(VirtualHost);
        Host = await FencingHost.StartAsync(new Dictionary<string, string?> { ["AgentReplySeconds"] = "1.5" }, VirtualHost);
    }

    public async Task DisposeAsync()
    {
        await Host.DisposeAsync();
        await TestServices.DeleteVirtualHostAsync(VirtualHost);
    }
}

/// <summary>The agent fencer over the real broker: the test plays the host's agent on its host queue.</summary>
public sealed class AgentFencerTests(AgentFencingFixture fixture) : IClassFixture<AgentFencingFixture>
{
    [Fact]
    public async Task a_host_whose_agent_powers_its_domains_off_is_fenced_with_their_ids()
    {
        var target = FencingHost.Target(HostFencing.Default);
        var stopped = new[] { Guid.NewGuid(), Guid.NewGuid() };
        await using var agent = await FencingAgent.StartAsync(fixture.VirtualHost, target.HostId, fence => fence with { StoppedVmIds = stopped });

        var verdict = await fixture.Host.Fencer("agent").FenceAsync(target, CancellationToken.None);

        verdict.Fenced.ShouldBeTrue(verdict.Detail);
        verdict.Detail.ShouldContain("powered off 2 domains");
        verdict.Detail.ShouldContain(stopped[0].ToString());
        verdict.Detail.ShouldContain(stopped[1].ToString());
        var asked = agent.Received.ShouldHaveSingleItem();
        asked.HostId.ShouldBe(target.HostId);
        asked.FenceId.ShouldBe(target.FenceId);
        fixture.Host.Replies.Pending.ShouldBe(0);
    }

    [Fact]
    public async Task a_host_whose_agent_does_not_answer_is_not_fenced_after_the_reply_time()
    {
        var target = FencingHost.Target(HostFencing.Default);

        var clock = Stopwatch.StartNew();
        var verdict = await fixture.Host.Fencer("agent").FenceAsync(target, CancellationToken.None);

        verdict.Fenced.ShouldBeFalse();
        verdict.Detail.ShouldBe($"the agent on host {target.HostName} did not answer within 1.5 s");
        clock.Elapsed.ShouldBeGreaterThanOrEqualTo(TimeSpan.FromSeconds(1.4));
        clock.Elapsed.ShouldBeLessThan(TimeSpan.FromSeconds(15));
        fixture.Host.Replies.Pending.ShouldBe(0);
    }

    [Fact]
    public async Task a_reply_for_another_fencing_round_or_another_host_does_not_count()
    {
        var target = FencingHost.Target(HostFencing.Default);
        var answers = 0;
        await using var agent = await FencingAgent.StartAsync(fixture.VirtualHost, target.HostId, fence =>
            Interlocked.Increment(ref answers) % 2 == 1 ? fence with { FenceId = Guid.NewGuid() } : fence with { HostId = Guid.NewGuid() });

        var first = await fixture.Host.Fencer("agent").FenceAsync(target, CancellationToken.None);
        var second = await fixture.Host.Fencer("agent").FenceAsync(target, CancellationToken.None);

        agent.Received.Count.ShouldBe(2);
        first.Fenced.ShouldBeFalse(first.Detail);
        first.Detail.ShouldContain("did not answer");
        second.Fenced.ShouldBeFalse(second.Detail);
    }

    [Fact]
    public async Task fencing_through_the_agent_stops_when_its_caller_cancels()
    {
        var target = FencingHost.Target(HostFencing.Default);
        using var cancel = new CancellationTokenSource(TimeSpan.FromMilliseconds(200));

        await Should.ThrowAsync<OperationCanceledException>(() => fixture.Host.Fencer("agent").FenceAsync(target, cancel.Token));
    }
}

/// <summary>Plays a host's agent on its host queue: answers each FenceHost with a HostFencedBySelf, reshaped as the test says.</summary>
internal sealed class FencingAgent : IAsyncDisposable
{
    private readonly IBusControl _bus;
    private readonly ConcurrentQueue<FenceHost> _received = new();

    private FencingAgent(string virtualHost, Guid hostId, Func<HostFencedBySelf, HostFencedBySelf> answer)
    {
        _bus = MassTransit.Bus.Factory.CreateUsingRabbitMq(rabbitmq =>
        {
            rabbitmq.UseQuantixkvmBroker(FakeAgent.BrokerOptions(virtualHost));
            rabbitmq.ReceiveEndpoint(AgentQueues.ForHost(hostId), e =>
            {
                e.ConfigureConsumeTopology = false;
                e.Handler<FenceHost>(async context =>
                {
                    _received.Enqueue(context.Message);
                    var reply = new HostFencedBySelf(context.Message.HostId, context.Message.FenceId, [], DateTimeOffset.UtcNow);
                    await context.Publish(answer(reply));
                });
            });
        });
    }

    public IReadOnlyList<FenceHost> Received => [.. _received];

    public static async Task<FencingAgent> StartAsync(string virtualHost, Guid hostId, Func<HostFencedBySelf, HostFencedBySelf> answer)
    {
        var agent = new FencingAgent(virtualHost, hostId, answer);
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        await agent._bus.StartAsync(cts.Token);
        return agent;
    }

    public async ValueTask DisposeAsync()
    {
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        await _bus.StopAsync(cts.Token);
    }
}
