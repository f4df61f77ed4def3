using Microsoft.Extensions.DependencyInjection;
using Quantixkvm.Contracts;
using Quantixkvm.ControlPlane.Commands;
using Quantixkvm.ControlPlane.Tests.Support;
using Quantixkvm.Domain.Vms;

namespace Quantixkvm.ControlPlane.Tests;

/// <summary>
/// Dispatch runs from the event log with a checkpoint: commands recorded while it is held are sent
/// once it runs again, each exactly once, and operations that ended meanwhile are not sent late.
/// </summary>
public sealed class DispatchResumeTests(DispatchResumeTests.HeldDispatch fixture) : IClassFixture<DispatchResumeTests.HeldDispatch>
{
    /// <summary>Schema and vhost only: the test starts its control planes itself.</summary>
    public sealed class HeldDispatch : ControlPlaneFixture
    {
        protected override bool StartsControlPlane => false;
    }

    [Fact]
    public async Task commands_recorded_while_dispatch_is_held_are_sent_exactly_once_when_it_resumes()
    {
        var held = await fixture.StartControlPlaneAsync(new Dictionary<string, string?> { ["ControlPlane:DispatchEnabled"] = "false" });
        await using var agent = await FakeAgent.StartOnlineAsync(held);
        var correlation = Guid.NewGuid();
        var api = held.Api(correlation);

        // One operation ends while dispatch is held (here: the agent's outcome arrives by another way)…
        var ended = await api.CreateVmAsync("ended-while-held");
        await held.InScopeAsync(services => services.GetRequiredService<VmCommands>().HandleAsync(
            Guid.Parse(ended.Str("vm.id")),
            (context, _) => new FailOperation(context, Guid.Parse(ended.Str("operation.id")), "TEST", "ended while dispatch was held", PowerState.Unknown),
            new CommandMetadata($"fail-{Guid.NewGuid():N}", "user:test", correlation.ToString()), expectedVersion: null, CancellationToken.None));
        // …and one is still pending when dispatch resumes.
        var pending = await api.CreateVmAsync("pending-while-held");
        var pendingId = Guid.Parse(pending.Str("operation.id"));

        // The held control plane's daemon has read past both operations (its change feed did) and sent nothing.
        var head = (await held.Events.AllAsync()).Max(e => e.Sequence);
        await Eventually.WaitAsync(() => held.Events.ProgressAsync("change-feed"), p => p >= head, "the held control plane's daemon to pass the new events");
        (await held.Events.ProgressAsync("agent-dispatch")).ShouldBeNull("no dispatch subscription runs while dispatch is held");
        agent.Received.ShouldBeEmpty("nothing reaches the host queue while dispatch is held");
        await held.DisposeAsync();

        var resumed = await fixture.StartControlPlaneAsync();
        var message = await agent.NextOperationAsync(pendingId, TimeSpan.FromSeconds(15));
        message.CorrelationId.ShouldBe(correlation, "the resumed send still carries the request's correlation id");
        message.CommandId.ShouldBe(pending.Str("operation.commandId"));
        await Eventually.WaitAsync(() => resumed.Events.ProgressAsync("agent-dispatch"), p => p >= head, "dispatch's checkpoint to pass the held events");

        // Whatever the broker still has in flight for this queue arrives within a moment; a second copy would be a resend.
        await Task.Delay(TimeSpan.FromMilliseconds(500));
        agent.Received.Count(m => m.OperationId == pendingId).ShouldBe(1, "sent exactly once");
        agent.Received.ShouldNotContain(m => m.OperationId == Guid.Parse(ended.Str("operation.id")), "an operation that ended is not sent late");
    }
}
