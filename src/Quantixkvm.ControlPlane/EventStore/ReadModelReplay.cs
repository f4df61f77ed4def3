using System.Diagnostics;
using System.Text.Json.Nodes;
using JasperFx.Events.Daemon;
using JasperFx.Events.Projections;
using Marten;
using Npgsql;

namespace Quantixkvm.ControlPlane.EventStore;

/// <summary>
/// Replay verification: rebuilds every read model from the event log into a scratch schema and compares it, document by
/// document, with the live schema. The scratch store is configured exactly as the control plane configures its own
/// (<see cref="EventStoreSetup.Configure"/>: the same event names, serializer and production projections); the log is
/// copied into it server-side up to a high-water sequence taken at the start, and Marten's projection daemon rebuilds
/// each projection there. Nothing is written into the live schema: it is only read.
/// <para>
/// Compared: the JSON (<c>data</c>) of every document a projection registered in <see cref="EventStoreSetup.AddReadModels"/>
/// publishes, ignoring Marten's own columns (<c>mt_last_modified</c>, <c>mt_version</c>, ...). Not compared: documents
/// written directly rather than projected (heartbeat telemetry <c>HostLiveness</c> and live-migration progress
/// <c>MigrationProgress</c>), which are not history and cannot be rebuilt from the log.
/// </para>
/// </summary>
public static class ReadModelReplay
{
    /// <summary>How long one projection's rebuild may take before it is abandoned.</summary>
    private static readonly TimeSpan ShardTimeout = TimeSpan.FromHours(1);

    /// <summary>Rebuilds into a scratch schema (dropped afterwards unless keepScratch), compares with the live schema.</summary>
    public static async Task<ReplayReport> VerifyAsync(
        string connectionString, string liveSchema, CancellationToken cancellationToken = default, bool keepScratch = false)
    {
        var clock = Stopwatch.StartNew();
        await using var data = NpgsqlDataSource.Create(connectionString);
        await EnsureEventStoreAsync(data, liveSchema, cancellationToken);
        var highWater = await HighWaterAsync(data, liveSchema, cancellationToken);
        var scratch = ScratchSchemaName(liveSchema);
        try
        {
            await using var store = CreateStore(connectionString, scratch);
            await store.Storage.ApplyAllConfiguredChangesToDatabaseAsync();
            var events = await CopyLogAsync(data, liveSchema, scratch, highWater, cancellationToken);
            await RebuildAsync(store, cancellationToken);

            var comparisons = new List<ReadModelComparison>();
            foreach (var readModel in ReadModels(store))
            {
                comparisons.Add(await CompareAsync(data, liveSchema, scratch, readModel, cancellationToken));
            }

            var moved = await LogMovedAsync(data, liveSchema, highWater, events, cancellationToken);
            return new ReplayReport(liveSchema, events, clock.Elapsed, comparisons, moved) { ScratchSchema = keepScratch ? scratch : null };
        }
        finally
        {
            if (!keepScratch)
            {
                await DropSchemaAsync(data, scratch);
            }
        }
    }

    /// <summary>
    /// Rebuilds every projection of <see cref="EventStoreSetup.AddReadModels"/> from the log already in <paramref name="schema"/>,
    /// in place, one projection after the other with Marten's projection daemon; returns how long each took.
    /// </summary>
    public static async Task<IReadOnlyList<ProjectionRebuild>> RebuildAsync(
        string connectionString, string schema, CancellationToken cancellationToken = default)
    {
        await using var store = CreateStore(connectionString, schema);
        await store.Storage.ApplyAllConfiguredChangesToDatabaseAsync();
        return await RebuildAsync(store, cancellationToken);
    }

