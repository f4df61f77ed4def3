using System.Globalization;
using System.Runtime.CompilerServices;
using System.Text.Json.Nodes;
using System.Threading.Channels;

namespace Quantixkvm.Network.Ovsdb;

/// <summary>Which table a monitor watches, and which of its columns (null: all).</summary>
public sealed record OvsdbMonitorRequest(string Table, IReadOnlyList<string>? Columns = null);

/// <summary>One row's change: insert (no <see cref="Old"/>), delete (no <see cref="New"/>) or modify (both; Old holds only the changed columns).</summary>
public sealed record OvsdbRowUpdate(Guid Uuid, OvsdbRow? Old, OvsdbRow? New)
{
    public bool IsInsert => Old is null && New is not null;

    public bool IsDelete => New is null;
}

/// <summary>A set of row changes by table (RFC 7047 "table-updates"): a monitor's initial rows, or one "update" notification.</summary>
public sealed class OvsdbTableUpdates
{
    public OvsdbTableUpdates(IReadOnlyDictionary<string, IReadOnlyDictionary<Guid, OvsdbRowUpdate>> tables)
    {
        Tables = tables;
    }

    public IReadOnlyDictionary<string, IReadOnlyDictionary<Guid, OvsdbRowUpdate>> Tables { get; }

    /// <summary>The changes to one table (empty when it did not change).</summary>
    public IReadOnlyCollection<OvsdbRowUpdate> Table(string name) =>
        Tables.TryGetValue(name, out var rows) ? [.. rows.Values] : [];

    internal static OvsdbTableUpdates Parse(JsonNode? json)
    {
        var tables = new Dictionary<string, IReadOnlyDictionary<Guid, OvsdbRowUpdate>>(StringComparer.Ordinal);
        foreach (var (table, rows) in json?.AsObject() ?? [])
        {
            var updates = new Dictionary<Guid, OvsdbRowUpdate>();
            foreach (var (uuidText, change) in rows!.AsObject())
            {
                var uuid = Guid.Parse(uuidText, CultureInfo.InvariantCulture);
                var old = change!["old"] is JsonObject o ? new OvsdbRow(o) : null;
                var @new = change["new"] is JsonObject n ? new OvsdbRow(n) : null;
                updates[uuid] = new OvsdbRowUpdate(uuid, old, @new);
            }

            tables[table] = updates;
        }

        return new OvsdbTableUpdates(tables);
    }
}

/// <summary>
/// A "monitor" session: <see cref="Initial"/> holds the rows present when it started; later changes arrive as "update"
/// notifications, read with <see cref="ReadUpdatesAsync"/> (or handed to the callback given to
/// <see cref="OvsdbClient.MonitorAsync"/>). Disposing sends "monitor_cancel". If the connection is lost, the updates
/// end with an <see cref="OvsdbConnectionException"/>.
/// </summary>
public sealed class OvsdbMonitor : IAsyncDisposable
{
    private readonly OvsdbClient _client;
    private readonly Channel<OvsdbTableUpdates> _updates = Channel.CreateUnbounded<OvsdbTableUpdates>(new() { SingleWriter = true });
    private int _cancelled;

    internal OvsdbMonitor(OvsdbClient client, string id)
    {
        _client = client;
        Id = id;
    }

    /// <summary>The monitor's JSON id (the "json-value" of RFC 7047 4.1.5).</summary>
    public string Id { get; }

    public OvsdbTableUpdates Initial { get; internal set; } = new(new Dictionary<string, IReadOnlyDictionary<Guid, OvsdbRowUpdate>>());

    internal Task? CallbackPump { get; set; }

    public async IAsyncEnumerable<OvsdbTableUpdates> ReadUpdatesAsync([EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        await foreach (var update in _updates.Reader.ReadAllAsync(cancellationToken))
        {
            yield return update;
        }
    }

    internal ChannelReader<OvsdbTableUpdates> Reader => _updates.Reader;

    internal void Deliver(OvsdbTableUpdates updates) => _updates.Writer.TryWrite(updates);

    internal void Complete(Exception? error) => _updates.Writer.TryComplete(error);

    /// <summary>Stops the monitor on the server (monitor_cancel); the updates end.</summary>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _cancelled, 1) == 1)
        {
            return;
        }

        await _client.CancelMonitorAsync(this);
        Complete(null);
        if (CallbackPump is { } pump)
        {
            await pump;
        }
    }
}
