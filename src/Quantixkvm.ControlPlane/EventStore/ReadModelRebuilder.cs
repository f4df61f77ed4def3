using System.Collections.Concurrent;
using System.Diagnostics;
using System.Reflection;
using System.Runtime.ExceptionServices;
using System.Runtime.InteropServices;
using JasperFx.Events;
using JasperFx.Events.Aggregation;
using JasperFx.Events.Daemon;
using JasperFx.Events.Projections;
using Marten;
using Marten.Internal.Sessions;
using Npgsql;
using Weasel.Core;
using Quantixkvm.ControlPlane.ReadModels;
using Quantixkvm.Domain;

namespace Quantixkvm.ControlPlane.EventStore;

/// <summary>
/// Rebuilds every read model from the event log in a single pass, with the production projections of the target store
/// (<see cref="EventStoreSetup.AddReadModels"/>): reads <c>mt_events</c> once in sequence order, deserializes each event
/// with the store's own serializer into its catalogued CLR type (<see cref="EventCatalog"/>), and hands it to every
/// projection's <c>Evolve</c>; then empties the read-model tables of the target store and writes every document with
/// Marten's bulk insert (COPY), two read models at a time. Reading and deserializing run on one thread while applying runs
/// on another.
/// <para>
/// What it reproduces of Marten's inline projection, so that a rebuild equals what the control plane projected:
/// a single-stream projection sees every event of every stream (they declare no event types, so Marten filters none),
/// keyed by stream id; a multi-stream projection sees the events its <see cref="IdentityRoutes"/> route (the routes Marten
/// itself slices by), keyed by the routed id, an empty id routing nowhere; <c>Evolve</c> returning null deletes the
/// document; and after each event the projection's own metadata step runs on the document (Marten's identity setter puts
/// the id on it, and a <c>Version</c> property gets the event's stream version for a single-stream projection, its
/// sequence for a multi-stream one). Every event in the log is read, archived or not: the control plane never archives
/// streams, and when it appended them the inline projections saw them all.
/// </para>
/// <para>
/// Memory: the pass holds every document of every read model at once (plus one small entry per stream), since any later
/// event may still change any of them; the events themselves are dropped once applied, only a bounded queue of pages is
/// in flight. The benchmark's log of 1,000,000 events (300,000 documents) peaked at 344 MB for its whole process; a log
/// whose read models do not fit in memory cannot be rebuilt this way (they would have to be folded in id ranges, one pass
/// per range).
/// </para>
/// </summary>
public sealed class ReadModelRebuilder
{
    private const int PageSize = 2_000;
    private const int PagesAhead = 16;
    private const int WriteBatchSize = 50_000;

    private readonly DocumentStore _target;
    private readonly IReadOnlyList<Fold> _folds;
    private readonly StreamFold[] _streamFolds;
    private readonly Dictionary<string, StoredType> _types;
    private readonly Dictionary<Guid, object?[]> _streams = [];

    private ReadModelRebuilder(DocumentStore target)
    {
        _target = target;
        using var session = (QuerySession)target.QuerySession();
        _folds = target.Options.Projections.All.Select(p => Fold.For(p, session)).ToList();
        _streamFolds = _folds.OfType<StreamFold>().ToArray();
        var routed = _folds.OfType<RoutedFold>().ToList();
        _types = EventCatalog.All.ToDictionary(e => e.Name, e => StoredType.For(e.Type, e.Name, routed));
    }

    /// <summary>
    /// Rebuilds the read models of <paramref name="target"/> from the log in <paramref name="logSchema"/> up to sequence
    /// <paramref name="highWater"/> (the log may be another schema's; it is only read). Replaces every document of those
    /// read models in the target store; not atomic: a reader of the target sees the tables empty, then filling.
    /// </summary>
    public static async Task<ReadModelRebuild> RebuildAsync(
        NpgsqlDataSource log, string logSchema, long highWater, DocumentStore target, CancellationToken cancellationToken = default)
    {
        var rebuilder = new ReadModelRebuilder(target);
        var (events, phases) = await rebuilder.FoldAsync(log, logSchema, highWater, cancellationToken);
        // Two read models at a time: one's documents are serialized while PostgreSQL takes in the other's.
        var writes = new ProjectionRebuild[rebuilder._folds.Count];
        await Parallel.ForEachAsync(Enumerable.Range(0, writes.Length), new ParallelOptions { MaxDegreeOfParallelism = 2, CancellationToken = cancellationToken },
            async (i, token) =>
            {
                var clock = Stopwatch.StartNew();
                var written = await rebuilder._folds[i].WriteAsync(rebuilder, token);
                writes[i] = new ProjectionRebuild($"write {rebuilder._folds[i].Name}", clock.Elapsed) { Documents = written };
            });
        phases.AddRange(writes);

        return new ReadModelRebuild(events, phases);
    }

