using System.Buffers;
using System.Collections.Concurrent;
using System.Net.WebSockets;
using System.Text;
using System.Text.Json;
using System.Threading.Channels;
using GraphQL;
using GraphQLParser.AST;
using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;
using Quantixkvm.GraphQLTransport.Http;

namespace Quantixkvm.GraphQLTransport.WebSockets;

/// <summary>
/// One socket speaking graphql-transport-ws (https://github.com/enisdenjo/graphql-ws/blob/master/PROTOCOL.md).
/// <para>
/// Threads: one receive loop reads and handles client messages in order, and is the only one to read the
/// HttpContext (not thread-safe) — it prepares each operation; operations execute on their own tasks;
/// every outgoing frame (messages and the close frame) goes through one channel drained by one writer task,
/// so sends never overlap, and a message enqueued before another is sent before it. The messages of one
/// operation are enqueued under that operation's lock, so they keep their order, and none is enqueued
/// after the operation finished (server <c>complete</c>/<c>error</c>) or was stopped (client <c>complete</c>, socket end).
/// </para>
/// <para>
/// Subscription source errors: GraphQL.NET hands an error of the event stream to the observer's
/// <c>OnError</c> as an <see cref="ExecutionError"/>. Since that ends the stream, it is sent as an <c>error</c>
/// message (a terminal message carrying the GraphQL errors, with no <c>complete</c> after it), as graphql-ws's
/// own server does for a failing source stream. Errors of a single event's resolvers (field errors) arrive
/// in the event's result and go out in its <c>next</c> message, and the stream continues.
/// </para>
/// </summary>
internal sealed partial class GraphQLWsConnection
{
    private static readonly TimeSpan CloseHandshakeTimeout = TimeSpan.FromSeconds(5);
    private const int ReceiveChunkBytes = 4096;
    private const int MaxCloseReasonBytes = 123;

    private readonly WebSocket _socket;
    private readonly HttpContext _httpContext;
    private readonly GraphQLRequestExecutor _executor;
    private readonly GraphQLTransportOptions _options;
    private readonly IGraphQLTextSerializer _serializer;
    private readonly ILogger _logger;
    private readonly Channel<Outgoing> _outbox = Channel.CreateUnbounded<Outgoing>(new UnboundedChannelOptions { SingleReader = true });
    private readonly ConcurrentDictionary<string, Operation> _operations = new(StringComparer.Ordinal);
    private readonly CancellationTokenSource _lifetime;
    private int _queued;
    private int _closeRequested;
    private volatile bool _initReceived;
    private bool _acknowledged;

    public GraphQLWsConnection(WebSocket socket, HttpContext httpContext, GraphQLRequestExecutor executor, IGraphQLTextSerializer serializer, ILogger logger)
    {
        _socket = socket;
        _httpContext = httpContext;
        _executor = executor;
        _options = executor.Options;
        _serializer = serializer;
        _logger = logger;
        _lifetime = CancellationTokenSource.CreateLinkedTokenSource(httpContext.RequestAborted);
    }

    public async Task RunAsync()
    {
        var writer = Task.Run(RunWriterAsync);
        var initTimer = WatchInitTimeoutAsync();
        try
        {
            await ReceiveLoopAsync();
        }
        catch (Exception ex) when (ex is OperationCanceledException or WebSocketException or ConnectionAbortedException or IOException)
        {
            // Aborted: by the client, by the network, by a timeout, or after the close handshake timed out.
        }
        catch (Exception ex)
        {
            LogReceiveFailed(_logger, ex);
            RequestClose(CloseCodes.InternalServerError, "Internal server error");
        }
        finally
        {
            StopAllOperations();
            if (_socket.State == WebSocketState.CloseReceived)
            {
                // The client closed first: answer with the same code, as RFC 6455 asks.
                RequestClose((int)(_socket.CloseStatus ?? WebSocketCloseStatus.NormalClosure), string.Empty);
            }

            // From here on nothing may queue a message or cancel the lifetime source, which is disposed below.
            Interlocked.Exchange(ref _closeRequested, 1);

            _outbox.Writer.TryComplete();
            _lifetime.CancelAfter(CloseHandshakeTimeout);
            await writer;
            await _lifetime.CancelAsync();
            await initTimer;
            _lifetime.Dispose();
        }
    }

    // ---- receiving -------------------------------------------------------------------------------------------

