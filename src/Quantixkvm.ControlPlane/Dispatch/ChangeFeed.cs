using JasperFx.Events;
using JasperFx.Events.Daemon;
using JasperFx.Events.Projections;
using Marten;
using Marten.Subscriptions;
using Quantixkvm.ControlPlane.ReadModels;
using Quantixkvm.Domain.Clusters;
using Quantixkvm.Domain.Hosts;
using Quantixkvm.Domain.Networks;
using Quantixkvm.Domain.Storage;
using Quantixkvm.Domain.Vms;

namespace Quantixkvm.ControlPlane.Dispatch;

/// <summary>
/// Turns the event log into subscription messages. Each event yields the VM (and operation) exactly
/// as it was right after that event — folded with the same pure functions as the read models — so
/// a subscriber sees every step in order, never a later state twice (unless it falls a whole
/// <see cref="Broadcast{T}"/> queue behind, when it loses the oldest steps rather than the server its memory).
/// </summary>
public sealed class ChangeFeed(ChangeHub hub) : SubscriptionBase
{
    public override async Task<IChangeListener> ProcessEventsAsync(
        EventRange page, ISubscriptionController controller, IDocumentOperations operations, CancellationToken cancellationToken)
    {
        await PublishStorageAsync(page, operations, cancellationToken);
        await PublishFleetAsync(page, operations, cancellationToken);
        var vmEvents = page.Events.Where(e => e.Data is VmEvent).ToList();
        if (vmEvents.Count == 0 || (hub.Vms.SubscriberCount == 0 && hub.Operations.SubscriberCount == 0))
        {
            return NullChangeListener.Instance;
        }

        var snapshots = new Dictionary<long, (VmView? Vm, OperationView? Operation)>();
        foreach (var stream in vmEvents.GroupBy(e => e.StreamId))
        {
            var wanted = stream.Select(e => e.Sequence).ToHashSet();
            var history = await operations.Events.FetchStreamAsync(stream.Key, version: stream.Max(e => e.Version), token: cancellationToken);
            VmView? vm = null;
            var operationsById = new Dictionary<Guid, OperationView?>();
            foreach (var e in history)
            {
                vm = VmView.After(vm, e);
                OperationView? operation = null;
                if (OperationViewProjection.Routes.DocumentIdOf(e.Data) is { } operationId)
                {
                    operation = OperationView.After(operationsById.GetValueOrDefault(operationId), e);
                    operationsById[operationId] = operation;
                }

                if (wanted.Contains(e.Sequence))
                {
                    var current = vm?.CurrentOperationId is { } currentId ? operationsById.GetValueOrDefault(currentId) : null;
                    snapshots[e.Sequence] = (vm is null ? null : vm with { CurrentOperationSnapshot = current }, operation);
                }
            }
        }

        foreach (var e in vmEvents.OrderBy(e => e.Sequence))
        {
            if (!snapshots.TryGetValue(e.Sequence, out var snapshot))
            {
                continue;
            }

            if (snapshot.Operation is { } operation)
            {
                hub.Operations.Publish(operation);
            }

            if (snapshot.Vm is { } vm)
            {
                hub.Vms.Publish(vm);
            }
        }

        return NullChangeListener.Instance;
    }

    /// <summary>
    /// Pools, volumes and storage operations are published as they are once the batch is read (not step
    /// by step like VMs): a subscriber sees each change, possibly with later ones already folded in.
    /// </summary>
    private async Task PublishStorageAsync(EventRange page, IDocumentOperations operations, CancellationToken cancellationToken)
    {
        if (hub.Pools.SubscriberCount + hub.Volumes.SubscriberCount + hub.StorageOperations.SubscriberCount == 0)
        {
            return;
        }

        var pools = new HashSet<Guid>();
        var volumes = new HashSet<Guid>();
        foreach (var e in page.Events.OrderBy(e => e.Sequence))
        {
            if (StorageOperationViewProjection.Routes.DocumentIdOf(e.Data) is { } operationId
                && await operations.LoadAsync<StorageOperationView>(operationId, cancellationToken) is { } operation)
            {
                hub.StorageOperations.Publish(operation);
            }

            if (e.Data is StorageEvent && pools.Add(e.StreamId) && await operations.LoadAsync<StoragePoolView>(e.StreamId, cancellationToken) is { } pool)
            {
                hub.Pools.Publish(pool);
            }

            if (VolumeViewProjection.Routes.DocumentIdOf(e.Data) is { } volumeId && volumes.Add(volumeId)
                && await operations.LoadAsync<VolumeView>(volumeId, cancellationToken) is { } volume)
            {
                hub.Volumes.Publish(volume);
            }
        }
    }

    /// <summary>Hosts, clusters, migrations, networks and security groups, as they are once the batch is read (like storage).</summary>
    private async Task PublishFleetAsync(EventRange page, IDocumentOperations operations, CancellationToken cancellationToken)
    {
        if (hub.Hosts.SubscriberCount + hub.Clusters.SubscriberCount + hub.Migrations.SubscriberCount + hub.Networks.SubscriberCount
            + hub.SecurityGroups.SubscriberCount == 0)
        {
            return;
        }

        var seen = new HashSet<Guid>();
        foreach (var e in page.Events.OrderBy(e => e.Sequence))
        {
            switch (e.Data)
            {
                case HostEvent when seen.Add(e.StreamId) && await operations.LoadAsync<HostView>(e.StreamId, cancellationToken) is { } host:
                    hub.Hosts.Publish(host);
                    break;
                case ClusterEvent when seen.Add(e.StreamId) && await operations.LoadAsync<ClusterView>(e.StreamId, cancellationToken) is { } cluster:
                    hub.Clusters.Publish(cluster);
                    break;
                case NetworkEvent when seen.Add(e.StreamId) && await operations.LoadAsync<NetworkView>(e.StreamId, cancellationToken) is { } network:
                    hub.Networks.Publish(network);
                    break;
                case SecurityGroupEvent when seen.Add(e.StreamId) && await operations.LoadAsync<SecurityGroupView>(e.StreamId, cancellationToken) is { } group:
                    hub.SecurityGroups.Publish(group);
                    break;
                case VmEvent when MigrationViewProjection.Routes.DocumentIdOf(e.Data) is { } migrationId && seen.Add(migrationId)
                    && await operations.LoadAsync<MigrationView>(migrationId, cancellationToken) is { } migration:
                    hub.Migrations.Publish(new MigrationUpdate(migration, await operations.LoadAsync<MigrationProgress>(migrationId, cancellationToken)));
                    break;
            }
        }
    }
}