    /// <summary>The single pass: one thread reads and deserializes pages of events, another applies them.</summary>
    private async Task<(long Events, List<ProjectionRebuild> Phases)> FoldAsync(
        NpgsqlDataSource log, string logSchema, long highWater, CancellationToken cancellationToken)
    {
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        using var pages = new BlockingCollection<List<(IEvent Event, StoredType Type)>>(PagesAhead);
        Exception? failure = null;
        void Fail(Exception e)
        {
            // The first failure is the cause; what it does to the other thread (a cancelled read or wait) is not.
            Interlocked.CompareExchange(ref failure, e, null);
            stop.Cancel();
        }

        var read = Task.Factory.StartNew(() =>
        {
            try
            {
                return Read(log, logSchema, highWater, pages, stop.Token);
            }
            catch (Exception e)
            {
                Fail(e);
                throw;
            }
            finally
            {
                pages.CompleteAdding();
            }
        }, CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default);
        var apply = Task.Factory.StartNew(() =>
        {
            try
            {
                return Apply(pages, stop.Token);
            }
            catch (Exception e)
            {
                Fail(e);
                throw;
            }
        }, CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default);

        try
        {
            await Task.WhenAll(read, apply);
        }
        catch
        {
            cancellationToken.ThrowIfCancellationRequested();
            ExceptionDispatchInfo.Throw(failure!);
        }

        var (events, reading) = read.Result;
        return (events, [new ProjectionRebuild("read + deserialize", reading), new ProjectionRebuild("apply", apply.Result)]);
    }

    /// <summary>Reads the log in sequence order, one statement (one snapshot), handing on pages of deserialized events.</summary>
    private (long Events, TimeSpan Elapsed) Read(
        NpgsqlDataSource log, string schema, long highWater, BlockingCollection<List<(IEvent, StoredType)>> pages, CancellationToken cancellationToken)
    {
        var clock = Stopwatch.StartNew();
        var serializer = _target.Options.Serializer();
        using var connection = log.OpenConnection();
        using var command = new NpgsqlCommand(
            $"""
            SELECT seq_id, id, stream_id, version, type, data, timestamp, tenant_id, correlation_id, causation_id, user_name
            FROM {ReadModelReplay.Quote(schema)}.mt_events WHERE seq_id <= $1 ORDER BY seq_id
            """, connection)
        {
            Parameters = { new NpgsqlParameter { Value = highWater } },
            CommandTimeout = 0,
        };
        using var reader = command.ExecuteReader();
        // Stopping mid-log cancels the statement, rather than draining the rest of the log when the reader is disposed.
        using var cancel = cancellationToken.Register(command.Cancel);
        var events = 0L;
        var page = new List<(IEvent, StoredType)>(PageSize);
        while (reader.Read())
        {
            var sequence = reader.GetInt64(0);
            var id = reader.GetGuid(1);
            var streamId = reader.GetGuid(2);
            var version = reader.GetInt64(3);
            var typeName = reader.GetString(4);
            if (typeName == Tombstone.Name)
            {
                // Marten fills the sequence numbers of an append that failed with tombstones: log entries, no facts.
                events++;
                continue;
            }

            if (!_types.TryGetValue(typeName, out var type))
            {
                throw new ReplayException($"event {sequence} has the type '{typeName}', which no event in the catalog has");
            }

            object data;
            try
            {
                data = serializer.FromJson(type.ClrType, reader, 5);
            }
            catch (Exception e) when (e is System.Text.Json.JsonException or NotSupportedException or InvalidOperationException)
            {
                throw new ReplayException($"event {sequence} ({typeName}) cannot be deserialized into {type.ClrType.Name}: {e.Message}", e);
            }

            var @event = type.Wrap(data);
            @event.Sequence = sequence;
            @event.Id = id;
            @event.StreamId = streamId;
            @event.Version = version;
            @event.EventTypeName = typeName;
            @event.DotNetTypeName = type.DotNetTypeName;
            @event.Timestamp = reader.GetFieldValue<DateTimeOffset>(6);
            @event.TenantId = reader.GetString(7);
            @event.CorrelationId = reader.IsDBNull(8) ? null : reader.GetString(8);
            @event.CausationId = reader.IsDBNull(9) ? null : reader.GetString(9);
            @event.UserName = reader.IsDBNull(10) ? null : reader.GetString(10);
            page.Add((@event, type));
            events++;
            if (page.Count == PageSize)
            {
                pages.Add(page, cancellationToken);
                page = new List<(IEvent, StoredType)>(PageSize);
            }
        }

        if (page.Count > 0)
        {
            pages.Add(page, cancellationToken);
        }

        return (events, clock.Elapsed);
    }

