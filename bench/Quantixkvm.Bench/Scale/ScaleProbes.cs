using System.Globalization;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json.Nodes;
using Npgsql;
using Quantixkvm.Testing;

namespace Quantixkvm.Bench.Scale;

/// <summary>One queue as RabbitMQ's management API counts it: waiting messages, and published/acknowledged since it was declared.</summary>
public sealed record QueueCounters(long Depth, long Published, long Acknowledged);

/// <summary>Reads queue counters of one vhost from RabbitMQ's management API.</summary>
public sealed class BrokerProbe(string vhost) : IDisposable
{
    private readonly HttpClient _http = CreateClient();

    public async Task<QueueCounters> QueueAsync(string queue)
    {
        using var response = await _http.GetAsync($"api/queues/{Uri.EscapeDataString(vhost)}/{Uri.EscapeDataString(queue)}");
        if (!response.IsSuccessStatusCode)
        {
            return new QueueCounters(0, 0, 0);
        }

        var json = JsonNode.Parse(await response.Content.ReadAsStringAsync())!;
        var stats = json["message_stats"];
        return new QueueCounters(
            json["messages"]?.GetValue<long>() ?? 0, stats?["publish"]?.GetValue<long>() ?? 0, stats?["ack"]?.GetValue<long>() ?? 0);
    }

    public void Dispose() => _http.Dispose();

    private static HttpClient CreateClient()
    {
        var http = new HttpClient { BaseAddress = new Uri($"http://{TestServices.RabbitHost}:{TestServices.RabbitManagementPort}/"), Timeout = TimeSpan.FromSeconds(10) };
        http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue(
            "Basic", Convert.ToBase64String(Encoding.UTF8.GetBytes($"{TestServices.RabbitUser}:{TestServices.RabbitPassword}")));
        return http;
    }
}

/// <summary>
/// What the control plane's schema says, read straight from PostgreSQL (not through the API under test): hosts ONLINE,
/// the freshest and stalest heartbeat, operations ended, and how far the async daemon's subscriptions (the agent dispatch
/// and the change feed) trail the event log.
/// </summary>
public sealed class SchemaProbe(NpgsqlDataSource data, string schema)
{
    /// <summary>Hosts whose read model says ONLINE.</summary>
    public Task<long> OnlineHostsAsync() => ScalarAsync($"SELECT count(*) FROM {schema}.mt_doc_hostview WHERE data->>'status' = 'Online'");

    public Task<long> HostStatusAsync(string name, string status) =>
        ScalarAsync($"SELECT count(*) FROM {schema}.mt_doc_hostview WHERE data->>'name' = '{name}' AND data->>'status' = '{status}'");

    /// <summary>How long ago the stalest host's last heartbeat was recorded (s).</summary>
    public async Task<double> StalestHeartbeatSecondsAsync()
    {
        await using var command = data.CreateCommand(
            $"SELECT coalesce(extract(epoch FROM now() - min((data->>'lastHeartbeatAt')::timestamptz)), 0)::float8 FROM {schema}.mt_doc_hostliveness");
        return (double)(await command.ExecuteScalarAsync())!;
    }

    /// <summary>Operations of the given ids that have ended, with when they finished (as the agent reported it).</summary>
    public async Task<Dictionary<Guid, (string Status, DateTimeOffset? FinishedAt)>> EndedOperationsAsync()
    {
        await using var command = data.CreateCommand(
            $"SELECT id, data->>'status', (data->>'finishedAt')::timestamptz FROM {schema}.mt_doc_operationview "
            + "WHERE data->>'status' IN ('Succeeded', 'Failed', 'TimedOut')");
        await using var reader = await command.ExecuteReaderAsync();
        var ended = new Dictionary<Guid, (string, DateTimeOffset?)>();
        while (await reader.ReadAsync())
        {
            ended[reader.GetGuid(0)] = (reader.GetString(1), reader.IsDBNull(2) ? null : reader.GetFieldValue<DateTimeOffset>(2));
        }

        return ended;
    }

    public Task<long> EndedOperationCountAsync() =>
        ScalarAsync($"SELECT count(*) FROM {schema}.mt_doc_operationview WHERE data->>'status' IN ('Succeeded', 'Failed', 'TimedOut')");

    /// <summary>
    /// The slowest subscription's distance from the log's head: in events, and as the age of the oldest event it has not
    /// processed yet (0 when it has caught up). Subscriptions' rows are named "name:All"; the daemon's own bookkeeping rows
    /// (HighWaterMark, HighWaterAllocationFence) are not progress.
    /// </summary>
    public async Task<(long Events, double Seconds)> ProjectionLagAsync()
    {
        await using var command = data.CreateCommand($"""
            WITH head AS (SELECT coalesce(max(seq_id), 0) AS seq FROM {schema}.mt_events),
                 slowest AS (SELECT coalesce(min(last_seq_id), 0) AS seq FROM {schema}.mt_event_progression WHERE name LIKE '%:All')
            SELECT head.seq - slowest.seq,
                   coalesce((SELECT extract(epoch FROM now() - min(timestamp)) FROM {schema}.mt_events e WHERE e.seq_id > slowest.seq), 0)::float8
            FROM head, slowest
            """);
        await using var reader = await command.ExecuteReaderAsync();
        await reader.ReadAsync();
        return (reader.GetInt64(0), reader.GetDouble(1));
    }

    private async Task<long> ScalarAsync(string sql)
    {
        await using var command = data.CreateCommand(sql);
        return Convert.ToInt64(await command.ExecuteScalarAsync(), CultureInfo.InvariantCulture);
    }
}