    private async Task ReceiveLoopAsync()
    {
        var message = new ArrayBufferWriter<byte>(ReceiveChunkBytes);
        var scratch = new byte[ReceiveChunkBytes];
        while (true)
        {
            message.ResetWrittenCount();
            var tooBig = false;
            ValueWebSocketReceiveResult received;
            do
            {
                var target = tooBig ? scratch.AsMemory() : message.GetMemory(ReceiveChunkBytes);
                received = await _socket.ReceiveAsync(target, _lifetime.Token);
                if (received.MessageType == WebSocketMessageType.Close)
                {
                    return;
                }

                if (!tooBig)
                {
                    message.Advance(received.Count);
                    tooBig = message.WrittenCount > _options.MaxRequestBytes;
                }
            }
            while (!received.EndOfMessage);

            if (Volatile.Read(ref _closeRequested) != 0)
            {
                continue; // Closing: wait for the client's close frame, ignore anything else.
            }

            if (tooBig)
            {
                RequestClose((int)WebSocketCloseStatus.MessageTooBig, $"Message too big: the limit is {_options.MaxRequestBytes} bytes");
            }
            else if (received.MessageType != WebSocketMessageType.Text)
            {
                RequestClose(CloseCodes.BadRequest, "Invalid message received: binary frames are not supported, send JSON text");
            }
            else
            {
                HandleMessage(message.WrittenMemory);
            }
        }
    }

    private void HandleMessage(ReadOnlyMemory<byte> text)
    {
        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(text);
        }
        catch (JsonException)
        {
            RequestClose(CloseCodes.BadRequest, "Invalid message received: not valid JSON");
            return;
        }