    /// <summary>
    /// A store on <paramref name="schema"/> configured as the control plane's (<see cref="EventStoreSetup.Configure"/>: the same
    /// event names, serializer and production projections), with settings for rebuilding a complete log that nothing appends
    /// to meanwhile. They change how the daemon pages through the log, never what a projection does with an event:
    /// <list type="bullet">
    /// <item>a gap in the sequence (an append that rolled back) can never fill, so it is stepped over at once instead of
    /// waiting for it to go stale, and without looking for live transactions that might fill it;</item>
    /// <item>the daemon polls often (a rebuild waits on its own progress), reads large pages, and keeps the aggregates it
    /// built in memory between pages instead of reading them back from the table it just wrote.</item>
    /// </list>
    /// </summary>
    public static DocumentStore CreateStore(string connectionString, string schema) =>
        DocumentStore.For(options =>
        {
            EventStoreSetup.Configure(options, connectionString, schema);
            options.Projections.StaleSequenceThreshold = TimeSpan.Zero;
            options.Projections.UseTransactionEvidenceForGapSkipping = false;
            options.Projections.FastPollingTime = TimeSpan.FromMilliseconds(20);
            options.Projections.SlowPollingTime = TimeSpan.FromMilliseconds(50);
            foreach (var projection in options.Projections.All.OfType<ProjectionBase>())
            {
                projection.Options.BatchSize = 5_000;
                projection.Options.MaximumHopperSize = 50_000;
                projection.Options.CacheLimitPerTenant = 100_000;
            }
        });

    /// <summary>The read models replay compares: every document type the registered projections publish, with its table.</summary>
    public static IReadOnlyList<ReadModelTable> ReadModels(DocumentStore store) =>
        store.Options.Projections.All.SelectMany(p => ReadModelsOf(store, p)).Distinct().ToList();

    /// <summary>The documents one projection publishes, with their tables.</summary>
    public static IReadOnlyList<ReadModelTable> ReadModelsOf(DocumentStore store, IProjectionSource<IDocumentOperations, IQuerySession> projection) =>
        projection.PublishedTypes()
            .Select(type => new ReadModelTable(type.Name, ((IReadOnlyStoreOptions)store.Options).FindOrResolveDocumentType(type).TableName.Name))
            .ToList();

    private static async Task<IReadOnlyList<ProjectionRebuild>> RebuildAsync(DocumentStore store, CancellationToken cancellationToken)
    {
        using var daemon = await store.BuildProjectionDaemonAsync();
        var rebuilds = new List<ProjectionRebuild>();
        foreach (var name in store.Options.Projections.All.Select(p => p.Name))
        {
            var clock = Stopwatch.StartNew();
            await daemon.RebuildProjectionAsync(name, ShardTimeout, cancellationToken);
            rebuilds.Add(new ProjectionRebuild(name, clock.Elapsed));
        }

        return rebuilds;
    }

    private static string ScratchSchemaName(string liveSchema)
    {
        // PostgreSQL truncates identifiers at 63 bytes: keep the unique suffix whole.
        var suffix = $"_replay_{Guid.NewGuid():N}"[..16];
        return (liveSchema.Length + suffix.Length > 63 ? liveSchema[..(63 - suffix.Length)] : liveSchema) + suffix;
    }

    private static async Task EnsureEventStoreAsync(NpgsqlDataSource data, string schema, CancellationToken cancellationToken)
    {
        await using var command = data.CreateCommand(
            "SELECT count(*) FROM information_schema.tables WHERE table_schema = $1 AND table_name IN ('mt_events', 'mt_streams')");
        command.Parameters.Add(new NpgsqlParameter { Value = schema });
        if ((long)(await command.ExecuteScalarAsync(cancellationToken))! != 2)
        {
            throw new ReplayException($"schema '{schema}' holds no event store (no mt_events and mt_streams tables)");
        }
    }

    /// <summary>The highest event sequence in the log: what replay copies, and what tells whether the log moved meanwhile.</summary>
    private static async Task<long> HighWaterAsync(NpgsqlDataSource data, string schema, CancellationToken cancellationToken)
    {
        await using var command = data.CreateCommand($"SELECT coalesce(max(seq_id), 0) FROM {Quote(schema)}.mt_events");
        return (long)(await command.ExecuteScalarAsync(cancellationToken))!;
    }

    /// <summary>
    /// Whether the live log changed since it was copied: events appended after the high-water mark, or an append that was
    /// still in flight below it (it had its sequence number, not yet its commit) and is visible now.
    /// </summary>
    private static async Task<bool> LogMovedAsync(
        NpgsqlDataSource data, string schema, long highWater, long copied, CancellationToken cancellationToken)
    {
        await using var command = data.CreateCommand(
            $"SELECT coalesce(max(seq_id), 0), count(*) FILTER (WHERE seq_id <= $1) FROM {Quote(schema)}.mt_events");
        command.Parameters.Add(new NpgsqlParameter { Value = highWater });
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        await reader.ReadAsync(cancellationToken);
        return reader.GetInt64(0) != highWater || reader.GetInt64(1) != copied;
    }

