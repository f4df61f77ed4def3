using Quantixkvm.Domain;

namespace Quantixkvm.ControlPlane.Commands;

/// <summary>Who sent a command and under which keys; stored as the events' metadata.</summary>
public sealed record CommandMetadata(string CommandId, string Actor, string CorrelationId, string? CausationId = null)
{
    /// <summary>A command id for callers that supplied none: every such command is new.</summary>
    public static string NewCommandId() => Guid.CreateVersion7().ToString();
}

/// <summary>The result of a handled command: the operation it started or found, and the stream's version after it.</summary>
public sealed record CommandResult(Guid StreamId, Guid? OperationId, long Version, bool Appended);

/// <summary>The decider refused the command; nothing was appended.</summary>
public sealed class CommandRejectedException(Rejection rejection) : Exception(rejection.Message)
{
    public Rejection Rejection { get; } = rejection;
}

/// <summary>The stream moved on since the caller read it; nothing was appended.</summary>
public sealed class ConcurrencyConflictException(Guid streamId, long expectedVersion, long actualVersion)
    : Exception($"stream {streamId} is at version {actualVersion}, not the expected {expectedVersion}; read it again and retry")
{
    public Guid StreamId { get; } = streamId;
    public long ExpectedVersion { get; } = expectedVersion;
    public long ActualVersion { get; } = actualVersion;
}
