namespace Quantixkvm.Network.Ovsdb;

/// <summary>
/// The server refused a request. <see cref="Error"/> is the server's error string (RFC 7047 3.1), e.g. "constraint
/// violation", "timed out", "referential integrity violation", "unknown database"; <see cref="Details"/> its explanation.
/// For a transaction, <see cref="OperationIndex"/> and <see cref="Operation"/> name the operation that failed (null when
/// the transaction's commit failed, after every operation had succeeded).
/// </summary>
public class OvsdbException : Exception
{
    public OvsdbException(string method, string error, string? details, int? operationIndex = null, string? operation = null)
        : base(Describe(method, error, details, operationIndex, operation))
    {
        Method = method;
        Error = error;
        Details = details;
        OperationIndex = operationIndex;
        Operation = operation;
    }

    protected OvsdbException(string method, string error, string message, Exception? inner)
        : base(message, inner)
    {
        Method = method;
        Error = error;
    }

    /// <summary>The JSON-RPC method: transact, monitor, get_schema, ...</summary>
    public string Method { get; }

    public string Error { get; }

    public string? Details { get; }

    /// <summary>0-based index of the failing operation in the transaction.</summary>
    public int? OperationIndex { get; }

    /// <summary>The failing operation, e.g. "wait on Logical_Switch".</summary>
    public string? Operation { get; }

    /// <summary>A "wait" operation's condition did not hold: the rows changed since they were read.</summary>
    public bool IsWaitFailure => Error == "timed out";

    /// <summary>A uniqueness index or a column constraint was violated at commit (e.g. a second row with the same name).</summary>
    public bool IsConstraintViolation => Error == "constraint violation";

    private static string Describe(string method, string error, string? details, int? index, string? operation)
    {
        var where = index is { } i ? $" in operation {i} ({operation})" : method == "transact" ? " at commit" : "";
        return $"OVSDB {method} failed{where}: {error}{(string.IsNullOrEmpty(details) ? "" : ": " + details)}";
    }
}

/// <summary>The server could not be reached, or the connection to it was lost (every pending request fails with this).</summary>
public sealed class OvsdbConnectionException : OvsdbException
{
    public OvsdbConnectionException(string endpoint, string message, Exception? inner = null)
        : base("connect", "connection", message, inner)
    {
        Endpoint = endpoint;
    }

    public string Endpoint { get; }
}
