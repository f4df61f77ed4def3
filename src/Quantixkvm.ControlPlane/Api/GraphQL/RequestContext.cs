using GraphQL;
using Quantixkvm.ControlPlane.Commands;

namespace Quantixkvm.ControlPlane.Api.GraphQL;

/// <summary>What a GraphQL request carries into commands: its actor and correlation id (set per HTTP request or socket).</summary>
public static class RequestContext
{
    public const string CorrelationHeader = "X-Correlation-Id";
    private const string ActorKey = "actor";
    private const string CorrelationKey = "correlationId";
    private const int MaxCommandIdLength = 128;

    /// <summary>The request's correlation id: the caller's X-Correlation-Id when it is a UUID, otherwise a new one; echoed back.</summary>
    public static string CorrelationOf(HttpContext http)
    {
        if (http.Items[CorrelationKey] is string known)
        {
            return known;
        }

        var header = http.Request.Headers[CorrelationHeader].ToString();
        var correlation = (Guid.TryParse(header, out var given) ? given : Guid.CreateVersion7()).ToString();
        http.Items[CorrelationKey] = correlation;
        http.Response.Headers[CorrelationHeader] = correlation;
        return correlation;
    }

    /// <summary>Builds the GraphQL user context for one request or socket.</summary>
    public static Dictionary<string, object?> For(HttpContext http) =>
        // No authentication yet (a later issue): every caller acts as "user:anonymous", recorded as such.
        new() { [ActorKey] = "user:anonymous", [CorrelationKey] = CorrelationOf(http) };

    public static CommandMetadata Metadata(IResolveFieldContext context, string? commandId)
    {
        var actor = context.UserContext.TryGetValue(ActorKey, out var a) && a is string s ? s : "user:anonymous";
        var correlation = context.UserContext.TryGetValue(CorrelationKey, out var c) && c is string cs ? cs : Guid.CreateVersion7().ToString();
        return new CommandMetadata(CheckCommandId(commandId) ?? CommandMetadata.NewCommandId(), actor, correlation);
    }

    public static Guid ParseId(string? value, string argument) =>
        Guid.TryParse(value, out var id)
            ? id
            : throw ApiError.Validation($"{argument} '{value}' is not a valid id (expected a UUID)");

    private static string? CheckCommandId(string? commandId)
    {
        if (commandId is null)
        {
            return null;
        }

        if (string.IsNullOrWhiteSpace(commandId) || commandId.Length > MaxCommandIdLength || commandId.Any(char.IsControl))
        {
            throw ApiError.Validation($"commandId must be 1–{MaxCommandIdLength} printable characters");
        }

        return commandId;
    }
}
