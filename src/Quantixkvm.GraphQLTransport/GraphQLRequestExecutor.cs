using GraphQL;
using GraphQL.Types;
using GraphQL.Validation;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace Quantixkvm.GraphQLTransport;

/// <summary>Runs one request through the caller's <see cref="IDocumentExecuter"/>; shared by the HTTP and WebSocket sides.</summary>
internal sealed class GraphQLRequestExecutor(IOptions<GraphQLTransportOptions> options)
{
    public GraphQLTransportOptions Options { get; } = options.Value;

    public Task<ExecutionResult> ExecuteAsync(HttpContext httpContext, GraphQLRequestData request, IValidationRule? transportRule, CancellationToken cancellationToken)
        => Prepare(httpContext, request, transportRule, cancellationToken).ExecuteAsync();

    /// <summary>
    /// Reads everything the execution needs from the <see cref="HttpContext"/> (services, user, the user context
    /// factory's result), without executing. An HttpContext is not thread-safe: <see cref="DefaultHttpContext.User"/>
    /// and the feature cache behind it are filled in lazily, and two threads doing so at once can see null. So a
    /// connection that runs several operations at once (a WebSocket) prepares them one at a time on one thread, and
    /// only the execution runs concurrently.
    /// </summary>
    public PreparedExecution Prepare(HttpContext httpContext, GraphQLRequestData request, IValidationRule? transportRule, CancellationToken cancellationToken)
    {
        var services = httpContext.RequestServices;
        var executionOptions = new ExecutionOptions
        {
            Schema = services.GetRequiredService<ISchema>(),
            Query = request.Query,
            OperationName = request.OperationName,
            Variables = request.Variables,
            Extensions = request.Extensions,
            UserContext = Options.UserContextFactory?.Invoke(httpContext) ?? new Dictionary<string, object?>(),
            RequestServices = services,
            User = httpContext.User,
            CancellationToken = cancellationToken,
        };

        if (transportRule is not null)
        {
            // Rules registered through the GraphQL builder are appended to these by GraphQL.NET itself.
            // The transport rule also runs on documents served from a document cache.
            executionOptions.ValidationRules = DocumentValidator.CoreRules.Append(transportRule);
            executionOptions.CachedDocumentValidationRules = [transportRule];
        }

        return new PreparedExecution(services.GetRequiredService<IDocumentExecuter>(), executionOptions);
    }
}

/// <summary>An execution whose inputs were read from the HttpContext already; running it touches the context no more.</summary>
internal sealed record PreparedExecution(IDocumentExecuter Executer, ExecutionOptions Options)
{
    public Task<ExecutionResult> ExecuteAsync() => Executer.ExecuteAsync(Options);
}
