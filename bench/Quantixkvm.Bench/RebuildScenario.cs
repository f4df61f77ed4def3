using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.Json;
using Marten;
using Marten.Services;
using Npgsql;
using NpgsqlTypes;
using Quantixkvm.Bench.Reporting;
using Quantixkvm.ControlPlane.EventStore;
using Quantixkvm.Domain;
using Quantixkvm.Domain.Clusters;
using Quantixkvm.Domain.Hosts;
using Quantixkvm.Domain.Placement;
using Quantixkvm.Domain.Vms;

namespace Quantixkvm.Bench;

/// <summary>
/// Rebuild / replay: every read model rebuilt from a log of <c>--events N</c> events (default 1,000,000) with the mechanism
/// replay verification uses (<see cref="ReadModelReplay.RebuildAsync(string, string, CancellationToken)"/>: Marten's projection
/// daemon, the production projections, one after the other), against its natural baseline measured in the same run: a
/// raw sequential read of the same mt_events rows with Npgsql (type and data, in sequence order), each deserialized with
/// System.Text.Json into its mapped CLR event type with Marten's own serializer options.
/// <para>
/// The log is generated first, fast, with binary COPY into a fresh schema made by the control plane's Marten configuration:
/// rows exactly as Marten writes them (stable event names, CLR type, Marten's JSON of the real domain event records,
/// correlation/causation/user metadata), streams interleaved as concurrent commands leave them. Many VM streams, each created
/// and placed, then driven through start/stop/reboot/pause/resume operations (requested, started, succeeded or failed) and
/// power-state observations; a cluster and hosts. Writes rebuild.md and rebuild.json; the schema is dropped at the end.
/// </para>
/// </summary>
public static class RebuildScenario
{
    private const int EventsPerVm = 20;
    private const int Hosts = 100;

    public static async Task<int> RunAsync(string[] args)
    {
        var options = new BenchArgs(args);
        var events = options.Int("--events", 1_000_000);
        var output = options.OutputFolder();
        var connection = BenchArgs.Postgres;
        var schema = $"bench_rebuild_{Guid.NewGuid():N}"[..26];

        await using var data = NpgsqlDataSource.Create(connection);
        try
        {
            var generate = Stopwatch.StartNew();
            var generated = await GenerateLogAsync(connection, data, schema, events);
            generate.Stop();
            Console.WriteLine($"generated {generated.Events} events ({generated.Vms} VMs, {Hosts} hosts) in {generate.Elapsed.TotalSeconds:0.0} s");
            await AnalyzeAsync(data, schema);

            // Raw first and last, so neither profits alone from a warm cache; the rebuild in between.
            var rawBefore = await RawReadAsync(data, connection, schema);
            Console.WriteLine($"raw read + deserialize: {rawBefore.Events} events in {rawBefore.Elapsed.TotalSeconds:0.0} s");
            var rebuild = Stopwatch.StartNew();
            var projections = await ReadModelReplay.RebuildAsync(connection, schema);
            rebuild.Stop();
            foreach (var p in projections)
            {
                Console.WriteLine($"  {p.Projection}: {p.Elapsed.TotalSeconds:0.0} s");
            }

            Console.WriteLine($"rebuild of all read models: {rebuild.Elapsed.TotalSeconds:0.0} s");
            var rawAfter = await RawReadAsync(data, connection, schema);
            Console.WriteLine($"raw read + deserialize again: {rawAfter.Elapsed.TotalSeconds:0.0} s");

            var documents = await DocumentCountsAsync(data, connection, schema);
            var raw = rawBefore.Elapsed < rawAfter.Elapsed ? rawBefore : rawAfter;
            var result = new RebuildResult(
                generated.Events, generated.Vms, Hosts, Math.Round(generate.Elapsed.TotalSeconds, 1),
                Math.Round(rebuild.Elapsed.TotalSeconds, 2), Math.Round(generated.Events / rebuild.Elapsed.TotalSeconds),
                Math.Round(raw.Elapsed.TotalSeconds, 2), Math.Round(raw.Events / raw.Elapsed.TotalSeconds),
                Math.Round(rawBefore.Elapsed.TotalSeconds, 2), Math.Round(rawAfter.Elapsed.TotalSeconds, 2),
                [.. projections.Select(p => new ProjectionTiming(p.Projection, Math.Round(p.Elapsed.TotalSeconds, 2), documents.GetValueOrDefault(p.Projection)))]);
            Console.WriteLine($"rebuild {result.RebuildEventsPerSecond:0} events/s, raw {result.RawEventsPerSecond:0} events/s, ratio {result.Ratio:0.000}");

            var machine = await Machine.DescribeAsync(data);
            await Report.WriteAsync(output, "rebuild", machine, result, Markdown(machine, result));
            return 0;
        }
        finally
        {
            await using var drop = data.CreateCommand($"DROP SCHEMA IF EXISTS {schema} CASCADE");
            await drop.ExecuteNonQueryAsync();
        }
    }

