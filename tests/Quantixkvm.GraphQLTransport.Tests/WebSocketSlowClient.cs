using System.Net.WebSockets;
using System.Text;
using Quantixkvm.GraphQLTransport.Tests.Support;

namespace Quantixkvm.GraphQLTransport.Tests;

public class WebSocketSlowClient : WsTestBase
{
    protected override void Configure(GraphQLTransportOptions options) => options.MaxQueuedMessagesPerSocket = 16;

    [Fact]
    public async Task a_client_that_stops_reading_is_dropped_once_too_many_messages_queue_up()
    {
        using var socket = new ClientWebSocket();
        socket.Options.AddSubProtocol("graphql-transport-ws");
        await socket.ConnectAsync(Host.WebSocketUri, CancellationToken.None);
        await SendAsync(socket, """{"type":"connection_init"}""");
        (await ReceiveTextAsync(socket)).ShouldContain("connection_ack");
        await SendAsync(socket, """{"id":"flood","type":"subscribe","payload":{"query":"subscription { events }"}}""");
        await Host.Probe.Events.Subscribed.WaitAsync(WsClient.DefaultWait);

        // The client reads nothing more; 64 MiB of events overflow the socket buffers and then the queue.
        var big = new string('x', 64 * 1024);
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(30);
        for (var i = 0; i < 1024 && Host.Probe.Events.SubscriberCount > 0 && DateTime.UtcNow < deadline; i++)
        {
            Host.Probe.Events.Publish(big);
        }

        await Host.Probe.Events.Unsubscribed.WaitAsync(TimeSpan.FromSeconds(30));
        Host.Probe.Events.SubscriberCount.ShouldBe(0);

        // Reading what was buffered ends in an aborted socket, not in a close handshake.
        var aborted = false;
        using var drain = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        var buffer = new byte[256 * 1024];
        try
        {
            while (true)
            {
                var result = await socket.ReceiveAsync(buffer, drain.Token);
                result.MessageType.ShouldNotBe(WebSocketMessageType.Close);
            }
        }
        catch (WebSocketException)
        {
            aborted = true;
        }

        aborted.ShouldBeTrue();
    }

    private static Task SendAsync(ClientWebSocket socket, string text)
        => socket.SendAsync(Encoding.UTF8.GetBytes(text), WebSocketMessageType.Text, endOfMessage: true, CancellationToken.None);

    private static async Task<string> ReceiveTextAsync(ClientWebSocket socket)
    {
        var buffer = new byte[4096];
        var result = await socket.ReceiveAsync(buffer, CancellationToken.None);
        return Encoding.UTF8.GetString(buffer, 0, result.Count);
    }
}
