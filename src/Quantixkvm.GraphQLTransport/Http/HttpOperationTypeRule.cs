using GraphQL.Validation;
using GraphQLParser.AST;

namespace Quantixkvm.GraphQLTransport.Http;

/// <summary>
/// Runs with GraphQL.NET's validation, on the operation GraphQL.NET selected from <c>query</c> and <c>operationName</c>:
/// refuses mutations over GET (the transport answers 405, <c>Allow: POST</c>) and subscriptions over HTTP
/// (those are served on the same path over WebSocket, graphql-transport-ws).
/// </summary>
internal sealed class HttpOperationTypeRule : ValidationRuleBase
{
    private readonly bool _isGet;

    private HttpOperationTypeRule(bool isGet) => _isGet = isGet;

    public static HttpOperationTypeRule Get { get; } = new(isGet: true);

    public static HttpOperationTypeRule Post { get; } = new(isGet: false);

    public override ValueTask<INodeVisitor?> GetPreNodeVisitorAsync(ValidationContext context)
    {
        var operation = context.Operation;
        if (operation.Operation == OperationType.Mutation && _isGet)
        {
            context.ReportError(new MutationOverGetError(context.Document.Source, operation));
        }
        else if (operation.Operation == OperationType.Subscription)
        {
            context.ReportError(new SubscriptionOverHttpError(context.Document.Source, operation));
        }

        return default;
    }
}

/// <summary>A mutation selected in a GET request; mapped to 405 with <c>Allow: POST</c>.</summary>
internal sealed class MutationOverGetError : ValidationError
{
    public MutationOverGetError(GraphQLParser.ROM source, GraphQLOperationDefinition operation)
        : base(source, null, "Mutations cannot be sent with GET; send them with POST.", operation)
        => Code = TransportErrorCodes.MethodNotAllowed;
}

/// <summary>A subscription selected in an HTTP request; a validation error (400 or 200 by media type).</summary>
internal sealed class SubscriptionOverHttpError : ValidationError
{
    public SubscriptionOverHttpError(GraphQLParser.ROM source, GraphQLOperationDefinition operation)
        : base(source, null, "Subscriptions are not served over plain HTTP; open a WebSocket to this endpoint with the 'graphql-transport-ws' subprotocol.", operation)
        => Code = TransportErrorCodes.SubscriptionNotSupported;
}
