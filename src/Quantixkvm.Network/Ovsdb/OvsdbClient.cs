using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Quantixkvm.Network.Ovsdb;

/// <summary>
/// A client of the OVSDB management protocol (RFC 7047): JSON-RPC 1.0 over a unix socket ("unix:PATH" or a plain path)
/// or TCP ("tcp:HOST:PORT"). Requests may run concurrently; responses are matched by id. The server's "echo" requests
/// (its inactivity probe) are answered. When the connection is lost every pending and later request fails with an
/// <see cref="OvsdbConnectionException"/>; the client does not reconnect (make a new one).
/// </summary>
public sealed class OvsdbClient : IAsyncDisposable
{
    private readonly Socket _socket;
    private readonly NetworkStream _stream;
    private readonly SemaphoreSlim _writeLock = new(1, 1);
    private readonly Lock _gate = new();
    private readonly Dictionary<long, PendingCall> _pending = [];
    private readonly Dictionary<string, OvsdbMonitor> _monitors = new(StringComparer.Ordinal);
    private readonly CancellationTokenSource _disposing = new();
    private readonly Task _readLoop;
    private long _lastId;
    private long _echoRequestsAnswered;
    private OvsdbConnectionException? _closedBecause;

    private OvsdbClient(string endpoint, Socket socket)
    {
        Endpoint = endpoint;
        _socket = socket;
        _stream = new NetworkStream(socket, ownsSocket: true);
        _readLoop = Task.Run(ReadLoopAsync);
    }

    public string Endpoint { get; }

    /// <summary>False once the connection is lost or the client disposed.</summary>
    public bool IsConnected
    {
        get
        {
            lock (_gate)
            {
                return _closedBecause is null;
            }
        }
    }

    /// <summary>How many "echo" requests of the server's this client has answered.</summary>
    public long EchoRequestsAnswered => Interlocked.Read(ref _echoRequestsAnswered);

    /// <summary>Completes when the connection ends (server gone, or client disposed).</summary>
    public Task Completion => _readLoop;

    /// <summary>Connects to "unix:/path/db.sock", "/path/db.sock" or "tcp:127.0.0.1:6641" ("tcp:[::1]:6641").</summary>
    public static async Task<OvsdbClient> ConnectAsync(string endpoint, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(endpoint);
        var (address, protocol) = ParseEndpoint(endpoint);
        var socket = new Socket(address.AddressFamily, SocketType.Stream, protocol);
        try
        {
            await socket.ConnectAsync(address, cancellationToken);
        }
        catch (SocketException e)
        {
            socket.Dispose();
            throw new OvsdbConnectionException(endpoint, $"cannot connect to OVSDB server at {endpoint}: {e.Message}", e);
        }
        catch
        {
            socket.Dispose();
            throw;
        }

        return new OvsdbClient(endpoint, socket);
    }

    public async Task<IReadOnlyList<string>> ListDatabasesAsync(CancellationToken cancellationToken = default)
    {
        var result = await CallAsync("list_dbs", [], cancellationToken);
        return [.. result!.AsArray().Select(name => name!.GetValue<string>())];
    }

    /// <summary>The database's schema (RFC 7047 3.2) as the server sends it: name, version, tables.</summary>
    public async Task<JsonObject> GetSchemaAsync(string database, CancellationToken cancellationToken = default) =>
        (await CallAsync("get_schema", [database], cancellationToken))!.AsObject();

    /// <summary>
    /// Runs the operations as one atomic transaction. Returns one result per operation; if any operation fails, or the
    /// commit does, nothing is changed and an <see cref="OvsdbException"/> names the failing operation.
    /// </summary>
    public async Task<IReadOnlyList<OvsdbOperationResult>> TransactAsync(
        string database, IEnumerable<OvsdbOperation> operations, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(database);
        var ops = operations.ToList();
        var parameters = new JsonArray(database);
        foreach (var op in ops)
        {
            parameters.Add(op.Json.DeepClone());
        }

        var results = (await CallAsync("transact", parameters, cancellationToken))!.AsArray();

        // RFC 7047 4.1.3: the first failing operation has {"error", "details"} and the rest null; a commit failure
        // (e.g. a duplicate in an index) is an extra element after the operations' results.
        for (var i = 0; i < results.Count; i++)
        {
            if (results[i] is JsonObject result && result["error"] is JsonValue error)
            {
                var details = result["details"]?.GetValue<string>();
                throw i < ops.Count
                    ? new OvsdbException("transact", error.GetValue<string>(), details, i, ops[i].Description)
                    : new OvsdbException("transact", error.GetValue<string>(), details);
            }
        }

        return [.. results.Take(ops.Count).Select(r => OvsdbOperationResult.From(r!.AsObject()))];
    }

