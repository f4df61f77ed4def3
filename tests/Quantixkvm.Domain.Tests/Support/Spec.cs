using Quantixkvm.Domain.Clusters;
using Quantixkvm.Domain.Hosts;
using Quantixkvm.Domain.Networks;
using Quantixkvm.Domain.Storage;
using Quantixkvm.Domain.Templates;
using Quantixkvm.Domain.Vms;

namespace Quantixkvm.Domain.Tests.Support;

/// <summary>Given(history) / When(command) / Then(events or rejection) for the VM decider.</summary>
internal static class VmSpec
{
    public static Scenario<VmState, VmEvent, VmCommand> Given(params VmEvent[] history) =>
        new(history.Aggregate(VmState.Initial, VmDecider.Evolve), VmDecider.Decide, VmDecider.Evolve);
}

/// <summary>The same for the host decider.</summary>
internal static class HostSpec
{
    public static Scenario<HostState, HostEvent, HostCommand> Given(params HostEvent[] history) =>
        new(history.Aggregate(HostState.Initial, HostDecider.Evolve), HostDecider.Decide, HostDecider.Evolve);
}

/// <summary>The same for the cluster decider.</summary>
internal static class ClusterSpec
{
    public static Scenario<ClusterState, ClusterEvent, ClusterCommand> Given(params ClusterEvent[] history) =>
        new(history.Aggregate(ClusterState.Initial, ClusterDecider.Evolve), ClusterDecider.Decide, ClusterDecider.Evolve);
}

/// <summary>The same for the storage pool decider.</summary>
internal static class PoolSpec
{
    public static Scenario<PoolState, StorageEvent, StorageCommand> Given(params StorageEvent[] history) =>
        new(history.Aggregate(PoolState.Initial, PoolDecider.Evolve), PoolDecider.Decide, PoolDecider.Evolve);
}

/// <summary>The same for the volume decider.</summary>
internal static class VolumeSpec
{
    public static Scenario<VolumeState, StorageEvent, StorageCommand> Given(params StorageEvent[] history) =>
        new(history.Aggregate(VolumeState.Initial, VolumeDecider.Evolve), VolumeDecider.Decide, VolumeDecider.Evolve);
}

/// <summary>The same for the template decider (<c>TemplateSpec</c> is the domain's name for a template's content).</summary>
internal static class TemplateScenario
{
    public static Scenario<TemplateState, TemplateEvent, TemplateCommand> Given(params TemplateEvent[] history) =>
        new(history.Aggregate(TemplateState.Initial, TemplateDecider.Evolve), TemplateDecider.Decide, TemplateDecider.Evolve);
}

/// <summary>The same for the network decider.</summary>
internal static class NetworkSpec
{
    public static Scenario<NetworkState, NetworkEvent, NetworkCommand> Given(params NetworkEvent[] history) =>
        new(history.Aggregate(NetworkState.Initial, NetworkDecider.Evolve), NetworkDecider.Decide, NetworkDecider.Evolve);
}

/// <summary>The same for the security group decider.</summary>
internal static class SecurityGroupSpec
{
    public static Scenario<SecurityGroupState, SecurityGroupEvent, SecurityGroupCommand> Given(params SecurityGroupEvent[] history) =>
        new(history.Aggregate(SecurityGroupState.Initial, SecurityGroupDecider.Evolve), SecurityGroupDecider.Decide, SecurityGroupDecider.Evolve);
}

internal sealed class Scenario<TState, TEvent, TCommand>(
    TState state, Func<TCommand, TState, Decision<TEvent>> decide, Func<TState, TEvent, TState> evolve)
    where TEvent : class
{
    public TState State { get; } = state;

    public Outcome<TState, TEvent> When(TCommand command) => new(State, decide(command, State), evolve);
}

internal sealed class Outcome<TState, TEvent>(TState before, Decision<TEvent> decision, Func<TState, TEvent, TState> evolve)
    where TEvent : class
{
    public Decision<TEvent> Decision { get; } = decision;

    public Decision<TEvent>.Accepted ThenAccepted() =>
        Decision.ShouldBeOfType<Decision<TEvent>.Accepted>($"expected the command to be accepted, but: {Show(Decision)}");

    /// <summary>Accepted with exactly these events, in this order, compared one by one by value.</summary>
    public Outcome<TState, TEvent> ThenEvents(params TEvent[] expected)
    {
        var actual = ThenAccepted().Events;
        var listing = Show(Decision);
        actual.Count.ShouldBe(expected.Length, $"events: {listing}");
        for (var i = 0; i < expected.Length; i++)
        {
            // Structural: events may carry lists, which records compare by reference.
            actual[i]!.GetType().ShouldBe(expected[i]!.GetType(), $"event #{i} of {listing}");
            System.Text.Json.JsonSerializer.Serialize(actual[i], actual[i]!.GetType())
                .ShouldBe(System.Text.Json.JsonSerializer.Serialize(expected[i], expected[i]!.GetType()), $"event #{i} of {listing}");
        }

        return this;
    }

    public Outcome<TState, TEvent> WithOperationId(Guid? expected)
    {
        ThenAccepted().OperationId.ShouldBe(expected);
        return this;
    }

    /// <summary>Accepted as a repeat: no events, and the operation id the caller already knows.</summary>
    public void ThenNothingChanges(Guid? expectedOperationId)
    {
        var accepted = ThenAccepted();
        accepted.Events.ShouldBeEmpty($"a repeat must change nothing, but: {Show(Decision)}");
        accepted.OperationId.ShouldBe(expectedOperationId);
    }

    public Rejection ThenRejected(RejectionCode code, string? containing = null)
    {
        var rejected = Decision.ShouldBeOfType<Decision<TEvent>.Rejected>($"expected a rejection, but: {Show(Decision)}");
        rejected.Rejection.Code.ShouldBe(code, rejected.Rejection.Message);
        if (containing is not null)
        {
            rejected.Rejection.Message.ShouldContain(containing, Case.Sensitive);
        }

        return rejected.Rejection;
    }

    /// <summary>The state once the accepted events are folded onto the given history.</summary>
    public TState ThenState() => ThenAccepted().Events.Aggregate(before, evolve);

    private static string Show(Decision<TEvent> decision) => decision switch
    {
        Decision<TEvent>.Accepted a =>
            $"accepted (operation {a.OperationId?.ToString() ?? "none"}) with [{string.Join(", ", a.Events)}]",
        Decision<TEvent>.Rejected r => $"rejected: {r.Rejection}",
        _ => decision.ToString(),
    };
}