    /// <summary>Applies every event, in sequence order, to every projection it reaches; returns the time spent applying.</summary>
    private TimeSpan Apply(BlockingCollection<List<(IEvent Event, StoredType Type)>> pages, CancellationToken cancellationToken)
    {
        var busy = 0L;
        foreach (var page in pages.GetConsumingEnumerable(cancellationToken))
        {
            var started = Stopwatch.GetTimestamp();
            foreach (var (@event, type) in page)
            {
                ref var documents = ref CollectionsMarshal.GetValueRefOrAddDefault(_streams, @event.StreamId, out _);
                documents ??= new object?[_streamFolds.Length];
                for (var i = 0; i < _streamFolds.Length; i++)
                {
                    documents[i] = _streamFolds[i].Apply(documents[i], @event);
                }

                foreach (var (fold, route) in type.Routes)
                {
                    fold.Apply(route(@event.Data), @event);
                }
            }

            busy += Stopwatch.GetTimestamp() - started;
        }

        return Stopwatch.GetElapsedTime(0, busy);
    }

    /// <summary>A stored event type: its CLR type, how to wrap its data as Marten's <c>Event&lt;T&gt;</c>, and the routed projections it reaches.</summary>
    private sealed record StoredType(Type ClrType, string DotNetTypeName, Func<object, IEvent> Wrap, (RoutedFold Fold, Func<object, Guid> Route)[] Routes)
    {
        private static readonly MethodInfo WrapMethod = typeof(StoredType).GetMethod(nameof(WrapAs), BindingFlags.NonPublic | BindingFlags.Static)!;

        public static StoredType For(Type type, string name, IEnumerable<RoutedFold> routed) => new(
            type,
            $"{type.FullName}, {type.Assembly.GetName().Name}",
            WrapMethod.MakeGenericMethod(type).CreateDelegate<Func<object, IEvent>>(),
            routed.Select(f => (Fold: f, Route: f.Routes.RouteFor(type))).Where(r => r.Route is not null).Select(r => (r.Fold, r.Route!)).ToArray());

        private static IEvent WrapAs<T>(object data) where T : notnull => new Event<T>((T)data);
    }

    /// <summary>One projection's documents, as the pass folds them.</summary>
    private abstract class Fold(string name)
    {
        public string Name { get; } = name;

        public static Fold For(IProjectionSource<IDocumentOperations, IQuerySession> projection, QuerySession session)
        {
            var document = AggregationBase(projection.GetType())?.GetGenericArguments()[0]
                ?? throw new ReplayException($"projection {projection.Name} is not an aggregation, which the rebuilder cannot follow");
            var aggregation = (IAggregateProjection)projection;
            var fold = aggregation.Scope switch
            {
                // Marten hands a single-stream projection that declares no event types every event of the stream.
                AggregationScope.SingleStream when aggregation.AllEventTypes.Length == 0 => typeof(StreamFold<>),
                AggregationScope.SingleStream => throw new ReplayException(
                    $"projection {projection.Name} takes only some event types, a filter the rebuilder does not follow"),
                AggregationScope.MultiStream when projection is IRoutedProjection => typeof(RoutedFold<>),
                _ => throw new ReplayException(
                    $"projection {projection.Name} is a multi-stream projection without {nameof(IdentityRoutes)}, whose events the rebuilder cannot route"),
            };
            return (Fold)Activator.CreateInstance(fold.MakeGenericType(document), projection, session)!;
        }

        public abstract Task<long> WriteAsync(ReadModelRebuilder rebuilder, CancellationToken cancellationToken);

        private static Type? AggregationBase(Type? type)
        {
            for (; type is not null; type = type.BaseType)
            {
                if (type.IsGenericType && type.GetGenericTypeDefinition() == typeof(JasperFxAggregationProjectionBase<,,,>)
                    && type.GetGenericArguments() is [_, var id, var operations, var query]
                    && (id, operations, query) == (typeof(Guid), typeof(IDocumentOperations), typeof(IQuerySession)))
                {
                    return type;
                }
            }

            return null;
        }

