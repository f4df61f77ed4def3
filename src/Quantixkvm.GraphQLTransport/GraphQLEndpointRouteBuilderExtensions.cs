using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using Quantixkvm.GraphQLTransport.GraphiQL;
using Quantixkvm.GraphQLTransport.Http;
using Quantixkvm.GraphQLTransport.WebSockets;

namespace Quantixkvm.GraphQLTransport;

/// <summary>Maps the GraphQL endpoint and the GraphiQL page.</summary>
public static class GraphQLEndpointRouteBuilderExtensions
{
    /// <summary>
    /// Serves GraphQL at <paramref name="pattern"/>: POST and GET per GraphQL over HTTP, and WebSocket upgrades
    /// with the <c>graphql-transport-ws</c> subprotocol (call <c>app.UseWebSockets()</c> before mapping).
    /// Other methods get 405. Needs <see cref="GraphQLTransportServiceCollectionExtensions.AddGraphQLTransport"/>.
    /// </summary>
    public static IEndpointConventionBuilder MapGraphQL(this IEndpointRouteBuilder endpoints, string pattern = "/graphql")
    {
        ArgumentNullException.ThrowIfNull(endpoints);
        ArgumentException.ThrowIfNullOrEmpty(pattern);
        var http = Resolve<GraphQLHttpHandler>(endpoints);
        var webSockets = Resolve<GraphQLWebSocketHandler>(endpoints);
        return endpoints
            .Map(pattern, context => context.WebSockets.IsWebSocketRequest ? webSockets.HandleAsync(context) : http.HandleAsync(context))
            .WithDisplayName($"GraphQL {pattern}");
    }

    /// <summary>
    /// Serves the GraphiQL explorer page at <paramref name="pattern"/>, querying <paramref name="graphQLEndpoint"/>
    /// (over HTTP, and over WebSocket for subscriptions). The page loads GraphiQL and React from a CDN.
    /// </summary>
    public static IEndpointConventionBuilder MapGraphiQL(this IEndpointRouteBuilder endpoints, string pattern = "/graphiql", string graphQLEndpoint = "/graphql")
    {
        ArgumentNullException.ThrowIfNull(endpoints);
        ArgumentException.ThrowIfNullOrEmpty(pattern);
        ArgumentException.ThrowIfNullOrEmpty(graphQLEndpoint);
        return endpoints
            .MapGet(pattern, context => GraphiQLPage.WriteAsync(context, graphQLEndpoint))
            .WithDisplayName($"GraphiQL {pattern}");
    }

    private static T Resolve<T>(IEndpointRouteBuilder endpoints)
        where T : notnull
        => endpoints.ServiceProvider.GetService<T>()
            ?? throw new InvalidOperationException("The GraphQL transport is not registered: call services.AddGraphQLTransport(...) before app.MapGraphQL(...).");
}