    /// <summary>
    /// Copies the streams and events up to <paramref name="highWater"/> server-side, in one transaction, keeping sequence
    /// numbers, versions, timestamps and metadata as they are; then moves the scratch sequence past them.
    /// </summary>
    private static async Task<long> CopyLogAsync(
        NpgsqlDataSource data, string liveSchema, string scratch, long highWater, CancellationToken cancellationToken)
    {
        await using var connection = await data.OpenConnectionAsync(cancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        var streamColumns = await SharedColumnsAsync(connection, liveSchema, scratch, "mt_streams", cancellationToken);
        var eventColumns = await SharedColumnsAsync(connection, liveSchema, scratch, "mt_events", cancellationToken);
        var (live, copy) = (Quote(liveSchema), Quote(scratch));
        await using var batch = new NpgsqlBatch(connection, transaction)
        {
            BatchCommands =
            {
                Command($"""
                    INSERT INTO {copy}.mt_streams ({streamColumns}) SELECT {streamColumns} FROM {live}.mt_streams s
                    WHERE EXISTS (SELECT 1 FROM {live}.mt_events e WHERE e.stream_id = s.id AND e.seq_id <= $1)
                    """, highWater),
                Command($"INSERT INTO {copy}.mt_events ({eventColumns}) SELECT {eventColumns} FROM {live}.mt_events WHERE seq_id <= $1", highWater),
                // The scratch store's own appends (none are made) and its high-water detection start after the copied log.
                Command($"SELECT setval('{copy}.mt_events_sequence', greatest($1, 1), $1 > 0)", highWater),
            },
        };
        await batch.ExecuteNonQueryAsync(cancellationToken);
        await transaction.CommitAsync(cancellationToken);
        return batch.BatchCommands[1].RecordsAffected;
    }

    private static NpgsqlBatchCommand Command(string sql, long value) => new(sql) { Parameters = { new NpgsqlParameter { Value = value } } };

    /// <summary>The columns both tables have, quoted and comma-separated (the same configuration creates the same ones).</summary>
    private static async Task<string> SharedColumnsAsync(
        NpgsqlConnection connection, string liveSchema, string scratch, string table, CancellationToken cancellationToken)
    {
        await using var command = new NpgsqlCommand(
            """
            SELECT l.column_name FROM information_schema.columns l
            JOIN information_schema.columns s ON s.table_schema = $2 AND s.table_name = l.table_name AND s.column_name = l.column_name
            WHERE l.table_schema = $1 AND l.table_name = $3 ORDER BY l.ordinal_position
            """, connection);
        command.Parameters.Add(new NpgsqlParameter { Value = liveSchema });
        command.Parameters.Add(new NpgsqlParameter { Value = scratch });
        command.Parameters.Add(new NpgsqlParameter { Value = table });
        var columns = new List<string>();
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            columns.Add(Quote(reader.GetString(0)));
        }

        return string.Join(", ", columns);
    }

