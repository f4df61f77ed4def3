using Marten;
using Marten.Storage;
using Npgsql;
using Quantixkvm.Domain;

namespace Quantixkvm.ControlPlane.Commands;

/// <summary>
/// A PostgreSQL advisory lock around a decision that reads more than one aggregate: held from reading
/// the facts (hosts' allocations for placement; a pool's volumes; a volume's attachment) until the
/// events are appended, so two parallel commands cannot both act on the same last free memory or the
/// same volume. It works across control plane instances, and dies with the connection if the process does.
/// </summary>
public sealed class AdvisoryLock : IAsyncDisposable
{
    private readonly NpgsqlConnection _connection;
    private readonly long _key;

    private AdvisoryLock(NpgsqlConnection connection, long key)
    {
        _connection = connection;
        _key = key;
    }

    /// <summary>Placement: one decision at a time for the whole installation.</summary>
    public static Task<AdvisoryLock> PlacementAsync(IDocumentStore store, CancellationToken cancellationToken) =>
        AcquireAsync(store, "placement-lock", cancellationToken);

    /// <summary>Decisions about one pool or volume (its volumes, its attachment), one at a time.</summary>
    public static Task<AdvisoryLock> ForAsync(IDocumentStore store, Guid id, CancellationToken cancellationToken) =>
        AcquireAsync(store, $"storage-lock:{id}", cancellationToken);

    private static async Task<AdvisoryLock> AcquireAsync(IDocumentStore store, string name, CancellationToken cancellationToken)
    {
        // Keyed by the event store schema too, so separate installations sharing a database do not wait on each other.
        var key = BitConverter.ToInt64(DeterministicId.From(name, store.Options.DatabaseSchemaName).ToByteArray(), 0);
        var connection = store.Storage.Database.CreateConnection(ConnectionUsage.ReadWrite);
        try
        {
            await connection.OpenAsync(cancellationToken);
            await using var command = new NpgsqlCommand("select pg_advisory_lock($1)", connection) { Parameters = { new() { Value = key } } };
            await command.ExecuteNonQueryAsync(cancellationToken);
            return new AdvisoryLock(connection, key);
        }
        catch
        {
            await connection.DisposeAsync();
            throw;
        }
    }

    public async ValueTask DisposeAsync()
    {
        try
        {
            await using var command = new NpgsqlCommand("select pg_advisory_unlock($1)", _connection) { Parameters = { new() { Value = _key } } };
            await command.ExecuteNonQueryAsync();
        }
        catch (NpgsqlException)
        {
            // The VM is already appended; closing the connection below releases a session lock anyway.
        }
        finally
        {
            await _connection.DisposeAsync();
        }
    }
}
