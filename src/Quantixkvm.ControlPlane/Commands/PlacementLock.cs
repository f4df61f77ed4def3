using Marten;
using Marten.Storage;
using Npgsql;
using Quantixkvm.Domain;

namespace Quantixkvm.ControlPlane.Commands;

/// <summary>
/// Placement decisions one at a time: a PostgreSQL advisory lock held from reading the hosts'
/// allocations until the new VM is appended, so parallel creates cannot all pick the same last
/// free memory. It works across control plane instances, and dies with the connection if the
/// process does.
/// </summary>
public sealed class PlacementLock : IAsyncDisposable
{
    private readonly NpgsqlConnection _connection;
    private readonly long _key;

    private PlacementLock(NpgsqlConnection connection, long key)
    {
        _connection = connection;
        _key = key;
    }

    public static async Task<PlacementLock> AcquireAsync(IDocumentStore store, CancellationToken cancellationToken)
    {
        // One lock per event store schema, so separate installations sharing a database do not wait on each other.
        var key = BitConverter.ToInt64(DeterministicId.From("placement-lock", store.Options.DatabaseSchemaName).ToByteArray(), 0);
        var connection = store.Storage.Database.CreateConnection(ConnectionUsage.ReadWrite);
        try
        {
            await connection.OpenAsync(cancellationToken);
            await using var command = new NpgsqlCommand("select pg_advisory_lock($1)", connection) { Parameters = { new() { Value = key } } };
            await command.ExecuteNonQueryAsync(cancellationToken);
            return new PlacementLock(connection, key);
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
