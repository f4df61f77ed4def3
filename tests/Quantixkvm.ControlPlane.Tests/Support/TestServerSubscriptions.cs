using System.Net.WebSockets;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Threading.Channels;
using Microsoft.AspNetCore.Mvc.Testing;

namespace Quantixkvm.ControlPlane.Tests.Support;

/// <summary>
/// A small graphql-transport-ws client over the test server's in-memory WebSocket (the shared
/// GraphQLSubscriptionClient needs a real socket). Keeps every server message in arrival order.
/// </summary>
public sealed class TestServerSubscriptions : IAsyncDisposable
{
    private readonly WebSocket _socket;
    private readonly Channel<JsonNode> _messages = Channel.CreateUnbounded<JsonNode>();
    private readonly Task _reader;

    private TestServerSubscriptions(WebSocket socket)
    {
        _socket = socket;
        _reader = ReadAsync();
    }

    public static async Task<TestServerSubscriptions> ConnectAsync<TEntryPoint>(WebApplicationFactory<TEntryPoint> app)
        where TEntryPoint : class
    {
        var client = app.Server.CreateWebSocketClient();
        client.SubProtocols.Add("graphql-transport-ws");
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        var socket = await client.ConnectAsync(new Uri(app.Server.BaseAddress, "graphql"), cts.Token);
        socket.SubProtocol.ShouldBe("graphql-transport-ws");
        var connection = new TestServerSubscriptions(socket);
        await connection.SendAsync(new JsonObject { ["type"] = "connection_init" });
        var ack = await connection.NextAsync(TimeSpan.FromSeconds(10));
        ack.Str("type").ShouldBe("connection_ack");
        return connection;
    }

    public Task SubscribeAsync(string id, string query, object? variables = null) =>
        SendAsync(new JsonObject
        {
            ["id"] = id,
            ["type"] = "subscribe",
            ["payload"] = new JsonObject { ["query"] = query, ["variables"] = JsonSerializer.SerializeToNode(variables) },
        });

    /// <summary>The next message of any type (pings are answered and skipped).</summary>
    public async Task<JsonNode> NextAsync(TimeSpan? timeout = null)
    {
        var limit = timeout ?? Eventually.DefaultTimeout;
        using var cts = new CancellationTokenSource(limit);
        try
        {
            return await _messages.Reader.ReadAsync(cts.Token);
        }
        catch (OperationCanceledException)
        {
            throw new TimeoutException($"no message on the subscription socket within {limit}");
        }
        catch (ChannelClosedException)
        {
            throw new InvalidOperationException($"the socket closed ({_socket.CloseStatus} {_socket.CloseStatusDescription})");
        }
    }

    /// <summary>Whether a message is waiting already (for asserting that nothing more came).</summary>
    public bool TryPeek(out JsonNode? message) => _messages.Reader.TryPeek(out message);

    public async ValueTask DisposeAsync()
    {
        if (_socket.State == WebSocketState.Open)
        {
            try
            {
                // Close our side only; the reader (the one receiver) sees the server's close.
                using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(5));
                await _socket.CloseOutputAsync(WebSocketCloseStatus.NormalClosure, "done", cts.Token);
                await _reader.WaitAsync(TimeSpan.FromSeconds(5));
            }
            catch (Exception ex) when (ex is WebSocketException or OperationCanceledException or IOException or ObjectDisposedException or TimeoutException)
            {
            }
        }

        _socket.Abort();
        await _reader;
        _socket.Dispose();
    }

    private Task SendAsync(JsonNode message) =>
        _socket.SendAsync(Encoding.UTF8.GetBytes(message.ToJsonString()), WebSocketMessageType.Text, true, CancellationToken.None);

    private async Task ReadAsync()
    {
        var buffer = new byte[64 * 1024];
        try
        {
            while (_socket.State is WebSocketState.Open or WebSocketState.CloseSent)
            {
                using var text = new MemoryStream();
                WebSocketReceiveResult result;
                do
                {
                    result = await _socket.ReceiveAsync(buffer, CancellationToken.None);
                    text.Write(buffer, 0, result.Count);
                }
                while (!result.EndOfMessage);

                if (result.MessageType == WebSocketMessageType.Close)
                {
                    break;
                }

                var message = JsonNode.Parse(text.ToArray())!;
                if (message["type"]?.GetValue<string>() == "ping")
                {
                    await SendAsync(new JsonObject { ["type"] = "pong" });
                    continue;
                }

                await _messages.Writer.WriteAsync(message);
            }
        }
        catch (Exception ex) when (ex is WebSocketException or OperationCanceledException or IOException or ObjectDisposedException)
        {
        }
        finally
        {
            _messages.Writer.TryComplete();
        }
    }
}
