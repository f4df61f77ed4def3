using JasperFx;
using JasperFx.Events;
using Marten;
using Quantixkvm.Domain;

namespace Quantixkvm.ControlPlane.Commands;

/// <summary>
/// The one command path for every aggregate: read the stream, fold it, decide, append with the
/// expected version. A caller-supplied version that no longer holds is a conflict; without one, a
/// race with another writer is retried against the fresh state (the decider runs again).
/// </summary>
public sealed class AggregateCommands(IDocumentStore store, TimeProvider clock, ILogger<AggregateCommands> logger)
{
    private const int MaxAttempts = 5;

    public async Task<CommandResult> HandleAsync<TState, TEvent>(
        Guid streamId,
        TState initial,
        Func<TState, TEvent, TState> evolve,
        Func<TState, CommandContext, Decision<TEvent>> decide,
        CommandMetadata metadata,
        long? expectedVersion,
        CancellationToken cancellationToken)
        where TEvent : notnull
    {
        for (var attempt = 1; ; attempt++)
        {
            await using var session = store.LightweightSession();
            session.CorrelationId = metadata.CorrelationId;
            session.CausationId = metadata.CausationId ?? metadata.CommandId;
            session.LastModifiedBy = metadata.Actor;

            var stream = await session.Events.FetchStreamAsync(streamId, token: cancellationToken);
            var version = stream.Count == 0 ? 0 : stream[^1].Version;

            // A stream of another aggregate (an id of the wrong kind) folds to the initial state: "does not exist".
            var state = stream.Select(e => e.Data).OfType<TEvent>().Aggregate(initial, evolve);
            var context = new CommandContext(metadata.CommandId, metadata.Actor, clock.GetUtcNow());
            var decision = decide(state, context);

            // A repeat returns its first result even with the version the client read before it (a lost response,
            // retried as sent); anything else needs the stream to be where the client saw it.
            if (decision is Decision<TEvent>.Accepted { Events.Count: 0 } repeat)
            {
                return new CommandResult(streamId, repeat.OperationId, version, Appended: false);
            }

            if (expectedVersion is { } expected && expected != version)
            {
                throw new ConcurrencyConflictException(streamId, expected, version);
            }

            switch (decision)
            {
                case Decision<TEvent>.Rejected rejected:
                    throw new CommandRejectedException(rejected.Rejection);
                case Decision<TEvent>.Accepted accepted:
                    var events = accepted.Events.Cast<object>().ToArray();
                    if (version == 0)
                    {
                        session.Events.StartStream(streamId, events);
                    }
                    else
                    {
                        session.Events.Append(streamId, version + events.Length, events);
                    }

                    try
                    {
                        await session.SaveChangesAsync(cancellationToken);
                        logger.LogInformation("Command {CommandId} by {Actor} appended {Events} to stream {StreamId} (now version {Version})",
                            metadata.CommandId, metadata.Actor, string.Join(", ", events.Select(e => e.GetType().Name)), streamId, version + events.Length);
                        return new CommandResult(streamId, accepted.OperationId, version + events.Length, Appended: true);
                    }
                    catch (Exception ex) when (IsVersionConflict(ex))
                    {
                        if (expectedVersion is not null || attempt >= MaxAttempts)
                        {
                            throw new ConcurrencyConflictException(streamId, expectedVersion ?? version, await CurrentVersionAsync(streamId, cancellationToken));
                        }

                        logger.LogInformation("Stream {StreamId} moved on during command {CommandId}; deciding again (attempt {Attempt})",
                            streamId, metadata.CommandId, attempt + 1);
                    }

                    break;
                default:
                    throw new InvalidOperationException("unknown decision");
            }
        }
    }

    /// <summary>The stream's version as it is now, read afresh (the failed session is not reused).</summary>
    private async Task<long> CurrentVersionAsync(Guid streamId, CancellationToken cancellationToken)
    {
        await using var session = store.QuerySession();
        var state = await session.Events.FetchStreamStateAsync(streamId, cancellationToken);
        return state?.Version ?? 0;
    }

    private static bool IsVersionConflict(Exception ex) =>
        ex is ConcurrencyException or ExistingStreamIdCollisionException or Marten.Exceptions.ExistingStreamIdCollisionException;
}
