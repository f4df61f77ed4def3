using Quantixkvm.Testing;
using System.Text.Json.Nodes;
using Quantixkvm.Contracts;
using Quantixkvm.ControlPlane.Tests.Support;

namespace Quantixkvm.ControlPlane.Tests;

/// <summary>operationUpdated over graphql-transport-ws: the state now, each later state in order, then complete.</summary>
public sealed class SubscriptionTests(ControlPlaneFixture fixture) : IClassFixture<ControlPlaneFixture>
{
    private const string Subscription =
        "subscription($id: ID!) { operationUpdated(id: $id) { id status kind error { code message } acceptedByHostAt finishedAt } }";

    private ControlPlaneApp App => fixture.App;

    private FakeAgent Agent => fixture.Agent;

    [Fact]
    public async Task operation_updated_sends_the_current_state_then_each_later_state_in_order_then_completes()
    {
        var created = await App.Api().CreateVmAsync("watched", start: true);
        var operationId = created.Str("operation.id");
        var message = await Agent.NextOperationAsync(Guid.Parse(operationId));
        await using var ws = await TestServerSubscriptions.ConnectAsync(App);

        await ws.SubscribeAsync("op", Subscription, new { id = operationId });

        var first = await NextPayloadAsync(ws, "op");
        first.Str("id").ShouldBe(operationId);
        first.Str("status").ShouldBe("PENDING", "the first message is the state as it is now");

        await Agent.ReportStartedAsync(message);
        var second = await NextPayloadAsync(ws, "op");
        second.Str("status").ShouldBe("RUNNING");
        second["acceptedByHostAt"].ShouldNotBeNull();

        await Agent.ReportFinishedAsync(message, succeeded: true, DomainPowerState.Running);
        var third = await NextPayloadAsync(ws, "op");
        third.Str("status").ShouldBe("SUCCEEDED");
        third["finishedAt"].ShouldNotBeNull();

        var complete = await ws.NextMessageAsync();
        complete.Str("type").ShouldBe("complete", $"the server completes after the final state, got {complete.ToJsonString()}");
        complete.Str("id").ShouldBe("op");
    }

    [Fact]
    public async Task operation_updated_on_a_failed_operation_carries_the_error_and_completes()
    {
        var created = await App.Api().CreateVmAsync("watched-failing");
        var operationId = created.Str("operation.id");
        var message = await Agent.NextOperationAsync(Guid.Parse(operationId));
        await using var ws = await TestServerSubscriptions.ConnectAsync(App);
        await ws.SubscribeAsync("op", Subscription, new { id = operationId });
        (await NextPayloadAsync(ws, "op")).Str("status").ShouldBe("PENDING");

        await Agent.ReportFinishedAsync(message, succeeded: false, DomainPowerState.Unknown, "VIR_ERR_NO_DOMAIN", "domain not found");

        var failed = await NextPayloadAsync(ws, "op");
        failed.Str("status").ShouldBe("FAILED", "a final state straight after PENDING, no invented RUNNING");
        failed.Str("error.code").ShouldBe("VIR_ERR_NO_DOMAIN");
        failed.Str("error.message").ShouldBe("domain not found");
        (await ws.NextMessageAsync()).Str("type").ShouldBe("complete");
    }

    [Fact]
    public async Task operation_updated_on_a_finished_operation_sends_its_final_state_and_completes_at_once()
    {
        var api = App.Api();
        var created = await api.CreateVmAsync("watched-late");
        var operationId = created.Str("operation.id");
        var message = await Agent.NextOperationAsync(Guid.Parse(operationId));
        await Agent.ReportFinishedAsync(message, succeeded: true, DomainPowerState.Stopped);
        await api.OperationEndsAsync(operationId, "SUCCEEDED");
        await using var ws = await TestServerSubscriptions.ConnectAsync(App);

        await ws.SubscribeAsync("late", Subscription, new { id = operationId });

        (await NextPayloadAsync(ws, "late")).Str("status").ShouldBe("SUCCEEDED");
        (await ws.NextMessageAsync()).Str("type").ShouldBe("complete");
    }

    [Fact]
    public async Task operation_updated_on_an_unknown_operation_answers_not_found()
    {
        await using var ws = await TestServerSubscriptions.ConnectAsync(App);

        await ws.SubscribeAsync("unknown", Subscription, new { id = Guid.NewGuid().ToString() });

        var answer = await ws.NextMessageAsync(TimeSpan.FromSeconds(5));
        answer.Str("id").ShouldBe("unknown");
        var errors = answer["type"]!.GetValue<string>() switch
        {
            "error" => answer["payload"]!.AsArray(),
            "next" => answer["payload"]!["errors"]!.AsArray(),
            var other => throw new ShouldAssertException($"expected an error, got {other}: {answer.ToJsonString()}"),
        };
        errors[0]!["extensions"]!["code"]!.GetValue<string>().ShouldBe("NOT_FOUND");
    }

    [Fact]
    public async Task operation_updated_with_an_id_that_is_not_a_uuid_answers_validation()
    {
        await using var ws = await TestServerSubscriptions.ConnectAsync(App);

        await ws.SubscribeAsync("bad", Subscription, new { id = "not-a-uuid" });

        var answer = await ws.NextMessageAsync();
        answer.Str("id").ShouldBe("bad");
        answer.Str("type").ShouldBe("error", answer.ToJsonString());
        answer["payload"]![0]!["extensions"]!["code"]!.GetValue<string>().ShouldBe("VALIDATION");
    }

    /// <summary>The next message, which must be a <c>next</c> for this subscription; returns its operation.</summary>
    private static async Task<JsonNode> NextPayloadAsync(GraphQLSubscriptionClient ws, string id)
    {
        var message = await ws.NextMessageAsync();
        message.Str("type").ShouldBe("next", $"expected the next state, got {message.ToJsonString()}");
        message.Str("id").ShouldBe(id);
        message["payload"]!["errors"].ShouldBeNull(message.ToJsonString());
        return message["payload"]!["data"]!["operationUpdated"]!;
    }
}
