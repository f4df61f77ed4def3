using System.Net.Http.Json;
using System.Net.WebSockets;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Threading.Channels;

namespace Quantixkvm.Testing;

/// <summary>A plain GraphQL-over-HTTP client: POST JSON, read the response as JSON.</summary>
public sealed class GraphQLClient(HttpClient http)
{
    public HttpClient Http { get; } = http;

    public async Task<JsonNode> SendAsync(string query, object? variables = null)
    {
        using var response = await Http.PostAsJsonAsync("graphql", new { query, variables });
        var body = await response.Content.ReadAsStringAsync();
        return JsonNode.Parse(body) ?? throw new InvalidOperationException($"empty response ({(int)response.StatusCode})");
    }

    /// <summary>Sends and insists on success: returns <c>data</c>, or fails the test with the errors.</summary>
    public async Task<JsonNode> DataAsync(string query, object? variables = null)
    {
        var result = await SendAsync(query, variables);
        if (result["errors"] is JsonArray { Count: > 0 } errors)
        {
            throw new InvalidOperationException($"GraphQL errors: {errors.ToJsonString()}");
        }

        return result["data"]!;
    }

    /// <summary>Sends and insists on an error: returns the first error's extensions.code and the whole error.</summary>
    public async Task<(string Code, JsonNode Error)> ErrorAsync(string query, object? variables = null)
    {
        var result = await SendAsync(query, variables);
        var error = (result["errors"] as JsonArray)?.FirstOrDefault()
            ?? throw new InvalidOperationException($"expected an error, got {result.ToJsonString()}");
        return (error["extensions"]?["code"]?.GetValue<string>() ?? "", error);
    }
}

/// <summary>
/// A minimal graphql-transport-ws client (the protocol of the graphql-ws library) over any WebSocket:
/// a real one to a URL, or a test server's in-memory one. Keeps every server message in arrival
/// order; pings are answered and not kept.
/// </summary>
public sealed class GraphQLSubscriptionClient : IAsyncDisposable
{
    public const string SubProtocol = "graphql-transport-ws";
    private static readonly TimeSpan DefaultTimeout = TimeSpan.FromSeconds(15);
    private readonly WebSocket _socket;
    private readonly Channel<JsonNode> _messages = Channel.CreateUnbounded<JsonNode>();
    private readonly Task _reader;

    private GraphQLSubscriptionClient(WebSocket socket)
    {
        _socket = socket;
        _reader = ReadAsync();
    }

    /// <summary>Connects to a GraphQL endpoint's URL (http is turned into ws) and completes the handshake.</summary>
    public static Task<GraphQLSubscriptionClient> ConnectAsync(Uri graphqlEndpoint) =>
        ConnectAsync(async cancellationToken =>
        {
            var socket = new ClientWebSocket();
            socket.Options.AddSubProtocol(SubProtocol);
            var ws = new UriBuilder(graphqlEndpoint) { Scheme = graphqlEndpoint.Scheme == "https" ? "wss" : "ws" }.Uri;
            await socket.ConnectAsync(ws, cancellationToken);
            return socket;
        });

    /// <summary>Completes the handshake over a socket the caller opens with the graphql-transport-ws subprotocol.</summary>
    public static async Task<GraphQLSubscriptionClient> ConnectAsync(Func<CancellationToken, Task<WebSocket>> open)
    {
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        var socket = await open(cts.Token);
        if (socket.SubProtocol != SubProtocol)
        {
            throw new InvalidOperationException($"the server chose subprotocol '{socket.SubProtocol}', not {SubProtocol}");
        }

        var client = new GraphQLSubscriptionClient(socket);
        await client.SendAsync(new JsonObject { ["type"] = "connection_init" });
        var ack = await client.NextMessageAsync(TimeSpan.FromSeconds(10));
        if (ack["type"]?.GetValue<string>() != "connection_ack")
        {
            throw new InvalidOperationException($"expected connection_ack, got {ack.ToJsonString()}");
        }

        return client;
    }

    public Task SubscribeAsync(string id, string query, object? variables = null) =>
        SendAsync(new JsonObject
        {
            ["id"] = id,
            ["type"] = "subscribe",
            ["payload"] = new JsonObject { ["query"] = query, ["variables"] = JsonSerializer.SerializeToNode(variables) },
        });

    /// <summary>The next message from the server (any type), or a timeout failure.</summary>
    public async Task<JsonNode> NextMessageAsync(TimeSpan? timeout = null)
    {
        var limit = timeout ?? DefaultTimeout;
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

    /// <summary>Reads <c>next</c> payloads of one subscription until <paramref name="until"/> holds for one; returns them all in order.</summary>
    public async Task<List<JsonNode>> ReadUntilAsync(string id, Func<JsonNode, bool> until, TimeSpan timeout)
    {
        var received = new List<JsonNode>();
        var deadline = DateTime.UtcNow + timeout;
        while (true)
        {
            var left = deadline - DateTime.UtcNow;
            var message = await NextMessageAsync(left > TimeSpan.Zero ? left : TimeSpan.FromMilliseconds(1));
            if (message["id"]?.GetValue<string>() != id)
            {
                continue;
            }

            var type = message["type"]?.GetValue<string>();
            if (type == "error")
            {
                throw new InvalidOperationException($"subscription {id} failed: {message.ToJsonString()}");
            }

            if (type != "next")
            {
                continue;
            }

            var data = message["payload"]!["data"]!;
            received.Add(data);
            if (until(data))
            {
                return received;
            }
        }
    }

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
        // Small: messages are assembled from as many reads as they need, and a benchmark holds thousands of these clients.
        var buffer = new byte[4 * 1024];
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