        using (document)
        {
            var message = document.RootElement;
            if (message.ValueKind != JsonValueKind.Object)
            {
                RequestClose(CloseCodes.BadRequest, $"Message is expected to be an object, but got {GraphQLRequestReader.Describe(message)}");
                return;
            }

            if (!message.TryGetProperty("type", out var typeElement) || typeElement.ValueKind == JsonValueKind.Null)
            {
                RequestClose(CloseCodes.BadRequest, "Message is missing the 'type' property");
                return;
            }

            if (typeElement.ValueKind != JsonValueKind.String)
            {
                RequestClose(CloseCodes.BadRequest, $"Message expects the 'type' property to be a string, but got {GraphQLRequestReader.Describe(typeElement)}");
                return;
            }

            var type = typeElement.GetString()!;
            switch (type)
            {
                case "connection_init":
                    OnConnectionInit(message);
                    break;
                case "ping":
                    OnPing(message);
                    break;
                case "pong":
                    // Unsolicited pongs are allowed as a heartbeat; only their shape is checked.
                    _ = TryGetOptionalPayload(message, type, out _);
                    break;
                case "subscribe":
                    OnSubscribe(message);
                    break;
                case "complete":
                    OnComplete(message);
                    break;
                case "connection_ack" or "next" or "error":
                    RequestClose(CloseCodes.BadRequest, $"Unexpected message of type '{type}': only servers send it");
                    break;
                default:
                    RequestClose(CloseCodes.BadRequest, $"Invalid message 'type' property \"{type}\"");
                    break;
            }
        }
    }

    private void OnConnectionInit(JsonElement message)
    {
        if (!TryGetOptionalPayload(message, "connection_init", out _))
        {
            return;
        }

        if (_initReceived)
        {
            RequestClose(CloseCodes.TooManyInitialisationRequests, "Too many initialisation requests");
            return;
        }

        _initReceived = true;
        _acknowledged = true;
        Send(Envelope("connection_ack", id: null, rawPayload: null));
    }

    private void OnPing(JsonElement message)
    {
        if (TryGetOptionalPayload(message, "ping", out var payload))
        {
            // The pong echoes the ping's payload, and carries none when the ping had none.
            Send(Envelope("pong", id: null, rawPayload: payload?.GetRawText()));
        }
    }

    private void OnSubscribe(JsonElement message)
    {
        if (!TryGetId(message, "subscribe", out var id))
        {
            return;
        }

        if (!message.TryGetProperty("payload", out var payload) || payload.ValueKind != JsonValueKind.Object)
        {
            RequestClose(CloseCodes.BadRequest, "\"subscribe\" message expects the 'payload' property to be an object");
            return;
        }

        RequestProblem? problem;
        GraphQLRequestData? request;
        try
        {
            problem = GraphQLRequestReader.TryRead(payload, _serializer, _options.MaxDocumentBytes, out request);
        }
        catch (Exception ex) when (ex is JsonException or InvalidOperationException or FormatException or OverflowException)
        {
            RequestClose(CloseCodes.BadRequest, "\"subscribe\" message payload has unreadable variables or extensions");
            return;
        }

        // A document over the size limit is a well-formed message: that operation fails with an error message.
        if (problem is not null && problem.Code != TransportErrorCodes.DocumentTooLarge)
        {
            RequestClose(CloseCodes.BadRequest, $"Invalid \"subscribe\" payload: {problem.Message}");
            return;
        }

        if (!_acknowledged)
        {
            RequestClose(CloseCodes.Unauthorized, "Unauthorized");
            return;
        }

        // Operations that sent their terminal message count no more, even if not yet forgotten.
        if (_operations.Values.Count(o => !o.Finished) >= _options.MaxOperationsPerSocket && !_operations.ContainsKey(id))
        {
            RequestClose(CloseCodes.BadRequest, $"Too many operations: at most {_options.MaxOperationsPerSocket} may run at once on one socket");
            return;
        }

        var operation = new Operation(id);
        if (!_operations.TryAdd(id, operation))
        {
            RequestClose(CloseCodes.SubscriberAlreadyExists, $"Subscriber for {id} already exists");
            return;
        }

        // Read from the HttpContext here, on the receive loop, one operation after the other: the context is not
        // thread-safe (two operations reading its User at once could see null). Only the execution runs on its own task.
        PreparedExecution? execution = null;
        if (problem is null && request is not null)
        {
            try
            {
                execution = _executor.Prepare(_httpContext, request, transportRule: null, operation.Token);
            }
            catch (Exception ex)
            {
                LogOperationFailed(_logger, operation.Id, ex);
                Finish(operation, ErrorMessage(operation.Id, [new TransportRequestError(TransportErrorCodes.InternalServerError, "The server failed to run the operation.")]));
                return;
            }
        }

        _ = Task.Run(() => RunOperationAsync(operation, execution, problem));
    }

    private void OnComplete(JsonElement message)
    {
        if (TryGetId(message, "complete", out var id) && _operations.TryRemove(id, out var operation))
        {
            // Unknown or already finished ids are ignored, as the protocol allows.
            operation.Stop();
        }
    }

    private bool TryGetOptionalPayload(JsonElement message, string type, out JsonElement? payload)
    {
        payload = null;
        if (!message.TryGetProperty("payload", out var value) || value.ValueKind == JsonValueKind.Null)
        {
            return true;
        }

        if (value.ValueKind != JsonValueKind.Object)
        {
            RequestClose(CloseCodes.BadRequest, $"\"{type}\" message expects the 'payload' property to be an object or nullish or missing, but got {GraphQLRequestReader.Describe(value)}");
            return false;
        }

        payload = value;
        return true;
    }

    private bool TryGetId(JsonElement message, string type, out string id)
    {
        id = string.Empty;
        if (!message.TryGetProperty("id", out var value) || value.ValueKind != JsonValueKind.String)
        {
            RequestClose(CloseCodes.BadRequest, $"\"{type}\" message expects the 'id' property to be a string");
            return false;
        }

        id = value.GetString()!;
        if (id.Length == 0)
        {
            RequestClose(CloseCodes.BadRequest, $"\"{type}\" message requires a non-empty 'id' property");
            return false;
        }

        return true;
    }

    private async Task WatchInitTimeoutAsync()
    {
        try
        {
            await Task.Delay(_options.ConnectionInitTimeout, _lifetime.Token);
        }
        catch (OperationCanceledException)
        {
            return;
        }

        if (!_initReceived)
        {
            RequestClose(CloseCodes.ConnectionInitialisationTimeout, "Connection initialisation timeout");
        }
    }

    // ---- operations ------------------------------------------------------------------------------------------

    private async Task RunOperationAsync(Operation operation, PreparedExecution? execution, RequestProblem? problem)
    {
        try
        {
            if (problem is not null || execution is null)
            {
                Finish(operation, ErrorMessage(operation.Id, [new TransportRequestError(problem!.Code, problem.Message)]));
                return;
            }

            var result = await execution.ExecuteAsync();
            if (result.Streams is { Count: > 0 } streams)
            {
                // A subscription: GraphQL allows exactly one root field, so there is one stream.
                operation.Attach(streams.Values.First().Subscribe(new StreamObserver(this, operation)));
                return;
            }

            if (!result.Executed || result.Operation?.Operation == OperationType.Subscription)
            {
                // Failed before execution (parse, validation, variables), or a subscription whose source stream
                // could not be created: an error message, and no complete.
                Finish(operation, ErrorMessage(operation.Id, result.Errors));
                return;
            }

            SendNext(operation, result);
            Finish(operation, Envelope("complete", operation.Id, rawPayload: null));
        }
        catch (OperationCanceledException) when (operation.Token.IsCancellationRequested)
        {
            // Stopped by the client's complete or by the end of the socket; nothing more is sent for it.
        }
        catch (Exception ex)
        {
            LogOperationFailed(_logger, operation.Id, ex);
            Finish(operation, ErrorMessage(operation.Id, [new TransportRequestError(TransportErrorCodes.InternalServerError, "The server failed to run the operation.")]));
        }
    }

    private void SendNext(Operation operation, ExecutionResult result)
    {
        var bytes = Envelope("next", operation.Id, _serializer.Serialize(result));
        lock (operation.Gate)
        {
            if (!operation.Finished)
            {
                Send(bytes);
            }
        }
    }

    /// <summary>Sends the operation's terminal message (complete or error) unless it already ended, then forgets it.</summary>
    private void Finish(Operation operation, byte[] terminalMessage)
    {
        lock (operation.Gate)
        {
            if (operation.Finished)
            {
                return;
            }

            operation.Finished = true;
            Send(terminalMessage);
        }

        _operations.TryRemove(new KeyValuePair<string, Operation>(operation.Id, operation));
        operation.Stop();
    }

    private void StopAllOperations()
    {
        foreach (var id in _operations.Keys)
        {
            if (_operations.TryRemove(id, out var operation))
            {
                operation.Stop();
            }
        }
    }

    private byte[] ErrorMessage(string id, IEnumerable<ExecutionError>? errors)
    {
        var list = errors?.ToList() is { Count: > 0 } some
            ? some
            : [new TransportRequestError(TransportErrorCodes.InternalServerError, "The operation failed without a reported error.")];

        // Format the errors with the caller's serializer (and so its error info provider), then lift out the array.
        var formatted = _serializer.Serialize(new ExecutionResult { Errors = [.. list] });
        using var document = JsonDocument.Parse(formatted);
        return Envelope("error", id, document.RootElement.GetProperty("errors").GetRawText());
    }

    private sealed class Operation(string id)
    {
        private readonly CancellationTokenSource _cancellation = new();
        private IDisposable? _subscription;
        private int _stopped;

        public string Id { get; } = id;

        public Lock Gate { get; } = new();

        /// <summary>True once a terminal message was sent or the operation was stopped; guarded by <see cref="Gate"/>.</summary>
        public bool Finished { get; set; }

        public CancellationToken Token => _cancellation.Token;

        public void Attach(IDisposable subscription)
        {
            Interlocked.Exchange(ref _subscription, subscription);
            if (Volatile.Read(ref _stopped) != 0)
            {
                Interlocked.Exchange(ref _subscription, null)?.Dispose();
            }
        }

        /// <summary>Ends the operation for good: no more messages, execution cancelled, stream unsubscribed.</summary>
        public void Stop()
        {
            lock (Gate)
            {
                Finished = true;
            }

            if (Interlocked.Exchange(ref _stopped, 1) != 0)
            {
                return;
            }

            _cancellation.Cancel();
            Interlocked.Exchange(ref _subscription, null)?.Dispose();
        }
    }

    private sealed class StreamObserver(GraphQLWsConnection connection, Operation operation) : IObserver<ExecutionResult>
    {
        public void OnNext(ExecutionResult value) => connection.SendNext(operation, value);

        public void OnError(Exception error)
            => connection.Finish(operation, connection.ErrorMessage(operation.Id,
                [error as ExecutionError ?? new ExecutionError("The event stream failed.", error)]));

        public void OnCompleted() => connection.Finish(operation, connection.Envelope("complete", operation.Id, rawPayload: null));
    }

    // ---- sending ---------------------------------------------------------------------------------------------

    private byte[] Envelope(string type, string? id, string? rawPayload)
    {
        var buffer = new ArrayBufferWriter<byte>(128 + (rawPayload?.Length ?? 0));
        using (var writer = new Utf8JsonWriter(buffer))
        {
            writer.WriteStartObject();
            if (id is not null)
            {
                writer.WriteString("id", id);
            }

            writer.WriteString("type", type);
            if (rawPayload is not null)
            {
                writer.WritePropertyName("payload");
                writer.WriteRawValue(rawPayload, skipInputValidation: true);
            }

            writer.WriteEndObject();
        }

        return buffer.WrittenSpan.ToArray();
    }

    private void Send(byte[] message)
    {
        if (Volatile.Read(ref _closeRequested) != 0)
        {
            return;
        }

        if (Interlocked.Increment(ref _queued) > _options.MaxQueuedMessagesPerSocket)
        {
            // The client reads more slowly than its operations produce: drop it rather than buffer without bound.
            LogSlowClient(_logger, _options.MaxQueuedMessagesPerSocket);
            Interlocked.Exchange(ref _closeRequested, 1);
            StopAllOperations();

            // Abort the socket (its pending receive and send are cancelled) off this thread, which may be an
            // event source's and may hold an operation's lock.
            _ = Task.Run(() =>
            {
                try
                {
                    _lifetime.Cancel();
                }
                catch (Exception ex) when (ex is AggregateException or ObjectDisposedException)
                {
                    // Already torn down, or a callback failed while tearing down; the socket goes away regardless.
                }
            });
            return;
        }

        _outbox.Writer.TryWrite(new Outgoing(message, CloseCode: null, CloseReason: null));
    }

    /// <summary>Closes the socket after the messages already queued; later messages are dropped.</summary>
    private void RequestClose(int code, string reason)
    {
        if (Interlocked.Exchange(ref _closeRequested, 1) != 0)
        {
            return;
        }

        StopAllOperations();
        _outbox.Writer.TryWrite(new Outgoing(null, code, LimitReason(reason)));
    }

    private async Task RunWriterAsync()
    {
        try
        {
            await foreach (var item in _outbox.Reader.ReadAllAsync(_lifetime.Token))
            {
                if (item.CloseCode is { } code)
                {
                    if (_socket.State is WebSocketState.Open or WebSocketState.CloseReceived)
                    {
                        await _socket.CloseOutputAsync((WebSocketCloseStatus)code, item.CloseReason, _lifetime.Token);
                    }

                    // Give the client a moment to answer with its close frame, then stop waiting for it.
                    _lifetime.CancelAfter(CloseHandshakeTimeout);
                    return;
                }

                Interlocked.Decrement(ref _queued);
                if (_socket.State == WebSocketState.Open && item.Message is { } message)
                {
                    await _socket.SendAsync(message.AsMemory(), WebSocketMessageType.Text, endOfMessage: true, _lifetime.Token);
                }
            }
        }
        catch (Exception ex) when (ex is OperationCanceledException or WebSocketException or ConnectionAbortedException or IOException or ObjectDisposedException)
        {
            await _lifetime.CancelAsync();
        }
        catch (Exception ex)
        {
            LogSendFailed(_logger, ex);
            await _lifetime.CancelAsync();
        }
    }

    private static string LimitReason(string reason)
    {
        if (Encoding.UTF8.GetByteCount(reason) <= MaxCloseReasonBytes)
        {
            return reason;
        }

        var cut = reason.AsSpan();
        while (Encoding.UTF8.GetByteCount(cut) > MaxCloseReasonBytes - 3)
        {
            cut = cut[..^1];
        }

        return string.Concat(cut, "...");
    }

    private readonly record struct Outgoing(byte[]? Message, int? CloseCode, string? CloseReason);

    [LoggerMessage(Level = LogLevel.Error, Message = "GraphQL WebSocket receive loop failed.")]
    private static partial void LogReceiveFailed(ILogger logger, Exception exception);

    [LoggerMessage(Level = LogLevel.Error, Message = "GraphQL WebSocket send failed.")]
    private static partial void LogSendFailed(ILogger logger, Exception exception);

    [LoggerMessage(Level = LogLevel.Error, Message = "GraphQL WebSocket operation {OperationId} failed unexpectedly.")]
    private static partial void LogOperationFailed(ILogger logger, string operationId, Exception exception);

    [LoggerMessage(Level = LogLevel.Warning, Message = "GraphQL WebSocket client is too slow: more than {Limit} messages queued; aborting the socket.")]
    private static partial void LogSlowClient(ILogger logger, int limit);
}
