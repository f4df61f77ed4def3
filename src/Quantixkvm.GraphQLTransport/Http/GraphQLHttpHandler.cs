using System.Buffers;
using System.IO.Pipelines;
using System.Text.Json;
using GraphQL;
using GraphQL.Execution;
using GraphQL.Validation;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Net.Http.Headers;

namespace Quantixkvm.GraphQLTransport.Http;

/// <summary>
/// GraphQL over HTTP (https://graphql.github.io/graphql-over-http/draft/): POST with an application/json body,
/// GET with query-string parameters. Every error answer is a GraphQL response body
/// (<c>{"errors":[{"message":...,"extensions":{"code":...}}]}</c>).
/// </summary>
internal sealed partial class GraphQLHttpHandler(GraphQLRequestExecutor executor, ILogger<GraphQLHttpHandler> logger)
{
    private static readonly byte[] Utf8Bom = [0xEF, 0xBB, 0xBF];

    public async Task HandleAsync(HttpContext context)
    {
        var request = context.Request;
        var serializer = context.RequestServices.GetRequiredService<IGraphQLTextSerializer>();
        var isGet = HttpMethods.IsGet(request.Method);
        if (!isGet && !HttpMethods.IsPost(request.Method))
        {
            context.Response.Headers.Allow = "GET, POST";
            await WriteProblemAsync(context, serializer, ResponseMediaType.Json, StatusCodes.Status405MethodNotAllowed,
                new RequestProblem(TransportErrorCodes.MethodNotAllowed, $"The {request.Method} method is not supported here; send GraphQL requests with POST (or GET for queries)."));
            return;
        }

        context.Response.Headers.Vary = "Accept";
        if (MediaTypes.Negotiate(request) is not { } mediaType)
        {
            await WriteProblemAsync(context, serializer, ResponseMediaType.Json, StatusCodes.Status406NotAcceptable,
                new RequestProblem(TransportErrorCodes.NotAcceptable,
                    $"None of the media types in the Accept header can be produced; accept '{MediaTypes.GraphQLResponseJson}' or '{MediaTypes.Json}'."));
            return;
        }

        try
        {
            GraphQLRequestData? graphQLRequest;
            RequestProblem? problem;
            int problemStatus;
            if (isGet)
            {
                problem = GraphQLRequestReader.TryReadQueryString(request.Query, serializer, executor.Options.MaxDocumentBytes, out graphQLRequest);
                problemStatus = StatusFor(problem);
            }
            else
            {
                (problem, problemStatus, graphQLRequest) = await ReadPostAsync(context, serializer);
            }

            if (problem is not null || graphQLRequest is null)
            {
                await WriteProblemAsync(context, serializer, mediaType, problemStatus, problem!);
                return;
            }

            var result = await executor.ExecuteAsync(context, graphQLRequest, isGet ? HttpOperationTypeRule.Get : HttpOperationTypeRule.Post, context.RequestAborted);
            await WriteResultAsync(context, serializer, mediaType, result);
        }
        catch (OperationCanceledException) when (context.RequestAborted.IsCancellationRequested)
        {
            // The client went away; there is no one to answer.
        }
        catch (Exception ex) when (!context.Response.HasStarted)
        {
            LogUnhandled(logger, ex);
            await WriteProblemAsync(context, serializer, mediaType, StatusCodes.Status500InternalServerError,
                new RequestProblem(TransportErrorCodes.InternalServerError, "The server failed to process the request."));
        }
    }

