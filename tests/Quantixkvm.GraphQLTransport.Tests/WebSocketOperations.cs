using System.Text.Json;
using Quantixkvm.GraphQLTransport.Tests.Support;

namespace Quantixkvm.GraphQLTransport.Tests;

public class WebSocketOperations : WsTestBase
{
    private static readonly TimeSpan Quiet = TimeSpan.FromMilliseconds(400);

    [Fact]
    public async Task a_query_gets_one_next_then_complete()
    {
        var client = await ConnectAndInitAsync();

        await client.SubscribeAsync("q1", "query Greet($name: String) { hello(name: $name) }", new { name = "Ada" }, "Greet");

        var next = await client.NextMessageAsync();
        next.GetProperty("id").GetString().ShouldBe("q1");
        next.GetProperty("type").GetString().ShouldBe("next");
        next.GetProperty("payload").GetProperty("data").GetProperty("hello").GetString().ShouldBe("Hello, Ada!");
        var complete = await client.NextMessageAsync();
        complete.GetProperty("id").GetString().ShouldBe("q1");
        complete.GetProperty("type").GetString().ShouldBe("complete");
        (await client.StaysQuietAsync(Quiet)).ShouldBeTrue();
    }

    [Fact]
    public async Task a_mutation_gets_one_next_then_complete()
    {
        var client = await ConnectAndInitAsync();

        await client.SubscribeAsync("m1", """mutation { echo(message: "over ws") }""");

        var next = await client.NextMessageAsync();
        next.GetProperty("type").GetString().ShouldBe("next");
        next.GetProperty("payload").GetProperty("data").GetProperty("echo").GetString().ShouldBe("over ws");
        (await client.NextMessageAsync()).GetProperty("type").GetString().ShouldBe("complete");
        Host.Probe.EchoCount.ShouldBe(1);
    }

    [Fact]
    public async Task a_subscription_sends_a_next_per_item_in_order_then_complete()
    {
        var client = await ConnectAndInitAsync();

        await client.SubscribeAsync("s1", "subscription { ticks(count: 50) }");

        for (var i = 0; i < 50; i++)
        {
            var next = await client.NextMessageAsync();
            next.GetProperty("id").GetString().ShouldBe("s1");
            next.GetProperty("type").GetString().ShouldBe("next");
            next.GetProperty("payload").GetProperty("data").GetProperty("ticks").GetInt32().ShouldBe(i);
        }

        var complete = await client.NextMessageAsync();
        complete.GetProperty("type").GetString().ShouldBe("complete");
        complete.GetProperty("id").GetString().ShouldBe("s1");
    }

    [Fact]
    public async Task concurrent_subscriptions_each_keep_their_own_order()
    {
        var client = await ConnectAndInitAsync();

        await client.SubscribeAsync("a", "subscription { ticks(count: 200) }");
        await client.SubscribeAsync("b", "subscription { ticks(count: 200) }");

        var seen = new Dictionary<string, int> { ["a"] = 0, ["b"] = 0 };
        var completed = new HashSet<string>();
        while (completed.Count < 2)
        {
            var message = await client.NextMessageAsync();
            var id = message.GetProperty("id").GetString()!;
            if (message.GetProperty("type").GetString() == "complete")
            {
                seen[id].ShouldBe(200, $"{id} completed before all its items arrived");
                completed.Add(id);
                continue;
            }

            message.GetProperty("payload").GetProperty("data").GetProperty("ticks").GetInt32().ShouldBe(seen[id]);
            seen[id]++;
        }
    }

    [Fact]
    public async Task a_client_complete_stops_the_subscription_and_nothing_more_is_sent_for_it()
    {
        var client = await ConnectAndInitAsync();
        await client.SubscribeAsync("e1", "subscription { events }");
        await Host.Probe.Events.Subscribed.WaitAsync(WsClient.DefaultWait);
        Host.Probe.Events.Publish("first");
        (await client.NextMessageAsync()).GetProperty("payload").GetProperty("data").GetProperty("events").GetString().ShouldBe("first");

        await client.CompleteAsync("e1");
        await Host.Probe.Events.Unsubscribed.WaitAsync(WsClient.DefaultWait);
        Host.Probe.Events.Publish("second");

        Host.Probe.Events.SubscriberCount.ShouldBe(0);
        (await client.StaysQuietAsync(Quiet)).ShouldBeTrue();
    }

    [Fact]
    public async Task an_id_can_be_reused_once_its_operation_completed()
    {
        var client = await ConnectAndInitAsync();

        await client.SubscribeAsync("same", "{ hello }");
        (await client.NextMessageAsync()).GetProperty("type").GetString().ShouldBe("next");
        (await client.NextMessageAsync()).GetProperty("type").GetString().ShouldBe("complete");
        await client.SubscribeAsync("same", """{ hello(name: "again") }""");

        var next = await client.NextMessageAsync();
        next.GetProperty("payload").GetProperty("data").GetProperty("hello").GetString().ShouldBe("Hello, again!");
    }

    [Fact]
    public async Task a_duplicate_id_while_its_subscription_is_active_closes_with_4409()
    {
        var client = await ConnectAndInitAsync();
        await client.SubscribeAsync("dup", "subscription { events }");
        await Host.Probe.Events.Subscribed.WaitAsync(WsClient.DefaultWait);

        await client.SubscribeAsync("dup", "subscription { events }");
        var close = await client.ExpectCloseAsync();

        close.CloseCode.ShouldBe(4409);
        close.CloseReason.ShouldBe("Subscriber for dup already exists");
    }