    /// <inheritdoc cref="TransactAsync(string, IEnumerable{OvsdbOperation}, CancellationToken)"/>
    public Task<IReadOnlyList<OvsdbOperationResult>> TransactAsync(string database, params OvsdbOperation[] operations) =>
        TransactAsync(database, operations, CancellationToken.None);

    /// <summary>
    /// Starts a monitor (RFC 7047 4.1.5) on the tables: its initial rows are in <see cref="OvsdbMonitor.Initial"/>, later
    /// changes come as updates — to <paramref name="onUpdate"/> when given (called one at a time, in order, off the
    /// connection's reader), otherwise through <see cref="OvsdbMonitor.ReadUpdatesAsync"/>.
    /// </summary>
    public async Task<OvsdbMonitor> MonitorAsync(
        string database,
        IEnumerable<OvsdbMonitorRequest> tables,
        Func<OvsdbTableUpdates, Task>? onUpdate = null,
        CancellationToken cancellationToken = default)
    {
        var requests = new JsonObject();
        foreach (var table in tables)
        {
            var request = new JsonObject();
            if (table.Columns is not null)
            {
                request["columns"] = new JsonArray([.. table.Columns.Select(c => (JsonNode?)JsonValue.Create(c))]);
            }

            requests[table.Table] = request;
        }

        var monitor = new OvsdbMonitor(this, "qkvm-monitor-" + Interlocked.Increment(ref _lastId).ToString(CultureInfo.InvariantCulture));

        // Registered before the request is sent: the server may send the first update right after its reply.
        lock (_gate)
        {
            _monitors[monitor.Id] = monitor;
        }

        try
        {
            var initial = await CallAsync("monitor", [database, monitor.Id, requests], cancellationToken);
            monitor.Initial = OvsdbTableUpdates.Parse(initial);
        }
        catch (OperationCanceledException)
        {
            // The server may have started it anyway.
            _ = CancelMonitorAsync(monitor);
            throw;
        }
        catch
        {
            ForgetMonitor(monitor);
            throw;
        }

        if (onUpdate is not null)
        {
            monitor.CallbackPump = Task.Run(async () =>
            {
                await foreach (var update in monitor.Reader.ReadAllAsync())
                {
                    await onUpdate(update);
                }
            });
        }

        return monitor;
    }

    /// <summary>Sends "echo" and returns the server's reply (the same values): a liveness check.</summary>
    public async Task<JsonArray> EchoAsync(JsonArray? values = null, CancellationToken cancellationToken = default) =>
        (await CallAsync("echo", values ?? ["qkvm"], cancellationToken))!.AsArray();

    /// <summary>
    /// Any JSON-RPC method: sends the request and returns its "result". A non-null "error" in the response becomes an
    /// <see cref="OvsdbException"/>. Cancelling abandons the wait (the server may still carry out the request).
    /// </summary>
    public async Task<JsonNode?> CallAsync(string method, JsonArray parameters, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(method);
        var id = Interlocked.Increment(ref _lastId);
        var call = new PendingCall(method, new TaskCompletionSource<JsonNode?>(TaskCreationOptions.RunContinuationsAsynchronously));
        lock (_gate)
        {
            if (_closedBecause is { } closed)
            {
                throw Lost(closed);
            }

            _pending[id] = call;
        }

        await using var registration = cancellationToken.Register(() =>
        {
            if (RemovePending(id) is { } abandoned)
            {
                abandoned.Result.TrySetCanceled(cancellationToken);
            }
        });

        try
        {
            await SendAsync(new JsonObject { ["method"] = method, ["params"] = parameters, ["id"] = id });
        }
        catch
        {
            RemovePending(id);
            throw;
        }

        return await call.Result.Task;
    }

