using System.Net.WebSockets;
using System.Text;
using System.Text.Json;
using System.Threading.Channels;

namespace Quantixkvm.GraphQLTransport.Tests.Support;

/// <summary>A frame the client received: a text message, or the server's close.</summary>
public sealed record Frame(string? Text, int? CloseCode, string? CloseReason)
{
    public JsonElement Json => JsonDocument.Parse(Text ?? throw new InvalidOperationException($"Expected a message but the socket closed with {CloseCode} '{CloseReason}'.")).RootElement.Clone();
}

/// <summary>
/// A raw graphql-transport-ws client over <see cref="ClientWebSocket"/>. A background loop reads every frame into a
/// channel, so a test can wait for the next frame with a timeout without cancelling (and so aborting) the socket.
/// </summary>
public sealed class WsClient : IAsyncDisposable
{
    public static readonly TimeSpan DefaultWait = TimeSpan.FromSeconds(10);

    private readonly ClientWebSocket _socket;
    private readonly Channel<Frame> _frames = Channel.CreateUnbounded<Frame>();
    private readonly Task _reader;

    private WsClient(ClientWebSocket socket)
    {
        _socket = socket;
        _reader = Task.Run(ReadLoopAsync);
    }

    public string? SubProtocol => _socket.SubProtocol;

    public static async Task<WsClient> ConnectAsync(Uri uri, params string[] subProtocols)
    {
        var socket = new ClientWebSocket();
        foreach (var subProtocol in subProtocols)
        {
            socket.Options.AddSubProtocol(subProtocol);
        }

        await socket.ConnectAsync(uri, CancellationToken.None);
        return new WsClient(socket);
    }

    public static Task<WsClient> ConnectGraphQLAsync(Uri uri) => ConnectAsync(uri, "graphql-transport-ws");

    public Task SendAsync(object message) => SendTextAsync(JsonSerializer.Serialize(message));

    public Task SendTextAsync(string text)
        => _socket.SendAsync(Encoding.UTF8.GetBytes(text), WebSocketMessageType.Text, endOfMessage: true, CancellationToken.None);

    public Task SendBinaryAsync(byte[] bytes)
        => _socket.SendAsync(bytes, WebSocketMessageType.Binary, endOfMessage: true, CancellationToken.None);

    public async Task<Frame> NextFrameAsync(TimeSpan? wait = null)
    {
        using var timeout = new CancellationTokenSource(wait ?? DefaultWait);
        try
        {
            return await _frames.Reader.ReadAsync(timeout.Token);
        }
        catch (OperationCanceledException)
        {
            throw new TimeoutException("No frame arrived in time.");
        }
        catch (ChannelClosedException)
        {
            throw new InvalidOperationException("The socket ended without a close frame.");
        }
    }

    public async Task<JsonElement> NextMessageAsync(TimeSpan? wait = null) => (await NextFrameAsync(wait)).Json;

    /// <summary>True when no frame arrives within <paramref name="wait"/>.</summary>
    public async Task<bool> StaysQuietAsync(TimeSpan wait)
    {
        using var timeout = new CancellationTokenSource(wait);
        try
        {
            await _frames.Reader.WaitToReadAsync(timeout.Token);
            return false;
        }
        catch (OperationCanceledException)
        {
            return true;
        }
    }

    public async Task<Frame> ExpectCloseAsync(TimeSpan? wait = null)
    {
        var frame = await NextFrameAsync(wait);
        frame.CloseCode.ShouldNotBeNull($"expected the socket to close, but got the message {frame.Text}");
        return frame;
    }

    public async Task InitAsync(object? payload = null)
    {
        await SendAsync(payload is null ? new { type = "connection_init" } : new { type = "connection_init", payload });
        var ack = await NextMessageAsync();
        ack.GetProperty("type").GetString().ShouldBe("connection_ack");
    }

    public Task SubscribeAsync(string id, string query, object? variables = null, string? operationName = null)
        => SendAsync(new { id, type = "subscribe", payload = new { query, variables, operationName } });

    public Task CompleteAsync(string id) => SendAsync(new { id, type = "complete" });

    public async Task CloseAsync()
    {
        if (_socket.State == WebSocketState.Open)
        {
            await _socket.CloseOutputAsync(WebSocketCloseStatus.NormalClosure, "bye", CancellationToken.None);
        }
    }

    private async Task ReadLoopAsync()
    {
        var buffer = new byte[64 * 1024];
        try
        {
            while (true)
            {
                using var message = new MemoryStream();
                WebSocketReceiveResult result;
                do
                {
                    result = await _socket.ReceiveAsync(buffer, CancellationToken.None);
                    if (result.MessageType == WebSocketMessageType.Close)
                    {
                        await _frames.Writer.WriteAsync(new Frame(null, (int?)result.CloseStatus, result.CloseStatusDescription));
                        if (_socket.State == WebSocketState.CloseReceived)
                        {
                            await _socket.CloseOutputAsync(WebSocketCloseStatus.NormalClosure, string.Empty, CancellationToken.None);
                        }

                        return;
                    }

                    message.Write(buffer, 0, result.Count);
                }
                while (!result.EndOfMessage);

                await _frames.Writer.WriteAsync(new Frame(Encoding.UTF8.GetString(message.ToArray()), null, null));
            }
        }
        catch (Exception ex) when (ex is WebSocketException or OperationCanceledException or ObjectDisposedException)
        {
            // The socket ended without a close frame; readers see the channel complete.
        }
        finally
        {
            _frames.Writer.TryComplete();
        }
    }

    public async ValueTask DisposeAsync()
    {
        try
        {
            await CloseAsync();
            await _reader.WaitAsync(TimeSpan.FromSeconds(5));
        }
        catch (Exception ex) when (ex is WebSocketException or TimeoutException or OperationCanceledException)
        {
        }

        _socket.Dispose();
    }
}
