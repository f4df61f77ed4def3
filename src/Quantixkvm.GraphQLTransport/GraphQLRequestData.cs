using System.Text;
using System.Text.Json;
using GraphQL;

namespace Quantixkvm.GraphQLTransport;

/// <summary>The parameters of one GraphQL request, as read from a POST body, a GET query string or a <c>subscribe</c> payload.</summary>
internal sealed record GraphQLRequestData(string Query, string? OperationName, Inputs? Variables, Inputs? Extensions);

/// <summary>A request that is not well-formed; becomes a GraphQL error with <see cref="Code"/> as extensions.code.</summary>
internal sealed record RequestProblem(string Code, string Message);

/// <summary>Error codes of the request-level errors this transport produces.</summary>
internal static class TransportErrorCodes
{
    public const string BadRequest = "BAD_REQUEST";
    public const string InvalidJson = "INVALID_JSON";
    public const string MethodNotAllowed = "METHOD_NOT_ALLOWED";
    public const string NotAcceptable = "NOT_ACCEPTABLE";
    public const string UnsupportedMediaType = "UNSUPPORTED_MEDIA_TYPE";
    public const string DocumentTooLarge = "DOCUMENT_TOO_LARGE";
    public const string RequestTooLarge = "REQUEST_TOO_LARGE";
    public const string SubscriptionNotSupported = "SUBSCRIPTION_NOT_SUPPORTED";
    public const string InternalServerError = "INTERNAL_SERVER_ERROR";
}

/// <summary>
/// Checks the shape of a request map (<c>{query, operationName?, variables?, extensions?}</c>) strictly, so that
/// a malformed request gets a specific message instead of a serializer exception. Unknown properties are ignored
/// (the spec reserves them for future use).
/// </summary>
internal static class GraphQLRequestReader
{
    public static RequestProblem? TryRead(JsonElement map, IGraphQLTextSerializer serializer, int maxDocumentBytes, out GraphQLRequestData? request)
    {
        request = null;
        if (map.ValueKind != JsonValueKind.Object)
        {
            return new RequestProblem(TransportErrorCodes.BadRequest,
                $"The request must be a JSON object with a 'query' property, but got {Describe(map)}" +
                (map.ValueKind == JsonValueKind.Array ? " (batched requests are not supported)." : "."));
        }

        string? query = null;
        string? operationName = null;
        JsonElement? variables = null;
        JsonElement? extensions = null;
        var hasQuery = false;
        foreach (var property in map.EnumerateObject())
        {
            switch (property.Name)
            {
                case "query":
                    hasQuery = property.Value.ValueKind != JsonValueKind.Null;
                    if (property.Value.ValueKind is not (JsonValueKind.String or JsonValueKind.Null))
                    {
                        return new RequestProblem(TransportErrorCodes.BadRequest, $"The 'query' parameter must be a string containing a GraphQL document, but got {Describe(property.Value)}.");
                    }

                    query = property.Value.GetString();
                    break;
                case "operationName":
                    if (property.Value.ValueKind is not (JsonValueKind.String or JsonValueKind.Null))
                    {
                        return new RequestProblem(TransportErrorCodes.BadRequest, $"The 'operationName' parameter must be a string or null, but got {Describe(property.Value)}.");
                    }

                    operationName = property.Value.GetString();
                    break;
                case "variables":
                    if (property.Value.ValueKind is not (JsonValueKind.Object or JsonValueKind.Null))
                    {
                        return new RequestProblem(TransportErrorCodes.BadRequest, $"The 'variables' parameter must be a JSON object (map) or null, but got {Describe(property.Value)}.");
                    }

                    variables = property.Value;
                    break;
                case "extensions":
                    if (property.Value.ValueKind is not (JsonValueKind.Object or JsonValueKind.Null))
                    {
                        return new RequestProblem(TransportErrorCodes.BadRequest, $"The 'extensions' parameter must be a JSON object (map) or null, but got {Describe(property.Value)}.");
                    }

                    extensions = property.Value;
                    break;
                default:
                    break;
            }
        }

        if (!hasQuery || query is null)
        {
            return new RequestProblem(TransportErrorCodes.BadRequest, "The request has no 'query' parameter; it must carry the GraphQL document as a string.");
        }

        return Build(query, operationName, variables, extensions, serializer, maxDocumentBytes, out request);
    }