        /// <summary>Empties the read model's table and bulk-inserts its documents.</summary>
        protected static async Task<long> WriteAsync<TDoc>(DocumentStore target, IReadOnlyCollection<TDoc> documents, CancellationToken cancellationToken)
            where TDoc : notnull
        {
            await target.Advanced.Clean.DeleteDocumentsByTypeAsync(typeof(TDoc), cancellationToken);
            if (documents.Count > 0)
            {
                await target.BulkInsertAsync(documents, BulkInsertMode.InsertsOnly, WriteBatchSize, cancellationToken);
            }

            return documents.Count;
        }
    }

    /// <summary>A projection's evolve and metadata steps, with a failure naming the event.</summary>
    private sealed class Steps<TDoc>(IProjectionSource<IDocumentOperations, IQuerySession> projection, QuerySession session) where TDoc : class
    {
        private readonly JasperFxAggregationProjectionBase<TDoc, Guid, IDocumentOperations, IQuerySession> _projection =
            (JasperFxAggregationProjectionBase<TDoc, Guid, IDocumentOperations, IQuerySession>)projection;

        private readonly IIdentitySetter<TDoc, Guid> _identity = (IIdentitySetter<TDoc, Guid>)session.StorageFor<TDoc>();
        private readonly IEvent[] _last = new IEvent[1];

        public TDoc? Evolve(TDoc? snapshot, Guid id, IEvent @event)
        {
            TDoc? next;
            try
            {
                next = _projection.Evolve(snapshot, id, @event);
            }
            catch (Exception e)
            {
                throw new ReplayException(
                    $"{_projection.Name} cannot apply event {@event.Sequence} ({@event.EventTypeName}) of stream {@event.StreamId}: {e.Message}", e);
            }

            if (next is not null)
            {
                // What Marten does after each slice of events (id, Version), here after each event: the same result.
                _last[0] = @event;
                ((IAggregationProjection<TDoc, Guid, IDocumentOperations, IQuerySession>)_projection).TryApplyMetadata(_last, next, id, _identity);
            }

            return next;
        }
    }

    /// <summary>A single-stream projection: its documents live in the pass's per-stream entries.</summary>
    private abstract class StreamFold(string name) : Fold(name)
    {
        public abstract object? Apply(object? snapshot, IEvent @event);
    }

    private sealed class StreamFold<TDoc>(IProjectionSource<IDocumentOperations, IQuerySession> projection, QuerySession session)
        : StreamFold(projection.Name) where TDoc : class
    {
        private readonly Steps<TDoc> _steps = new(projection, session);

        public override object? Apply(object? snapshot, IEvent @event) => _steps.Evolve((TDoc?)snapshot, @event.StreamId, @event);

        public override Task<long> WriteAsync(ReadModelRebuilder rebuilder, CancellationToken cancellationToken)
        {
            var index = Array.IndexOf(rebuilder._streamFolds, this);
            var documents = rebuilder._streams.Values.Select(d => d[index]).OfType<TDoc>().ToList();
            return WriteAsync(rebuilder._target, documents, cancellationToken);
        }
    }

    /// <summary>A multi-stream projection routed by <see cref="IdentityRoutes"/>: its documents by routed id.</summary>
    private abstract class RoutedFold(string name, IdentityRoutes routes) : Fold(name)
    {
        public IdentityRoutes Routes { get; } = routes;

        public abstract void Apply(Guid id, IEvent @event);
    }

    private sealed class RoutedFold<TDoc>(IProjectionSource<IDocumentOperations, IQuerySession> projection, QuerySession session)
        : RoutedFold(projection.Name, ((IRoutedProjection)projection).Routes) where TDoc : class
    {
        private readonly Steps<TDoc> _steps = new(projection, session);
        private readonly Dictionary<Guid, TDoc?> _documents = [];

        public override void Apply(Guid id, IEvent @event)
        {
            if (id == Guid.Empty)
            {
                return;
            }

            ref var document = ref CollectionsMarshal.GetValueRefOrAddDefault(_documents, id, out _);
            var next = _steps.Evolve(document, id, @event);
            if (next is null)
            {
                _documents.Remove(id);
            }
            else
            {
                document = next;
            }
        }

        public override Task<long> WriteAsync(ReadModelRebuilder rebuilder, CancellationToken cancellationToken) =>
            WriteAsync(rebuilder._target, _documents.Values.OfType<TDoc>().ToList(), cancellationToken);
    }
}

/// <summary>A rebuild: how many events it read, and how long each phase took.</summary>
public sealed record ReadModelRebuild(long Events, IReadOnlyList<ProjectionRebuild> Phases);