    /// <summary>The event log, written with binary COPY in Marten's row shape; then the sequence is moved past it.</summary>
    private static async Task<(long Events, int Vms)> GenerateLogAsync(string connection, NpgsqlDataSource data, string schema, int events)
    {
        await using var store = ReadModelReplay.CreateStore(connection, schema);
        await store.Storage.ApplyAllConfiguredChangesToDatabaseAsync();
        var serializer = store.Options.Serializer();
        var names = EventCatalog.All.ToDictionary(e => e.Type, e => e.Name);
        var log = new EventLog(names, serializer);

        var begin = new DateTimeOffset(2026, 1, 1, 0, 0, 0, TimeSpan.Zero);
        var clusterId = Guid.NewGuid();
        var hosts = Enumerable.Range(0, Hosts).Select(i => (Id: Guid.NewGuid(), Name: $"host-{i:000}")).ToList();
        const int EventsPerHost = 3;
        var vms = Enumerable.Range(0, Math.Max(1, (events - 1 - Hosts * EventsPerHost) / EventsPerVm)).Select(_ => Guid.NewGuid()).ToList();

        // The streams first (events reference them), with the version their events will bring them to.
        await using var db = await data.OpenConnectionAsync();
        await using (var streams = await db.BeginBinaryImportAsync(
            $"COPY {schema}.mt_streams (id, version, timestamp, created, tenant_id, compacted_version, is_archived) FROM STDIN (FORMAT BINARY)"))
        {
            foreach (var (id, version) in hosts.Select(h => (h.Id, EventsPerHost)).Concat(vms.Select(v => (v, EventsPerVm))).Append((clusterId, 1)))
            {
                await streams.WriteRowAsync(default, id, (long)version, begin, begin, "*DEFAULT*", 0L, false);
            }

            await streams.CompleteAsync();
        }

        await using (var writer = await db.BeginBinaryImportAsync(
            $"COPY {schema}.mt_events (seq_id, id, stream_id, version, data, type, timestamp, tenant_id, mt_dotnet_type, correlation_id, causation_id, user_name, is_archived) FROM STDIN (FORMAT BINARY)"))
        {
            log.Writer = writer;
            log.Append(clusterId, new ClusterCreated(clusterId, "bench", ClusterSettings.Default, begin), begin);
            foreach (var (hostId, name) in hosts)
            {
                var facts = new HostFacts(name, 64, 512 * 1024, "EPYC", $"qemu+tls://{name}/system", "1.0.0", ["avx2", "sse4_2"], true, $"{name}.migration");
                log.Append(hostId, new HostRegistered(hostId, facts, begin), begin);
                log.Append(hostId, new HostClusterAssigned(hostId, clusterId, begin), begin);
                log.Append(hostId, new HostLabelsChanged(hostId, new Dictionary<string, string> { ["rack"] = $"r{hostId.GetHashCode() & 7}" }, begin), begin);
            }

            // VMs in groups whose events interleave, as concurrent commands on many VMs leave them in the log.
            const int Group = 500;
            for (var first = 0; first < vms.Count; first += Group)
            {
                var lives = Enumerable.Range(first, Math.Min(Group, vms.Count - first))
                    .Select(i => VmLife(vms[i], $"vm-{i:000000}", hosts[i % Hosts], begin.AddSeconds(i)).GetEnumerator()).ToList();
                while (lives.Count > 0)
                {
                    lives.RemoveAll(life =>
                    {
                        if (!life.MoveNext())
                        {
                            return true;
                        }

                        log.Append(life.Current.Stream, life.Current.Event, life.Current.At);
                        return false;
                    });
                }
            }

            await writer.CompleteAsync();
        }

        await using var sequence = data.CreateCommand($"SELECT setval('{schema}.mt_events_sequence', {log.Count})");
        await sequence.ExecuteNonQueryAsync();
        return (log.Count, vms.Count);
    }

