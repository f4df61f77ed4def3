using System.Diagnostics;
using System.Text.Json.Nodes;
using JasperFx.Events.Projections;
using Marten;
using Npgsql;

namespace Quantixkvm.ControlPlane.EventStore;

/// <summary>
/// Replay verification: rebuilds every read model from the event log into a scratch schema and compares it, document by
/// document, with the live schema. The scratch store is configured exactly as the control plane configures its own
/// (<see cref="EventStoreSetup.Configure"/>: the same event names, serializer and production projections); the
/// <see cref="ReadModelRebuilder"/> reads the live log up to a high-water sequence taken at the start, in one pass, and
/// writes the documents into the scratch schema. Nothing is written into the live schema: it is only read.
/// <para>
/// Compared: the JSON (<c>data</c>) of every document a projection registered in <see cref="EventStoreSetup.AddReadModels"/>
/// publishes, ignoring Marten's own columns (<c>mt_last_modified</c>, <c>mt_version</c>, ...). Not compared: documents
/// written directly rather than projected (heartbeat telemetry <c>HostLiveness</c> and live-migration progress
/// <c>MigrationProgress</c>), which are not history and cannot be rebuilt from the log.
/// </para>
/// </summary>
public static class ReadModelReplay
{
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
            var rebuild = await ReadModelRebuilder.RebuildAsync(data, liveSchema, highWater, store, cancellationToken);

            var comparisons = new List<ReadModelComparison>();
            foreach (var readModel in ReadModels(store))
            {
                comparisons.Add(await CompareAsync(data, liveSchema, scratch, readModel, cancellationToken));
            }

            var moved = await LogMovedAsync(data, liveSchema, highWater, rebuild.Events, cancellationToken);
            return new ReplayReport(liveSchema, rebuild.Events, clock.Elapsed, comparisons, moved) { ScratchSchema = keepScratch ? scratch : null };
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
    /// Rebuilds every read model of <see cref="EventStoreSetup.AddReadModels"/> from the log already in <paramref name="schema"/>,
    /// in place, with the <see cref="ReadModelRebuilder"/> (one pass over the log, then a bulk write per read model);
    /// returns how long each phase took. The read-model tables are emptied and refilled: run it when nothing appends.
    /// </summary>
    public static async Task<IReadOnlyList<ProjectionRebuild>> RebuildAsync(
        string connectionString, string schema, CancellationToken cancellationToken = default)
    {
        await using var data = NpgsqlDataSource.Create(connectionString);
        await EnsureEventStoreAsync(data, schema, cancellationToken);
        await using var store = CreateStore(connectionString, schema);
        await store.Storage.ApplyAllConfiguredChangesToDatabaseAsync();
        var rebuild = await ReadModelRebuilder.RebuildAsync(data, schema, await HighWaterAsync(data, schema, cancellationToken), store, cancellationToken);
        return rebuild.Phases;
    }

    /// <summary>
    /// A store on <paramref name="schema"/> configured as the control plane's (<see cref="EventStoreSetup.Configure"/>: the same
    /// event names, serializer and production projections).
    /// </summary>
    public static DocumentStore CreateStore(string connectionString, string schema) =>
        DocumentStore.For(options => EventStoreSetup.Configure(options, connectionString, schema));

    /// <summary>The read models replay compares: every document type the registered projections publish, with its table.</summary>
    public static IReadOnlyList<ReadModelTable> ReadModels(DocumentStore store) =>
        store.Options.Projections.All.SelectMany(p => ReadModelsOf(store, p)).Distinct().ToList();

    /// <summary>The documents one projection publishes, with their tables.</summary>
    public static IReadOnlyList<ReadModelTable> ReadModelsOf(DocumentStore store, IProjectionSource<IDocumentOperations, IQuerySession> projection) =>
        projection.PublishedTypes()
            .Select(type => new ReadModelTable(type.Name, ((IReadOnlyStoreOptions)store.Options).FindOrResolveDocumentType(type).TableName.Name))
            .ToList();

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

    /// <summary>The highest event sequence in the log: what a rebuild reads, and what tells whether the log moved meanwhile.</summary>
    private static async Task<long> HighWaterAsync(NpgsqlDataSource data, string schema, CancellationToken cancellationToken)
    {
        await using var command = data.CreateCommand($"SELECT coalesce(max(seq_id), 0) FROM {Quote(schema)}.mt_events");
        return (long)(await command.ExecuteScalarAsync(cancellationToken))!;
    }

    /// <summary>
    /// Whether the live log changed since it was read: events appended after the high-water mark, or an append that was
    /// still in flight below it (it had its sequence number, not yet its commit) and is visible now.
    /// </summary>
    private static async Task<bool> LogMovedAsync(
        NpgsqlDataSource data, string schema, long highWater, long read, CancellationToken cancellationToken)
    {
        await using var command = data.CreateCommand(
            $"SELECT coalesce(max(seq_id), 0), count(*) FILTER (WHERE seq_id <= $1) FROM {Quote(schema)}.mt_events");
        command.Parameters.Add(new NpgsqlParameter { Value = highWater });
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        await reader.ReadAsync(cancellationToken);
        return reader.GetInt64(0) != highWater || reader.GetInt64(1) != read;
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

    /// <summary>A PostgreSQL identifier (schema or table name) quoted for SQL text.</summary>
    internal static string Quote(string identifier) => "\"" + identifier.Replace("\"", "\"\"", StringComparison.Ordinal) + "\"";
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

/// <summary>
/// How long one phase of a rebuild took (<see cref="ReadModelRebuilder"/>: "read + deserialize" and "apply", which overlap,
/// then "write X" for each read model X, with the documents it wrote).
/// </summary>
public sealed record ProjectionRebuild(string Projection, TimeSpan Elapsed)
{
    public long Documents { get; init; }
}

/// <summary>Replay could not run (e.g. the schema holds no event store, or an event cannot be read or applied); the message says why.</summary>
public sealed class ReplayException(string message, Exception? inner = null) : Exception(message, inner);
