using System.Text.Json.Nodes;
using Npgsql;
using Quantixkvm.Testing;

namespace Quantixkvm.ControlPlane.Tests.Support;

/// <summary>One stored event, read straight from Marten's table (not through Marten), as an auditor would.</summary>
public sealed record StoredEvent(
    long Sequence, Guid StreamId, long Version, string Type, JsonObject Data, string? CorrelationId, string? CausationId, string? UserName);

/// <summary>Plain SQL over a test schema's event table and daemon progress.</summary>
public sealed class EventTable(string schema)
{
    public async Task<IReadOnlyList<StoredEvent>> StreamAsync(Guid streamId) =>
        await QueryAsync("where stream_id = @stream order by version", ("stream", streamId));

    public async Task<IReadOnlyList<StoredEvent>> AllAsync() => await QueryAsync("order by seq_id");

    /// <summary>How far a daemon subscription has got (its last processed sequence), or null if it never ran.</summary>
    public async Task<long?> ProgressAsync(string subscription)
    {
        await using var connection = await OpenAsync();
        await using var command = connection.CreateCommand();
        command.CommandText = $"select max(last_seq_id) from \"{schema}\".mt_event_progression where name like @name";
        command.Parameters.AddWithValue("name", subscription + "%");
        return await command.ExecuteScalarAsync() is long value ? value : null;
    }

    public async Task<long> ScalarAsync(string sql)
    {
        await using var connection = await OpenAsync();
        await using var command = connection.CreateCommand();
        command.CommandText = sql.Replace("{schema}", $"\"{schema}\"", StringComparison.Ordinal);
        return Convert.ToInt64(await command.ExecuteScalarAsync(), System.Globalization.CultureInfo.InvariantCulture);
    }

    private async Task<List<StoredEvent>> QueryAsync(string clause, params (string Name, object Value)[] parameters)
    {
        await using var connection = await OpenAsync();
        await using var command = connection.CreateCommand();
        command.CommandText =
            $"select seq_id, stream_id, version, type, data::text, correlation_id, causation_id, user_name from \"{schema}\".mt_events {clause}";
        foreach (var (name, value) in parameters)
        {
            command.Parameters.AddWithValue(name, value);
        }

        var events = new List<StoredEvent>();
        await using var reader = await command.ExecuteReaderAsync();
        while (await reader.ReadAsync())
        {
            events.Add(new StoredEvent(
                reader.GetInt64(0), reader.GetGuid(1), reader.GetInt64(2), reader.GetString(3),
                JsonNode.Parse(reader.GetString(4))!.AsObject(),
                reader.IsDBNull(5) ? null : reader.GetString(5),
                reader.IsDBNull(6) ? null : reader.GetString(6),
                reader.IsDBNull(7) ? null : reader.GetString(7)));
        }

        return events;
    }

    private static async Task<NpgsqlConnection> OpenAsync()
    {
        var connection = new NpgsqlConnection(TestServices.Postgres);
        await connection.OpenAsync();
        return connection;
    }
}
