using GraphQL;
using GraphQL.Execution;
using Quantixkvm.ControlPlane.Commands;
using Quantixkvm.Domain;

namespace Quantixkvm.ControlPlane.Api.GraphQL;

/// <summary>
/// A GraphQL error with a stable <c>extensions.code</c> and machine-readable details beside it
/// (the state and command of an INVALID_STATE, each host's reason for NO_HOST_AVAILABLE, …).
/// </summary>
public sealed class ApiError : ExecutionError
{
    public ApiError(string code, string message, IReadOnlyDictionary<string, object?>? details = null)
        : base(message)
    {
        Code = code;
        Details = details ?? new Dictionary<string, object?>();
    }

    public IReadOnlyDictionary<string, object?> Details { get; }

    public static ApiError Create(string code, string message, IReadOnlyDictionary<string, object?>? details = null) =>
        new(code, message, details);

    public static ApiError Validation(string message) => Create("VALIDATION", message);

    public static ApiError NotFound(string message) => Create("NOT_FOUND", message);

    /// <summary>The API's one translation of command failures into GraphQL errors.</summary>
    public static ApiError From(Exception exception) => exception switch
    {
        CommandRejectedException { Rejection: var r } => Create(CodeOf(r.Code), r.Message, new Dictionary<string, object?>
        {
            ["state"] = r.State,
            ["command"] = r.Command,
        }.Where(kv => kv.Value is not null).ToDictionary()),
        ConcurrencyConflictException c => Create("CONCURRENCY_CONFLICT", c.Message, new Dictionary<string, object?>
        {
            ["expectedVersion"] = c.ExpectedVersion,
            ["actualVersion"] = c.ActualVersion,
        }),
        NoHostAvailableException n => Create("NO_HOST_AVAILABLE", n.Message, new Dictionary<string, object?>
        {
            ["rejections"] = n.Placement.Rejections
                .Select(h => new Dictionary<string, object?>
                {
                    ["hostId"] = h.HostId.ToString(),
                    ["hostName"] = h.HostName,
                    ["filter"] = h.Filter,
                    ["reason"] = h.Reason,
                })
                .ToList(),
        }),
        _ => throw new InvalidOperationException("not a command failure", exception),
    };

    /// <summary>Runs a command; its refusal (rejection, conflict, no host) comes back as the matching <see cref="ApiError"/>.</summary>
    public static async Task<T> GuardAsync<T>(Func<Task<T>> command)
    {
        try
        {
            return await command();
        }
        catch (Exception ex) when (IsCommandFailure(ex))
        {
            throw From(ex);
        }
    }

    public static bool IsCommandFailure(Exception exception) =>
        exception is CommandRejectedException or ConcurrencyConflictException or NoHostAvailableException;

    private static string CodeOf(RejectionCode code) => code switch
    {
        RejectionCode.Validation => "VALIDATION",
        RejectionCode.NotFound => "NOT_FOUND",
        RejectionCode.InvalidState => "INVALID_STATE",
        RejectionCode.Conflict => "ALREADY_EXISTS",
        RejectionCode.NoHostAvailable => "NO_HOST_AVAILABLE",
        _ => "REJECTED",
    };
}

/// <summary>Puts an <see cref="ApiError"/>'s details into <c>extensions</c> next to its code.</summary>
public sealed class ApiErrorInfoProvider() : ErrorInfoProvider(o => o.ExposeExceptionDetails = false)
{
    public override ErrorInfo GetInfo(ExecutionError executionError)
    {
        var info = base.GetInfo(executionError);
        if (executionError is ApiError { Details.Count: > 0 } api)
        {
            info.Extensions ??= new Dictionary<string, object?>();
            foreach (var (key, value) in api.Details)
            {
                info.Extensions[key] = value;
            }
        }

        return info;
    }
}