    /// <summary>One VM's life, <see cref="EventsPerVm"/> events: created, placed, started; then operations, some failing, and observations.</summary>
    private static IEnumerable<(Guid Stream, object Event, DateTimeOffset At)> VmLife(Guid vmId, string name, (Guid Id, string Name) host, DateTimeOffset born)
    {
        var at = born;
        var placement = new PlacementRecord(host.Id, host.Name, PlacementStrategy.Spread, Hosts, new Dictionary<string, int>(), [], false);
        yield return (vmId, new VmCreated(vmId, name, 2, 2048, host.Id, at), at);
        yield return (vmId, new VmPlaced(vmId, "create", placement, at), at);
        var count = 2;
        var kinds = new[] { OperationKind.Create, OperationKind.Stop, OperationKind.Start, OperationKind.Reboot, OperationKind.Pause, OperationKind.Resume };
        for (var i = 0; count + 3 <= EventsPerVm - 1; i++)
        {
            var kind = kinds[i % kinds.Length];
            var desired = kind switch { OperationKind.Stop => PowerState.Stopped, OperationKind.Pause => PowerState.Paused, _ => PowerState.Running };
            var operationId = Guid.NewGuid();
            at = at.AddMilliseconds(250);
            yield return (vmId, new VmOperationRequested(vmId, operationId, $"cmd-{operationId:N}", kind, false, desired, host.Id, "user:bench", at, at.AddMinutes(2)), at);
            yield return (vmId, new VmOperationStarted(vmId, operationId, at.AddMilliseconds(20)), at.AddMilliseconds(20));
            at = at.AddMilliseconds(300);
            yield return kind == OperationKind.Reboot
                ? (vmId, new VmOperationFailed(vmId, operationId, "VIR_ERR_OPERATION_FAILED", "reboot refused by the guest", PowerState.Running, at, at), at)
                : (vmId, new VmOperationSucceeded(vmId, operationId, desired, at, at), at);
            count += 3;
        }

        for (; count < EventsPerVm; count++)
        {
            at = at.AddSeconds(30);
            yield return (vmId, new VmPowerStateObserved(vmId, PowerState.Running, "inventory", at, at), at);
        }
    }

    private sealed class EventLog(Dictionary<Type, string> names, ISerializer serializer)
    {
        private readonly Dictionary<Guid, long> _versions = [];

        public NpgsqlBinaryImporter Writer { get; set; } = null!;

        public long Count { get; private set; }

        public void Append(Guid stream, object @event, DateTimeOffset at)
        {
            var version = _versions[stream] = _versions.GetValueOrDefault(stream) + 1;
            var type = @event.GetType();
            Writer.StartRow();
            Writer.Write(++Count, NpgsqlDbType.Bigint);
            Writer.Write(Guid.NewGuid(), NpgsqlDbType.Uuid);
            Writer.Write(stream, NpgsqlDbType.Uuid);
            Writer.Write(version, NpgsqlDbType.Bigint);
            Writer.Write(serializer.ToJson(@event), NpgsqlDbType.Jsonb);
            Writer.Write(names[type], NpgsqlDbType.Varchar);
            Writer.Write(at, NpgsqlDbType.TimestampTz);
            Writer.Write("*DEFAULT*", NpgsqlDbType.Varchar);
            Writer.Write($"{type.FullName}, {type.Assembly.GetName().Name}", NpgsqlDbType.Varchar);
            Writer.Write(stream.ToString(), NpgsqlDbType.Varchar);
            Writer.Write($"bench:{Count}", NpgsqlDbType.Varchar);
            Writer.Write("user:bench", NpgsqlDbType.Varchar);
            Writer.Write(false, NpgsqlDbType.Boolean);
        }
    }

    private static async Task AnalyzeAsync(NpgsqlDataSource data, string schema)
    {
        await using var analyze = data.CreateCommand($"ANALYZE {schema}.mt_events; ANALYZE {schema}.mt_streams");
        await analyze.ExecuteNonQueryAsync();
    }

