using Microsoft.AspNetCore.Http;

namespace Quantixkvm.GraphQLTransport;

/// <summary>Settings of the GraphQL HTTP and WebSocket transport.</summary>
public sealed class GraphQLTransportOptions
{
    /// <summary>
    /// Largest GraphQL document (the <c>query</c> text, counted in UTF-8 bytes) that is accepted.
    /// Over HTTP a larger one is answered with 413 and error code <c>DOCUMENT_TOO_LARGE</c>;
    /// over WebSocket the operation gets an <c>error</c> message with that code.
    /// </summary>
    public int MaxDocumentBytes { get; set; } = 64 * 1024;

    /// <summary>
    /// Largest HTTP POST body, and largest single WebSocket message, in bytes (document, variables and extensions together).
    /// Over HTTP a larger body is answered with 413 and error code <c>REQUEST_TOO_LARGE</c>;
    /// over WebSocket the socket is closed with 1009 (message too big). Must be at least <see cref="MaxDocumentBytes"/>.
    /// </summary>
    public int MaxRequestBytes { get; set; } = 1024 * 1024;

    /// <summary>
    /// How long a WebSocket client may wait after the upgrade before sending <c>connection_init</c>;
    /// after that the socket is closed with 4408 "Connection initialisation timeout".
    /// </summary>
    public TimeSpan ConnectionInitTimeout { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>
    /// Most outgoing WebSocket messages that may wait to be sent on one socket. A client that reads more slowly
    /// than its subscriptions produce has its socket aborted once this many are queued (a close frame would have
    /// to wait behind them), so that one slow reader cannot make the server buffer without bound.
    /// </summary>
    public int MaxQueuedMessagesPerSocket { get; set; } = 4096;

    /// <summary>
    /// Most operations (subscriptions, mostly) running at once on one socket. A client that subscribes past it
    /// has its socket closed with 4400, so one client cannot pile up unbounded work on the server.
    /// </summary>
    public int MaxOperationsPerSocket { get; set; } = 100;

    /// <summary>
    /// Builds the GraphQL user context of one operation (one HTTP request, or one WebSocket <c>subscribe</c>,
    /// where the context is the upgrade request). When not set, every operation gets a new empty dictionary.
    /// </summary>
    public Func<HttpContext, IDictionary<string, object?>>? UserContextFactory { get; set; }
}
