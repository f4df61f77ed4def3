using Quantixkvm.GraphQLTransport.Tests.Support;

namespace Quantixkvm.GraphQLTransport.Tests;

public class WebSocketOperationLimit : WsTestBase
{
    protected override void Configure(GraphQLTransportOptions options) => options.MaxOperationsPerSocket = 2;

    [Fact]
    public async Task a_client_running_more_operations_at_once_than_allowed_is_closed_with_4400()
    {
        var client = await ConnectAndInitAsync();

        await client.SubscribeAsync("1", "subscription { events }");
        await client.SubscribeAsync("2", "subscription { events }");
        await client.SubscribeAsync("3", "subscription { events }");
        var close = await client.ExpectCloseAsync();

        close.CloseCode.ShouldBe(4400);
        close.CloseReason!.ShouldContain("Too many operations");
    }

    [Fact]
    public async Task an_operation_that_ended_frees_its_place()
    {
        var client = await ConnectAndInitAsync();

        await client.SubscribeAsync("1", "subscription { events }");
        await client.SubscribeAsync("q1", "{ hello(name: \"a\") }");
        (await client.NextMessageAsync()).GetProperty("type").GetString().ShouldBe("next");
        (await client.NextMessageAsync()).GetProperty("type").GetString().ShouldBe("complete");
        await client.SubscribeAsync("q2", "{ hello(name: \"b\") }");

        (await client.NextMessageAsync()).GetProperty("id").GetString().ShouldBe("q2");
    }
}