    [Fact]
    public async Task closing_the_socket_disposes_every_subscription()
    {
        var client = await ConnectAndInitAsync();
        await client.SubscribeAsync("x", "subscription { events }");
        await client.SubscribeAsync("y", "subscription { events }");
        var deadline = DateTime.UtcNow + WsClient.DefaultWait;
        while (Host.Probe.Events.SubscriberCount < 2 && DateTime.UtcNow < deadline)
        {
            await Task.Delay(20);
        }

        Host.Probe.Events.SubscriberCount.ShouldBe(2);

        await client.CloseAsync();
        (await client.ExpectCloseAsync()).CloseCode.ShouldBe(1000);

        deadline = DateTime.UtcNow + WsClient.DefaultWait;
        while (Host.Probe.Events.SubscriberCount > 0 && DateTime.UtcNow < deadline)
        {
            await Task.Delay(20);
        }

        Host.Probe.Events.SubscriberCount.ShouldBe(0);
    }

    [Fact]
    public async Task a_document_that_fails_validation_gets_an_error_message_and_no_complete()
    {
        var client = await ConnectAndInitAsync();

        await client.SubscribeAsync("bad", "subscription { noSuchStream }");

        var error = await client.NextMessageAsync();
        error.GetProperty("id").GetString().ShouldBe("bad");
        error.GetProperty("type").GetString().ShouldBe("error");
        error.GetProperty("payload").ValueKind.ShouldBe(JsonValueKind.Array);
        error.GetProperty("payload")[0].GetProperty("extensions").GetProperty("code").GetString().ShouldBe("FIELDS_ON_CORRECT_TYPE");
        (await client.StaysQuietAsync(Quiet)).ShouldBeTrue();
    }

    [Fact]
    public async Task a_document_that_does_not_parse_gets_an_error_message()
    {
        var client = await ConnectAndInitAsync();

        await client.SubscribeAsync("p", "subscription {");

        var error = await client.NextMessageAsync();
        error.GetProperty("type").GetString().ShouldBe("error");
        error.GetProperty("payload")[0].GetProperty("extensions").GetProperty("code").GetString().ShouldBe("SYNTAX_ERROR");
    }

    [Fact]
    public async Task a_subscription_whose_stream_cannot_start_gets_an_error_message_with_the_resolver_code()
    {
        var client = await ConnectAndInitAsync();

        await client.SubscribeAsync("r", "subscription { refused }");

        var error = await client.NextMessageAsync();
        error.GetProperty("type").GetString().ShouldBe("error");
        error.GetProperty("payload")[0].GetProperty("message").GetString().ShouldBe("You may not watch this.");
        error.GetProperty("payload")[0].GetProperty("extensions").GetProperty("code").GetString().ShouldBe("FORBIDDEN");
        (await client.StaysQuietAsync(Quiet)).ShouldBeTrue();
    }

    [Fact]
    public async Task a_resolver_error_code_reaches_the_next_payload()
    {
        var client = await ConnectAndInitAsync();

        await client.SubscribeAsync("nf", "{ hello missing }");

        var next = await client.NextMessageAsync();
        next.GetProperty("type").GetString().ShouldBe("next");
        next.GetProperty("payload").GetProperty("data").GetProperty("hello").GetString().ShouldBe("Hello, world!");
        next.GetProperty("payload").GetProperty("errors")[0].GetProperty("extensions").GetProperty("code").GetString().ShouldBe("NOT_FOUND");
        (await client.NextMessageAsync()).GetProperty("type").GetString().ShouldBe("complete");
    }

    [Fact]
    public async Task a_failing_event_stream_ends_with_an_error_message()
    {
        var client = await ConnectAndInitAsync();

        await client.SubscribeAsync("f", "subscription { failing }");

        var next = await client.NextMessageAsync();
        next.GetProperty("type").GetString().ShouldBe("next");
        next.GetProperty("payload").GetProperty("data").GetProperty("failing").GetInt32().ShouldBe(1);
        var error = await client.NextMessageAsync();
        error.GetProperty("type").GetString().ShouldBe("error");
        error.GetProperty("id").GetString().ShouldBe("f");
        error.GetProperty("payload").GetArrayLength().ShouldBe(1);
        (await client.StaysQuietAsync(Quiet)).ShouldBeTrue();
    }

    [Fact]
    public async Task a_document_over_the_size_limit_gets_an_error_message_with_document_too_large()
    {
        var client = await ConnectAndInitAsync();

        await client.SubscribeAsync("big", "{ hello " + new string(' ', TestHost.MaxDocumentBytes) + "}");

        var error = await client.NextMessageAsync();
        error.GetProperty("type").GetString().ShouldBe("error");
        error.GetProperty("payload")[0].GetProperty("extensions").GetProperty("code").GetString().ShouldBe("DOCUMENT_TOO_LARGE");

        // The socket stays usable.
        await client.SubscribeAsync("small", "{ hello }");
        (await client.NextMessageAsync()).GetProperty("type").GetString().ShouldBe("next");
    }

    [Fact]
    public async Task a_complete_for_an_unknown_id_is_ignored()
    {
        var client = await ConnectAndInitAsync();

        await client.CompleteAsync("never-started");
        await client.SendAsync(new { type = "ping" });

        (await client.NextMessageAsync()).GetProperty("type").GetString().ShouldBe("pong");
    }

    [Fact]
    public async Task the_user_context_factory_sees_the_upgrade_request()
    {
        var client = await ConnectAndInitAsync();

        await client.SubscribeAsync("w", "{ whoami }");

        // The test client sends no X-User header, so the factory stored an empty string.
        var next = await client.NextMessageAsync();
        next.GetProperty("payload").GetProperty("data").GetProperty("whoami").GetString().ShouldBe(string.Empty);
    }
}
