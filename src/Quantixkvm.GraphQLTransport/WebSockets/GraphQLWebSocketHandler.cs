using System.Net.WebSockets;
using GraphQL;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Quantixkvm.GraphQLTransport.WebSockets;

/// <summary>Close codes of the graphql-transport-ws protocol (graphql-ws PROTOCOL.md).</summary>
internal static class CloseCodes
{
    public const int BadRequest = 4400;
    public const int Unauthorized = 4401;
    public const int SubprotocolNotAcceptable = 4406;
    public const int ConnectionInitialisationTimeout = 4408;
    public const int SubscriberAlreadyExists = 4409;
    public const int TooManyInitialisationRequests = 4429;
    public const int InternalServerError = 4500;
}

/// <summary>Accepts WebSocket upgrades on the GraphQL path and runs the graphql-transport-ws protocol on them.</summary>
internal sealed class GraphQLWebSocketHandler(GraphQLRequestExecutor executor, ILoggerFactory loggerFactory)
{
    public const string SubProtocol = "graphql-transport-ws";

    private static readonly TimeSpan RejectionCloseTimeout = TimeSpan.FromSeconds(5);

    public async Task HandleAsync(HttpContext context)
    {
        if (!context.WebSockets.WebSocketRequestedProtocols.Contains(SubProtocol))
        {
            // As graphql-ws's own server does: the handshake completes without a subprotocol, and the socket
            // is then closed at once with 4406 "Subprotocol not acceptable" (this also turns away the legacy
            // subscriptions-transport-ws protocol, "graphql-ws"), so the client learns why.
            using var rejected = await context.WebSockets.AcceptWebSocketAsync();
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(context.RequestAborted);
            timeout.CancelAfter(RejectionCloseTimeout);
            try
            {
                await rejected.CloseAsync((WebSocketCloseStatus)CloseCodes.SubprotocolNotAcceptable, "Subprotocol not acceptable", timeout.Token);
            }
            catch (Exception ex) when (ex is OperationCanceledException or WebSocketException)
            {
                // The client did not finish the close handshake; the socket is aborted.
            }

            return;
        }

        using var socket = await context.WebSockets.AcceptWebSocketAsync(SubProtocol);
        var serializer = context.RequestServices.GetRequiredService<IGraphQLTextSerializer>();
        var connection = new GraphQLWsConnection(socket, context, executor, serializer, loggerFactory.CreateLogger<GraphQLWsConnection>());
        await connection.RunAsync();
    }
}
