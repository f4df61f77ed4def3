using System.Text.Json;
using Quantixkvm.GraphQLTransport.Tests.Support;

namespace Quantixkvm.GraphQLTransport.Tests;

public class WebSocketConnection : WsTestBase
{

    [Fact]
    public async Task the_server_picks_the_graphql_transport_ws_subprotocol_and_acknowledges_connection_init()
    {
        var client = await ConnectOfferingAsync("graphql-ws", "graphql-transport-ws");
        client.SubProtocol.ShouldBe("graphql-transport-ws");

        await client.SendAsync(new { type = "connection_init", payload = new { token = "abc" } });
        var ack = await client.NextMessageAsync();

        ack.GetProperty("type").GetString().ShouldBe("connection_ack");
        ack.TryGetProperty("payload", out _).ShouldBeFalse();
    }

    [Theory]
    [InlineData("graphql-ws")]
    [InlineData(null)]
    public async Task a_socket_without_the_graphql_transport_ws_subprotocol_is_closed_with_4406(string? subProtocol)
    {
        var client = await ConnectOfferingAsync(subProtocol is null ? [] : [subProtocol]);

        client.SubProtocol.ShouldBeNull();
        var close = await client.ExpectCloseAsync();
        close.CloseCode.ShouldBe(4406);
        close.CloseReason.ShouldBe("Subprotocol not acceptable");
    }

    [Fact]
    public async Task a_second_connection_init_closes_with_4429()
    {
        var client = await ConnectAndInitAsync();

        await client.SendAsync(new { type = "connection_init" });
        var close = await client.ExpectCloseAsync();

        close.CloseCode.ShouldBe(4429);
        close.CloseReason.ShouldBe("Too many initialisation requests");
    }

    [Fact]
    public async Task a_subscribe_before_the_ack_closes_with_4401()
    {
        var client = await ConnectAsync();

        await client.SubscribeAsync("1", "{ hello }");
        var close = await client.ExpectCloseAsync();

        close.CloseCode.ShouldBe(4401);
        close.CloseReason.ShouldBe("Unauthorized");
    }

    [Fact]
    public async Task a_ping_gets_a_pong_echoing_its_payload()
    {
        var client = await ConnectAsync();

        await client.SendAsync(new { type = "ping", payload = new { seq = 42, note = "héllo" } });
        var pong = await client.NextMessageAsync();

        pong.GetProperty("type").GetString().ShouldBe("pong");
        pong.GetProperty("payload").GetProperty("seq").GetInt32().ShouldBe(42);
        pong.GetProperty("payload").GetProperty("note").GetString().ShouldBe("héllo");
    }

    [Fact]
    public async Task a_ping_without_payload_gets_a_pong_without_payload()
    {
        var client = await ConnectAndInitAsync();

        await client.SendAsync(new { type = "ping" });
        var pong = await client.NextMessageAsync();

        pong.GetProperty("type").GetString().ShouldBe("pong");
        pong.TryGetProperty("payload", out _).ShouldBeFalse();
    }

    [Fact]
    public async Task a_pong_from_the_client_is_ignored()
    {
        var client = await ConnectAndInitAsync();

        await client.SendAsync(new { type = "pong", payload = new { t = 1 } });
        await client.SendAsync(new { type = "ping", payload = new { after = "pong" } });

        // The next thing the server says is the answer to the ping: nothing for the pong, and no close.
        var next = await client.NextMessageAsync();
        next.GetProperty("type").GetString().ShouldBe("pong");
        next.GetProperty("payload").GetProperty("after").GetString().ShouldBe("pong");
    }

    public static TheoryData<string, string> InvalidMessages => new()
    {
        { "this is not json", "not valid JSON" },
        { "[1,2,3]", "expected to be an object" },
        { """{"payload":{}}""", "missing the 'type'" },
        { """{"type":7}""", "'type' property to be a string" },
        { """{"type":"start","id":"1"}""", "Invalid message 'type' property \"start\"" },
        { """{"type":"next","id":"1","payload":{}}""", "only servers send it" },
        { """{"type":"ping","payload":"text"}""", "'payload' property to be an object" },
        { """{"type":"subscribe","payload":{"query":"{ hello }"}}""", "'id' property to be a string" },
        { """{"type":"subscribe","id":"","payload":{"query":"{ hello }"}}""", "non-empty 'id'" },
        { """{"type":"subscribe","id":"1"}""", "'payload' property to be an object" },
        { """{"type":"subscribe","id":"1","payload":{"query":5}}""", "'query' parameter must be a string" },
        { """{"type":"subscribe","id":"1","payload":{"query":"{ hello }","variables":[1]}}""", "'variables' parameter must be a JSON object" },
        { """{"type":"complete"}""", "'id' property to be a string" },
    };

    [Theory]
    [MemberData(nameof(InvalidMessages))]
    public async Task an_invalid_message_closes_with_4400_and_a_reason(string message, string reasonPart)
    {
        var client = await ConnectAndInitAsync();

        await client.SendTextAsync(message);
        var close = await client.ExpectCloseAsync();

        close.CloseCode.ShouldBe(4400);
        close.CloseReason!.ShouldContain(reasonPart);
    }

    [Fact]
    public async Task a_binary_message_closes_with_4400()
    {
        var client = await ConnectAndInitAsync();

        await client.SendBinaryAsync(JsonSerializer.SerializeToUtf8Bytes(new { type = "ping" }));
        var close = await client.ExpectCloseAsync();

        close.CloseCode.ShouldBe(4400);
    }

    [Fact]
    public async Task a_message_over_the_request_limit_closes_with_1009()
    {
        var client = await ConnectAndInitAsync();

        await client.SendAsync(new { type = "ping", payload = new { padding = new string('x', TestHost.MaxRequestBytes) } });
        var close = await client.ExpectCloseAsync();

        close.CloseCode.ShouldBe(1009);
    }

    [Fact]
    public async Task the_server_answers_the_clients_close_and_ends_the_socket()
    {
        var client = await ConnectAndInitAsync();

        await client.CloseAsync();
        var close = await client.ExpectCloseAsync();

        close.CloseCode.ShouldBe(1000);
    }
}