    private async Task<(RequestProblem? Problem, int Status, GraphQLRequestData? Request)> ReadPostAsync(HttpContext context, IGraphQLTextSerializer serializer)
    {
        var request = context.Request;
        if (string.IsNullOrWhiteSpace(request.ContentType))
        {
            return (new RequestProblem(TransportErrorCodes.UnsupportedMediaType,
                $"A POST request must say what its body is: send 'Content-Type: {MediaTypes.Json}'."), StatusCodes.Status415UnsupportedMediaType, null);
        }

        if (!MediaTypeHeaderValue.TryParse(request.ContentType, out var contentType)
            || !contentType.MediaType.Equals(MediaTypes.Json, StringComparison.OrdinalIgnoreCase))
        {
            return (new RequestProblem(TransportErrorCodes.UnsupportedMediaType,
                $"The request body's media type '{request.ContentType}' is not supported; send '{MediaTypes.Json}'."), StatusCodes.Status415UnsupportedMediaType, null);
        }

        if (contentType.Charset.HasValue && !MediaTypes.IsUtf8(contentType.Charset.Value))
        {
            return (new RequestProblem(TransportErrorCodes.UnsupportedMediaType,
                $"The request body's charset '{contentType.Charset.Value}' is not supported; send UTF-8."), StatusCodes.Status415UnsupportedMediaType, null);
        }

        var limit = executor.Options.MaxRequestBytes;
        if (request.ContentLength > limit)
        {
            return (TooLarge(request.ContentLength.Value, limit), StatusCodes.Status413PayloadTooLarge, null);
        }

        var reader = request.BodyReader;
        ReadResult read;
        while (true)
        {
            read = await reader.ReadAsync(context.RequestAborted);
            if (read.Buffer.Length > limit)
            {
                reader.AdvanceTo(read.Buffer.Start, read.Buffer.End);
                return (TooLarge(null, limit), StatusCodes.Status413PayloadTooLarge, null);
            }

            if (read.IsCompleted || read.IsCanceled)
            {
                break;
            }

            reader.AdvanceTo(read.Buffer.Start, read.Buffer.End);
        }

        try
        {
            var body = read.Buffer;
            if (body.Length >= 3 && body.Slice(0, 3).ToArray().AsSpan().SequenceEqual(Utf8Bom))
            {
                body = body.Slice(3);
            }

            if (body.Length == 0)
            {
                return (new RequestProblem(TransportErrorCodes.BadRequest,
                    "The request body is empty; it must be a JSON object with a 'query' property."), StatusCodes.Status400BadRequest, null);
            }

            JsonDocument document;
            try
            {
                document = JsonDocument.Parse(body);
            }
            catch (JsonException ex)
            {
                return (new RequestProblem(TransportErrorCodes.InvalidJson, $"The request body is not valid JSON: {ex.Message}"), StatusCodes.Status400BadRequest, null);
            }

            using (document)
            {
                var problem = GraphQLRequestReader.TryRead(document.RootElement, serializer, executor.Options.MaxDocumentBytes, out var graphQLRequest);
                return (problem, StatusFor(problem), graphQLRequest);
            }
        }
        finally
        {
            reader.AdvanceTo(read.Buffer.End);
        }
    }

    private static RequestProblem TooLarge(long? length, int limit)
        => new(TransportErrorCodes.RequestTooLarge,
            length is { } known
                ? $"The request body is {known} bytes long; this server accepts bodies of at most {limit} bytes."
                : $"The request body is longer than the {limit} bytes this server accepts.");

    private static int StatusFor(RequestProblem? problem) => problem?.Code switch
    {
        null => StatusCodes.Status200OK,
        TransportErrorCodes.DocumentTooLarge or TransportErrorCodes.RequestTooLarge => StatusCodes.Status413PayloadTooLarge,
        _ => StatusCodes.Status400BadRequest,
    };

    private static async Task WriteResultAsync(HttpContext context, IGraphQLTextSerializer serializer, ResponseMediaType mediaType, ExecutionResult result)
    {
        var status = StatusCodes.Status200OK;
        if (result.Errors is { } errors && errors.Any(e => e is MutationOverGetError))
        {
            // GraphQL over HTTP, GET: "the server MUST respond with error status code 405 (Method Not Allowed)".
            status = StatusCodes.Status405MethodNotAllowed;
            context.Response.Headers.Allow = "POST";
        }
        else if (!result.Executed)
        {
            // No "data" entry: the request failed before execution. A GraphQL request error (parse, validation,
            // operation selection, variable coercion) is 400 under application/graphql-response+json and 200 under
            // application/json; anything else (an unhandled exception, a timeout) is the server's fault.
            status = IsRequestError(result)
                ? mediaType == ResponseMediaType.GraphQLResponseJson ? StatusCodes.Status400BadRequest : StatusCodes.Status200OK
                : StatusCodes.Status500InternalServerError;
        }

        context.Response.StatusCode = status;
        context.Response.ContentType = MediaTypes.ContentType(mediaType);
        await serializer.WriteAsync(context.Response.Body, result, context.RequestAborted);
    }

    private static bool IsRequestError(ExecutionResult result)
        => result.Errors is { Count: > 0 } errors && errors.All(e => e is DocumentError or ValidationError);

    private static async Task WriteProblemAsync(HttpContext context, IGraphQLTextSerializer serializer, ResponseMediaType mediaType, int status, RequestProblem problem)
    {
        context.Response.StatusCode = status;
        context.Response.ContentType = MediaTypes.ContentType(mediaType);
        await serializer.WriteAsync(context.Response.Body, ToResult(problem), context.RequestAborted);
    }

    /// <summary>An errors-only GraphQL response (no "data" entry, since nothing was executed).</summary>
    public static ExecutionResult ToResult(RequestProblem problem)
        => new() { Errors = [new TransportRequestError(problem.Code, problem.Message)] };

    [LoggerMessage(Level = LogLevel.Error, Message = "GraphQL HTTP request failed unexpectedly.")]
    private static partial void LogUnhandled(ILogger logger, Exception exception);
}

/// <summary>A request-level error raised by the transport itself; its code becomes extensions.code.</summary>
internal sealed class TransportRequestError : ExecutionError
{
    public TransportRequestError(string code, string message)
        : base(message) => Code = code;
}
