using System.Text.Json.Serialization;
using JasperFx;
using JasperFx.Events;
using JasperFx.Events.Daemon;
using JasperFx.Events.Projections;
using Marten;
using Quantixkvm.ControlPlane.Configuration;
using Quantixkvm.ControlPlane.Dispatch;
using Quantixkvm.ControlPlane.ReadModels;
using Quantixkvm.Domain;
using Weasel.Core;

namespace Quantixkvm.ControlPlane.EventStore;

/// <summary>Marten, strict: explicit event names, full metadata, inline read models, subscriptions from the log.</summary>
public static class EventStoreSetup
{
    public static void AddQuantixkvmEventStore(this IServiceCollection services, string connectionString, ControlPlaneOptions options)
    {
        var early = new EarlyDispatch(TimeProvider.System);
        var marten = services.AddMarten(store =>
            {
                Configure(store, connectionString, options.DatabaseSchema);
                if (options.DispatchEnabled)
                {
                    store.Listeners.Add(new EarlyDispatch.Listener(early));
                }
            })
            .UseLightweightSessions()
            .ApplyAllDatabaseChangesOnStartup()
            .AddAsyncDaemon(DaemonMode.Solo);

        marten.AddSubscriptionWithServices<ChangeFeed>(ServiceLifetime.Singleton, o =>
        {
            o.Name = "change-feed";
            // A restarted control plane has no subscribers to catch up; it starts at the head of the log.
            o.Options.SubscribeFromPresent();
        });

        if (options.DispatchEnabled)
        {
            // At-least-once from its checkpoint: a crash between append and send loses nothing.
            marten.AddSubscriptionWithServices<AgentDispatcher>(ServiceLifetime.Singleton, o => o.Name = "agent-dispatch");
            services.AddSingleton(early);
            services.AddSingleton<HostDispatch>();
            services.AddHostedService<EarlyDispatcher>();
        }
    }

    public static void Configure(StoreOptions store, string connectionString, string schema)
    {
        ConfigureEvents(store, connectionString, schema);
        AddReadModels(store);
    }

    /// <summary>The event store alone: connection, serializer, metadata, strictness and the stored event names.</summary>
    public static void ConfigureEvents(StoreOptions store, string connectionString, string schema)
    {
        store.Connection(connectionString);
        store.DatabaseSchemaName = schema;
        store.Events.DatabaseSchemaName = schema;
        store.AutoCreateSchemaObjects = AutoCreate.CreateOrUpdate;
        store.UseSystemTextJsonForSerialization(EnumStorage.AsString, Casing.CamelCase,
            json => json.Converters.Add(new JsonStringEnumConverter()));

        store.Events.StreamIdentity = StreamIdentity.AsGuid;
        store.Events.MetadataConfig.CorrelationIdEnabled = true;
        store.Events.MetadataConfig.CausationIdEnabled = true;
        store.Events.MetadataConfig.UserNameEnabled = true;
        // Wake the async daemon on append instead of waiting for its next poll.
        store.Events.UseListenNotifyForEventAppends = true;
        // Dispatch and the change feed ride the daemon: when a wake-up is missed or coalesced under load, its polls bound the
        // delay (defaults 250 ms / 1 s; the e2e bench showed them in its p99). An idle poll is one cheap query.
        store.Projections.FastPollingTime = TimeSpan.FromMilliseconds(25);
        store.Projections.SlowPollingTime = TimeSpan.FromMilliseconds(100);

        // Strict: an event a projection or subscription cannot apply stops it (and is logged) instead of being skipped,
        // so a read model or the dispatch never silently misses a fact.
        foreach (var errors in new[] { store.Projections.Errors, store.Projections.RebuildErrors })
        {
            errors.SkipApplyErrors = false;
            errors.SkipSerializationErrors = false;
            errors.SkipUnknownEvents = false;
        }

        foreach (var (type, name) in EventCatalog.All)
        {
            store.Events.MapEventType(type, name);
        }
    }

    /// <summary>The read models, projected inline: in the transaction that appends their events.</summary>
    public static void AddReadModels(StoreOptions store)
    {
        store.Projections.Add(new VmViewProjection(), ProjectionLifecycle.Inline);
        store.Projections.Add(new OperationViewProjection(), ProjectionLifecycle.Inline);
        store.Projections.Add(new HostViewProjection(), ProjectionLifecycle.Inline);
        store.Projections.Add(new StoragePoolViewProjection(), ProjectionLifecycle.Inline);
        store.Projections.Add(new VolumeViewProjection(), ProjectionLifecycle.Inline);
        store.Projections.Add(new StorageOperationViewProjection(), ProjectionLifecycle.Inline);
        store.Projections.Add(new TemplateViewProjection(), ProjectionLifecycle.Inline);
        store.Projections.Add(new ClusterViewProjection(), ProjectionLifecycle.Inline);
        store.Projections.Add(new MigrationViewProjection(), ProjectionLifecycle.Inline);
        store.Projections.Add(new NetworkViewProjection(), ProjectionLifecycle.Inline);
        store.Projections.Add(new SecurityGroupViewProjection(), ProjectionLifecycle.Inline);
        store.Schema.For<VolumeView>().Index(x => x.PoolId);
        store.Schema.For<StorageOperationView>().Index(x => x.Status);
        store.Schema.For<OperationView>().Index(x => x.VmId).Index(x => x.Status);
        store.Schema.For<VmView>().Index(x => x.HostId);
        store.Schema.For<HostLiveness>();
        store.Schema.For<MigrationProgress>();
        store.Schema.For<MigrationView>().Index(x => x.VmId);
    }
}
