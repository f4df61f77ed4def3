using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;
using Quantixkvm.GraphQLTransport.Http;
using Quantixkvm.GraphQLTransport.WebSockets;

namespace Quantixkvm.GraphQLTransport;

/// <summary>Registers the transport's services.</summary>
public static class GraphQLTransportServiceCollectionExtensions
{
    /// <summary>
    /// Adds the GraphQL-over-HTTP and graphql-transport-ws transport. The GraphQL.NET services it uses
    /// (<c>ISchema</c>, <c>IDocumentExecuter</c>, <c>IGraphQLTextSerializer</c>) are registered separately,
    /// with <c>services.AddGraphQL(...)</c>.
    /// </summary>
    public static IServiceCollection AddGraphQLTransport(this IServiceCollection services, Action<GraphQLTransportOptions>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(services);
        var options = services.AddOptions<GraphQLTransportOptions>();
        if (configure is not null)
        {
            options.Configure(configure);
        }

        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<GraphQLTransportOptions>, GraphQLTransportOptionsValidator>());
        services.TryAddSingleton<GraphQLRequestExecutor>();
        services.TryAddSingleton<GraphQLHttpHandler>();
        services.TryAddSingleton<GraphQLWebSocketHandler>();
        return services;
    }
}

internal sealed class GraphQLTransportOptionsValidator : IValidateOptions<GraphQLTransportOptions>
{
    public ValidateOptionsResult Validate(string? name, GraphQLTransportOptions options)
    {
        var failures = new List<string>();
        if (options.MaxDocumentBytes <= 0)
        {
            failures.Add($"{nameof(GraphQLTransportOptions.MaxDocumentBytes)} must be positive.");
        }

        if (options.MaxRequestBytes < options.MaxDocumentBytes)
        {
            failures.Add($"{nameof(GraphQLTransportOptions.MaxRequestBytes)} ({options.MaxRequestBytes}) must be at least {nameof(GraphQLTransportOptions.MaxDocumentBytes)} ({options.MaxDocumentBytes}).");
        }

        if (options.ConnectionInitTimeout <= TimeSpan.Zero)
        {
            failures.Add($"{nameof(GraphQLTransportOptions.ConnectionInitTimeout)} must be positive.");
        }

        if (options.MaxOperationsPerSocket <= 0)
        {
            failures.Add($"{nameof(GraphQLTransportOptions.MaxOperationsPerSocket)} must be positive.");
        }

        if (options.MaxQueuedMessagesPerSocket <= 0)
        {
            failures.Add($"{nameof(GraphQLTransportOptions.MaxQueuedMessagesPerSocket)} must be positive.");
        }

        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }
}