    /// <summary>The baseline: every row's type and data in sequence order, deserialized into its CLR type with Marten's JSON options.</summary>
    private static async Task<(long Events, TimeSpan Elapsed)> RawReadAsync(NpgsqlDataSource data, string connection, string schema)
    {
        var json = MartenJsonOptions(connection, schema);
        var types = EventCatalog.All.ToDictionary(e => e.Name, e => e.Type);
        var clock = Stopwatch.StartNew();
        await using var command = data.CreateCommand($"SELECT type, data FROM {schema}.mt_events ORDER BY seq_id");
        await using var reader = await command.ExecuteReaderAsync();
        var events = 0L;
        while (await reader.ReadAsync())
        {
            _ = JsonSerializer.Deserialize(reader.GetString(1), types[reader.GetString(0)], json)
                ?? throw new InvalidOperationException("an event deserialized to null");
            events++;
        }

        return (events, clock.Elapsed);
    }

    /// <summary>The JSON options Marten's serializer uses, as the control plane configures it.</summary>
    private static JsonSerializerOptions MartenJsonOptions(string connection, string schema)
    {
        var options = new StoreOptions();
        EventStoreSetup.ConfigureEvents(options, connection, schema);
        JsonSerializerOptions? json = null;
        ((SystemTextJsonSerializer)options.Serializer()).Configure(o => json = o);
        return json!;
    }

    private static async Task<Dictionary<string, long>> DocumentCountsAsync(NpgsqlDataSource data, string connection, string schema)
    {
        await using var store = ReadModelReplay.CreateStore(connection, schema);
        var counts = new Dictionary<string, long>();
        foreach (var (projection, readModels) in store.Options.Projections.All.Select(p => (p.Name, ReadModelReplay.ReadModelsOf(store, p))))
        {
            foreach (var readModel in readModels)
            {
                await using var count = data.CreateCommand($"SELECT count(*) FROM {schema}.{readModel.Table}");
                counts[projection] = counts.GetValueOrDefault(projection) + (long)(await count.ExecuteScalarAsync())!;
            }
        }

        return counts;
    }

    private static string Markdown(MachineInfo machine, RebuildResult r)
    {
        var text = new StringBuilder();
        text.AppendLine("# Rebuild: every read model from the event log vs a raw sequential read + deserialize of the same events");
        text.AppendLine();
        text.AppendLine(machine.ToMarkdown());
        text.AppendLine();
        text.AppendLine(CultureInfo.InvariantCulture,
            $"Log: {r.Events} events ({r.Vms} VM streams of {EventsPerVm} events, {r.Hosts} hosts, a cluster), generated with binary COPY in {r.GenerateSeconds} s.");
        text.AppendLine("Rebuild: the production projections, rebuilt one after the other by Marten's projection daemon (what `qkvm read-models verify` runs).");
        text.AppendLine(CultureInfo.InvariantCulture, $"Raw: Npgsql reading `type, data` of the same rows in sequence order, System.Text.Json into the mapped CLR types with Marten's options: the faster of two runs, before the rebuild ({r.RawFirstSeconds} s) and after it ({r.RawSecondSeconds} s).");
        text.AppendLine();
        text.AppendLine("| events | rebuild (s) | rebuild (events/s, aim ≥ 100,000) | raw read + deserialize (s) | raw (events/s) | ratio, rebuild / raw (aim ≥ 0.5) |");
        text.AppendLine("|---:|---:|---:|---:|---:|---:|");
        text.AppendLine(CultureInfo.InvariantCulture,
            $"| {r.Events} | {r.RebuildSeconds} | {r.RebuildEventsPerSecond:0} | {r.RawSeconds} | {r.RawEventsPerSecond:0} | {r.Ratio:0.000} |");
        text.AppendLine();
        text.AppendLine("| projection | rebuild (s) | documents |");
        text.AppendLine("|---|---:|---:|");
        foreach (var p in r.Projections)
        {
            text.AppendLine(CultureInfo.InvariantCulture, $"| {p.Projection} | {p.Seconds} | {p.Documents} |");
        }

        return text.ToString();
    }
}

public sealed record ProjectionTiming(string Projection, double Seconds, long Documents);

public sealed record RebuildResult(
    long Events, int Vms, int Hosts, double GenerateSeconds, double RebuildSeconds, double RebuildEventsPerSecond, double RawSeconds,
    double RawEventsPerSecond, double RawFirstSeconds, double RawSecondSeconds, IReadOnlyList<ProjectionTiming> Projections)
{
    public double Ratio => RawEventsPerSecond <= 0 ? 0 : Math.Round(RebuildEventsPerSecond / RawEventsPerSecond, 3);
}