    internal async Task CancelMonitorAsync(OvsdbMonitor monitor)
    {
        ForgetMonitor(monitor);
        if (!IsConnected)
        {
            return;
        }

        try
        {
            await CallAsync("monitor_cancel", [monitor.Id]);
        }
        catch (OvsdbException)
        {
            // Gone with the connection, or never started on the server: either way it sends no more updates.
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _disposing.CancelAsync();
        try
        {
            _socket.Shutdown(SocketShutdown.Both);
        }
        catch (SocketException)
        {
        }
        catch (ObjectDisposedException)
        {
        }

        await _readLoop;
        await _stream.DisposeAsync();
        _disposing.Dispose();
        _writeLock.Dispose();
    }

    private async Task SendAsync(JsonObject message)
    {
        var bytes = Encoding.UTF8.GetBytes(message.ToJsonString());
        await _writeLock.WaitAsync();
        try
        {
            // Never cancelled half-way: a partial message would corrupt the stream for every other request.
            await _stream.WriteAsync(bytes);
        }
        catch (Exception e) when (e is IOException or SocketException or ObjectDisposedException)
        {
            throw Lost(new OvsdbConnectionException(Endpoint, $"the connection to {Endpoint} failed: {e.Message}", e));
        }
        finally
        {
            _writeLock.Release();
        }
    }

    private async Task ReadLoopAsync()
    {
        var buffer = new byte[64 * 1024];
        var filled = 0;
        OvsdbConnectionException reason;
        try
        {
            while (true)
            {
                if (filled == buffer.Length)
                {
                    Array.Resize(ref buffer, buffer.Length * 2);
                }

                var read = await _stream.ReadAsync(buffer.AsMemory(filled), _disposing.Token);
                if (read == 0)
                {
                    reason = new OvsdbConnectionException(Endpoint, $"the OVSDB server at {Endpoint} closed the connection");
                    break;
                }

                filled += read;
                var consumed = 0;
                while (NextMessage(buffer.AsSpan(consumed, filled - consumed), out var length) is { } message)
                {
                    consumed += length;
                    await DispatchAsync(message);
                }

                Buffer.BlockCopy(buffer, consumed, buffer, 0, filled - consumed);
                filled -= consumed;
            }
        }
        catch (OperationCanceledException) when (_disposing.IsCancellationRequested)
        {
            reason = new OvsdbConnectionException(Endpoint, $"the client of {Endpoint} was disposed");
        }
        catch (Exception e) when (e is IOException or SocketException or ObjectDisposedException or JsonException or InvalidOperationException or OvsdbConnectionException)
        {
            reason = _disposing.IsCancellationRequested
                ? new OvsdbConnectionException(Endpoint, $"the client of {Endpoint} was disposed")
                : new OvsdbConnectionException(Endpoint, $"the connection to {Endpoint} failed: {e.Message}", e);
        }

        Close(reason, monitorsFail: !_disposing.IsCancellationRequested);
    }

    /// <summary>The next complete JSON object at the start of <paramref name="data"/> (messages follow each other without separators).</summary>
    private static JsonObject? NextMessage(ReadOnlySpan<byte> data, out int length)
    {
        length = 0;
        var reader = new Utf8JsonReader(data, isFinalBlock: false, state: default);
        if (!reader.Read())
        {
            return null;
        }

        if (reader.TokenType != JsonTokenType.StartObject)
        {
            throw new JsonException($"expected a JSON-RPC message object, got {reader.TokenType}");
        }

        if (!reader.TrySkip())
        {
            return null;
        }

        length = (int)reader.BytesConsumed;
        return JsonNode.Parse(data[..length])!.AsObject();
    }

    private async Task DispatchAsync(JsonObject message)
    {
        var id = message["id"];
        if (message["method"] is JsonValue methodValue)
        {
            var method = methodValue.GetValue<string>();
            var parameters = message["params"] as JsonArray ?? [];
            if (method == "echo" && id is not null)
            {
                await SendAsync(new JsonObject { ["id"] = id.DeepClone(), ["result"] = parameters.DeepClone(), ["error"] = null });
                Interlocked.Increment(ref _echoRequestsAnswered);
            }
            else if (method == "update" && parameters.Count == 2 && parameters[0] is JsonValue monitorId)
            {
                OvsdbMonitor? monitor;
                lock (_gate)
                {
                    _monitors.TryGetValue(monitorId.ToString(), out monitor);
                }

                monitor?.Deliver(OvsdbTableUpdates.Parse(parameters[1]));
            }
            else if (id is not null)
            {
                await SendAsync(new JsonObject { ["id"] = id.DeepClone(), ["result"] = null, ["error"] = $"unknown method {method}" });
            }

            // Other notifications ("locked", "stolen", ...) concern features this client does not use.
            return;
        }

        if (id is JsonValue idValue && idValue.TryGetValue<long>(out var callId) && RemovePending(callId) is { } call)
        {
            var error = message["error"];
            if (error is null)
            {
                call.Result.TrySetResult(message["result"]);
            }
            else
            {
                call.Result.TrySetException(error is JsonObject detail
                    ? new OvsdbException(call.Method, detail["error"]?.ToString() ?? detail.ToJsonString(), detail["details"]?.ToString())
                    : new OvsdbException(call.Method, error.ToString(), null));
            }
        }
    }

    private void Close(OvsdbConnectionException reason, bool monitorsFail)
    {
        List<PendingCall> pending;
        List<OvsdbMonitor> monitors;
        lock (_gate)
        {
            _closedBecause ??= reason;
            pending = [.. _pending.Values];
            _pending.Clear();
            monitors = [.. _monitors.Values];
            _monitors.Clear();
        }

        foreach (var call in pending)
        {
            call.Result.TrySetException(Lost(reason));
        }

        foreach (var monitor in monitors)
        {
            monitor.Complete(monitorsFail ? Lost(reason) : null);
        }
    }

    private PendingCall? RemovePending(long id)
    {
        lock (_gate)
        {
            return _pending.Remove(id, out var call) ? call : null;
        }
    }

    private void ForgetMonitor(OvsdbMonitor monitor)
    {
        lock (_gate)
        {
            _monitors.Remove(monitor.Id);
        }
    }

    /// <summary>A fresh exception per failed call (one instance thrown from many tasks would share its stack trace).</summary>
    private OvsdbConnectionException Lost(OvsdbConnectionException reason) => new(Endpoint, reason.Message, reason.InnerException);

    private static (EndPoint Address, ProtocolType Protocol) ParseEndpoint(string endpoint)
    {
        if (endpoint.StartsWith("unix:", StringComparison.Ordinal))
        {
            return (new UnixDomainSocketEndPoint(endpoint["unix:".Length..]), ProtocolType.Unspecified);
        }

        if (endpoint.StartsWith('/'))
        {
            return (new UnixDomainSocketEndPoint(endpoint), ProtocolType.Unspecified);
        }

        if (endpoint.StartsWith("tcp:", StringComparison.Ordinal))
        {
            var hostPort = endpoint["tcp:".Length..];
            var colon = hostPort.LastIndexOf(':');
            if (colon > 0
                && IPAddress.TryParse(hostPort[..colon].Trim('[', ']'), out var ip)
                && ushort.TryParse(hostPort[(colon + 1)..], NumberStyles.None, CultureInfo.InvariantCulture, out var port) && port > 0)
            {
                return (new IPEndPoint(ip, port), ProtocolType.Tcp);
            }
        }

        throw new ArgumentException(
            $"'{endpoint}' is not an OVSDB endpoint: use unix:/path/to/db.sock, /path/to/db.sock or tcp:IP:PORT", nameof(endpoint));
    }

    private sealed record PendingCall(string Method, TaskCompletionSource<JsonNode?> Result);
}
