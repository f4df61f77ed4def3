namespace Quantixkvm.Domain;

/// <summary>What a decider answers: the events a command produces, or why it was refused.</summary>
public abstract record Decision<TEvent>
{
    private Decision() { }

    /// <summary>The command is accepted. No events means an idempotent repeat: nothing changes.</summary>
    public sealed record Accepted(IReadOnlyList<TEvent> Events, Guid? OperationId) : Decision<TEvent>;

    public sealed record Rejected(Rejection Rejection) : Decision<TEvent>;

    public static Decision<TEvent> Accept(Guid? operationId, params TEvent[] events) => new Accepted(events, operationId);

    public static Decision<TEvent> Reject(RejectionCode code, string message, string? state = null, string? command = null) =>
        new Rejected(new Rejection(code, message, state, command));
}

public enum RejectionCode
{
    Validation,
    NotFound,
    InvalidState,
    Conflict,
    NoHostAvailable,
}

/// <summary>A refused command, with the state and command that clashed when that is the reason.</summary>
public sealed record Rejection(RejectionCode Code, string Message, string? State = null, string? Command = null);

/// <summary>Who asked, under which idempotency key, and when. <c>Now</c> is given, never read from a clock.</summary>
public sealed record CommandContext(string CommandId, string Actor, DateTimeOffset Now);
