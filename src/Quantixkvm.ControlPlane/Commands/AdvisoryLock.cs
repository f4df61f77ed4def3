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
/// Within one process, waiters queue on a local gate first: a hundred concurrent creates would otherwise each hold a
/// pooled connection while waiting in PostgreSQL, and drain the pool that outcomes and dispatch need.
/// </summary>
public sealed class AdvisoryLock : IAsyncDisposable
{
    private readonly NpgsqlConnection _connection;
    private readonly long _key;
    private readonly LocalGate.Entry _gate;

    private AdvisoryLock(NpgsqlConnection connection, long key, LocalGate.Entry gate)
    {
        _connection = connection;
        _key = key;
        _gate = gate;
    }

    /// <summary>Placement: one decision at a time for the whole installation.</summary>
    public static Task<AdvisoryLock> PlacementAsync(IDocumentStore store, CancellationToken cancellationToken) =>
        AcquireAsync(store, "placement-lock", cancellationToken);

    /// <summary>Decisions about one aggregate (a pool's volumes, a volume's attachment, a network's addresses, a group's users), one at a time.</summary>
    public static Task<AdvisoryLock> ForAsync(IDocumentStore store, Guid id, CancellationToken cancellationToken) =>
        AcquireAsync(store, $"storage-lock:{id}", cancellationToken);

    private static async Task<AdvisoryLock> AcquireAsync(IDocumentStore store, string name, CancellationToken cancellationToken)
    {
        // Keyed by the event store schema too, so separate installations sharing a database do not wait on each other.
        var key = BitConverter.ToInt64(DeterministicId.From(name, store.Options.DatabaseSchemaName).ToByteArray(), 0);
        var gate = await LocalGate.EnterAsync(key, cancellationToken);
        var connection = store.Storage.Database.CreateConnection(ConnectionUsage.ReadWrite);
        try
        {
            await connection.OpenAsync(cancellationToken);
            await using var command = new NpgsqlCommand("select pg_advisory_lock($1)", connection) { Parameters = { new() { Value = key } } };
            await command.ExecuteNonQueryAsync(cancellationToken);
            return new AdvisoryLock(connection, key, gate);
        }
        catch
        {
            await connection.DisposeAsync();
            gate.Exit();
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
            _gate.Exit();
        }
    }

    /// <summary>One waiter per key per process; an entry lives only while someone holds or waits for its key.</summary>
    private static class LocalGate
    {
        private static readonly Dictionary<long, Entry> Entries = [];

        public static async Task<Entry> EnterAsync(long key, CancellationToken cancellationToken)
        {
            Entry entry;
            lock (Entries)
            {
                if (!Entries.TryGetValue(key, out entry!))
                {
                    Entries[key] = entry = new Entry(key);
                }

                entry.Users++;
            }

            try
            {
                await entry.Semaphore.WaitAsync(cancellationToken);
                return entry;
            }
            catch
            {
                entry.Leave();
                throw;
            }
        }

        public sealed class Entry(long key)
        {
            public SemaphoreSlim Semaphore { get; } = new(1, 1);

            public int Users { get; set; }

            public void Exit()
            {
                Semaphore.Release();
                Leave();
            }

            /// <summary>Forgets the entry with its last user.</summary>
            public void Leave()
            {
                lock (Entries)
                {
                    if (--Users == 0)
                    {
                        Entries.Remove(key);
                    }
                }
            }
        }
    }
}

/// <summary>
/// Several advisory locks held together by one command, taken in a fixed order by the caller (ids in order, so two commands
/// cannot deadlock), released in reverse when disposed.
/// </summary>
public sealed class HeldLocks : IAsyncDisposable
{
    private readonly List<AdvisoryLock> _held = [];

    public void Add(AdvisoryLock held) => _held.Add(held);

    public async ValueTask DisposeAsync()
    {
        foreach (var held in Enumerable.Reverse(_held))
        {
            await held.DisposeAsync();
        }

        _held.Clear();
    }
}
