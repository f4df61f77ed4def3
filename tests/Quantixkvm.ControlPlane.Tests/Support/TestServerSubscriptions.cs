using Microsoft.AspNetCore.Mvc.Testing;
using Quantixkvm.Testing;

namespace Quantixkvm.ControlPlane.Tests.Support;

/// <summary>The shared graphql-transport-ws client, over the test server's in-memory WebSocket.</summary>
public static class TestServerSubscriptions
{
    public static Task<GraphQLSubscriptionClient> ConnectAsync<TEntryPoint>(WebApplicationFactory<TEntryPoint> app)
        where TEntryPoint : class =>
        GraphQLSubscriptionClient.ConnectAsync(cancellationToken =>
        {
            var client = app.Server.CreateWebSocketClient();
            client.SubProtocols.Add(GraphQLSubscriptionClient.SubProtocol);
            return client.ConnectAsync(new Uri(app.Server.BaseAddress, "graphql"), cancellationToken);
        });
}
