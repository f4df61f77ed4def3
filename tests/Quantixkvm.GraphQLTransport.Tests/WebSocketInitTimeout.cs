using Quantixkvm.GraphQLTransport.Tests.Support;

namespace Quantixkvm.GraphQLTransport.Tests;

public class WebSocketInitTimeout : WsTestBase
{
    protected override void Configure(GraphQLTransportOptions options) => options.ConnectionInitTimeout = TimeSpan.FromMilliseconds(1500);

    [Fact]
    public async Task no_connection_init_within_the_timeout_closes_with_4408()
    {
        var clock = System.Diagnostics.Stopwatch.StartNew();
        var client = await ConnectAsync();

        var close = await client.ExpectCloseAsync(TimeSpan.FromSeconds(10));

        clock.Elapsed.ShouldBeGreaterThanOrEqualTo(TimeSpan.FromMilliseconds(1400));
        close.CloseCode.ShouldBe(4408);
        close.CloseReason.ShouldBe("Connection initialisation timeout");
    }

    [Fact]
    public async Task a_connection_init_in_time_keeps_the_socket_open_past_the_timeout()
    {
        var client = await ConnectAndInitAsync();

        (await client.StaysQuietAsync(TimeSpan.FromSeconds(2))).ShouldBeTrue();
        await client.SendAsync(new { type = "ping" });
        (await client.NextMessageAsync()).GetProperty("type").GetString().ShouldBe("pong");
    }
}