    /// <summary>Reads the query-string parameters of a GET request (<c>variables</c> and <c>extensions</c> are JSON texts).</summary>
    public static RequestProblem? TryReadQueryString(
        Microsoft.AspNetCore.Http.IQueryCollection parameters, IGraphQLTextSerializer serializer, int maxDocumentBytes, out GraphQLRequestData? request)
    {
        request = null;
        foreach (var name in (ReadOnlySpan<string>)["query", "operationName", "variables", "extensions"])
        {
            if (parameters.TryGetValue(name, out var values) && values.Count > 1)
            {
                return new RequestProblem(TransportErrorCodes.BadRequest, $"The '{name}' query-string parameter was given {values.Count} times; give it at most once.");
            }
        }

        var query = parameters.TryGetValue("query", out var q) ? q.ToString() : null;
        if (string.IsNullOrEmpty(query))
        {
            return new RequestProblem(TransportErrorCodes.BadRequest, "A GET request must carry the GraphQL document in the 'query' query-string parameter.");
        }

        // An empty operationName is the same as none (GraphQL over HTTP, GET).
        var operationName = parameters.TryGetValue("operationName", out var o) && o.ToString().Length > 0 ? o.ToString() : null;

        using var variablesDocument = ParseJsonParameter(parameters, "variables", out var variablesProblem);
        if (variablesProblem is not null)
        {
            return variablesProblem;
        }

        using var extensionsDocument = ParseJsonParameter(parameters, "extensions", out var extensionsProblem);
        if (extensionsProblem is not null)
        {
            return extensionsProblem;
        }

        foreach (var (name, document) in new[] { ("variables", variablesDocument), ("extensions", extensionsDocument) })
        {
            if (document is not null && document.RootElement.ValueKind is not (JsonValueKind.Object or JsonValueKind.Null))
            {
                return new RequestProblem(TransportErrorCodes.BadRequest, $"The '{name}' query-string parameter must be a JSON object (map), but got {Describe(document.RootElement)}.");
            }
        }

        return Build(query, operationName, variablesDocument?.RootElement, extensionsDocument?.RootElement, serializer, maxDocumentBytes, out request);
    }

    private static JsonDocument? ParseJsonParameter(Microsoft.AspNetCore.Http.IQueryCollection parameters, string name, out RequestProblem? problem)
    {
        problem = null;
        if (!parameters.TryGetValue(name, out var raw) || raw.ToString().Length == 0)
        {
            return null;
        }

        try
        {
            return JsonDocument.Parse(raw.ToString());
        }
        catch (JsonException ex)
        {
            problem = new RequestProblem(TransportErrorCodes.InvalidJson, $"The '{name}' query-string parameter is not valid JSON: {ex.Message}");
            return null;
        }
    }

    private static RequestProblem? Build(
        string query, string? operationName, JsonElement? variables, JsonElement? extensions,
        IGraphQLTextSerializer serializer, int maxDocumentBytes, out GraphQLRequestData? request)
    {
        request = null;
        var documentBytes = Encoding.UTF8.GetByteCount(query);
        if (documentBytes > maxDocumentBytes)
        {
            return new RequestProblem(TransportErrorCodes.DocumentTooLarge,
                $"The GraphQL document is {documentBytes} bytes long; this server accepts documents of at most {maxDocumentBytes} bytes.");
        }

        request = new GraphQLRequestData(
            query,
            string.IsNullOrEmpty(operationName) ? null : operationName,
            ToInputs(variables, serializer),
            ToInputs(extensions, serializer));
        return null;
    }

    // The caller's serializer turns the JSON map into GraphQL.NET inputs, so its number and date handling applies.
    private static Inputs? ToInputs(JsonElement? element, IGraphQLTextSerializer serializer)
        => element is { ValueKind: JsonValueKind.Object } value ? serializer.Deserialize<Inputs>(value.GetRawText()) : null;

    public static string Describe(JsonElement element) => element.ValueKind switch
    {
        JsonValueKind.Object => "an object",
        JsonValueKind.Array => "an array",
        JsonValueKind.String => "a string",
        JsonValueKind.Number => "a number",
        JsonValueKind.True or JsonValueKind.False => "a boolean",
        JsonValueKind.Null => "null",
        _ => "nothing",
    };
}