    /// <summary>
    /// Counts both tables and lists every document that differs: compared in PostgreSQL (jsonb equality, so key order does
    /// not matter), and only the differing documents come back to describe what differs.
    /// </summary>
    private static async Task<ReadModelComparison> CompareAsync(
        NpgsqlDataSource data, string liveSchema, string scratch, ReadModelTable readModel, CancellationToken cancellationToken)
    {
        var live = $"{Quote(liveSchema)}.{Quote(readModel.Table)}";
        var rebuilt = $"{Quote(scratch)}.{Quote(readModel.Table)}";
        if (!await TableExistsAsync(data, liveSchema, readModel.Table, cancellationToken))
        {
            // A live schema older than this read model: everything rebuilt is missing in it.
            await using var all = data.CreateCommand($"SELECT id::text FROM {rebuilt} ORDER BY id");
            var missing = new List<ReadModelDifference>();
            await using var rows = await all.ExecuteReaderAsync(cancellationToken);
            while (await rows.ReadAsync(cancellationToken))
            {
                missing.Add(new ReadModelDifference(rows.GetString(0), ReadModelDifference.MissingInLive, "the live schema has no table " + readModel.Table));
            }

            return new ReadModelComparison(readModel.Name, 0, missing.Count, missing);
        }

        await using var command = data.CreateCommand(
            $"""
            SELECT (SELECT count(*) FROM {live}), (SELECT count(*) FROM {rebuilt});
            SELECT coalesce(l.id, r.id)::text, l.data::text, r.data::text
            FROM {live} l FULL OUTER JOIN {rebuilt} r ON l.id = r.id
            WHERE l.data IS DISTINCT FROM r.data
            ORDER BY 1
            """);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        await reader.ReadAsync(cancellationToken);
        var (liveCount, rebuiltCount) = (reader.GetInt64(0), reader.GetInt64(1));
        await reader.NextResultAsync(cancellationToken);
        var differences = new List<ReadModelDifference>();
        while (await reader.ReadAsync(cancellationToken))
        {
            var id = reader.GetString(0);
            var liveJson = reader.IsDBNull(1) ? null : reader.GetString(1);
            var rebuiltJson = reader.IsDBNull(2) ? null : reader.GetString(2);
            differences.Add(liveJson is null ? new ReadModelDifference(id, ReadModelDifference.MissingInLive, null)
                : rebuiltJson is null ? new ReadModelDifference(id, ReadModelDifference.MissingInRebuild, null)
                : new ReadModelDifference(id, ReadModelDifference.Different, JsonDifference.Describe(JsonNode.Parse(liveJson), JsonNode.Parse(rebuiltJson))));
        }

        return new ReadModelComparison(readModel.Name, (int)liveCount, (int)rebuiltCount, differences);
    }

    private static async Task<bool> TableExistsAsync(NpgsqlDataSource data, string schema, string table, CancellationToken cancellationToken)
    {
        await using var command = data.CreateCommand("SELECT EXISTS (SELECT 1 FROM information_schema.tables WHERE table_schema = $1 AND table_name = $2)");
        command.Parameters.Add(new NpgsqlParameter { Value = schema });
        command.Parameters.Add(new NpgsqlParameter { Value = table });
        return (bool)(await command.ExecuteScalarAsync(cancellationToken))!;
    }

    private static async Task DropSchemaAsync(NpgsqlDataSource data, string schema)
    {
        await using var command = data.CreateCommand($"DROP SCHEMA IF EXISTS {Quote(schema)} CASCADE");
        await command.ExecuteNonQueryAsync(CancellationToken.None);
    }

    private static string Quote(string identifier) => "\"" + identifier.Replace("\"", "\"\"", StringComparison.Ordinal) + "\"";
}

public sealed record ReplayReport(string LiveSchema, long Events, TimeSpan Elapsed, IReadOnlyList<ReadModelComparison> ReadModels, bool LogMovedDuringVerification)
{
    public bool Matches => ReadModels.All(r => r.Differences.Count == 0) && !LogMovedDuringVerification;

    /// <summary>The scratch schema, when it was kept for inspection; null once dropped.</summary>
    public string? ScratchSchema { get; init; }
}

public sealed record ReadModelComparison(string ReadModel, int Live, int Rebuilt, IReadOnlyList<ReadModelDifference> Differences);

/// <summary>One document that differs. Kind: "missing-in-live", "missing-in-rebuild" or "different" (Detail says what differs).</summary>
public sealed record ReadModelDifference(string Id, string Kind, string? Detail)
{
    public const string MissingInLive = "missing-in-live";
    public const string MissingInRebuild = "missing-in-rebuild";
    public const string Different = "different";
}

/// <summary>A read model's document type and the table it is stored in.</summary>
public sealed record ReadModelTable(string Name, string Table);

/// <summary>How long rebuilding one projection took.</summary>
public sealed record ProjectionRebuild(string Projection, TimeSpan Elapsed);

/// <summary>Replay could not run (e.g. the schema holds no event store); the message says why.</summary>
public sealed class ReplayException(string message) : Exception(message);
