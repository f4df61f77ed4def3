using JasperFx.Events;
using JasperFx.Events.Daemon;
using JasperFx.Events.Projections;
using Marten;
using Marten.Subscriptions;
using Quantixkvm.ControlPlane.Agents;
using Quantixkvm.ControlPlane.ReadModels;
using Quantixkvm.Contracts;
using Quantixkvm.Domain.Storage;
using Quantixkvm.Domain.Vms;
using Quantixkvm.Hosting;

namespace Quantixkvm.ControlPlane.Dispatch;

/// <summary>
/// Sends each requested operation to its host's queue, from the event log and never from the HTTP
/// request. The daemon moves the checkpoint only after a batch is sent (with broker confirms), so a
/// crash means a resend, never a loss; agents de-duplicate by operation id. Requested operations this process committed
/// were usually sent right after their commit already (<see cref="EarlyDispatch"/>): those are skipped here.
/// </summary>
public sealed class AgentDispatcher(HostDispatch hosts, EarlyDispatch early, ILogger<AgentDispatcher> logger) : SubscriptionBase
{
    public override async Task<IChangeListener> ProcessEventsAsync(
        EventRange page, ISubscriptionController controller, IDocumentOperations operations, CancellationToken cancellationToken)
    {
        foreach (var e in page.Events)
        {
            if (e.Data is StorageOperationRequested storage)
            {
                await DispatchStorageAsync(e, storage, operations, cancellationToken);
                continue;
            }

            if (e.Data is VmMigrated or VmRelocated or VmMigrationCancelRequested)
            {
                await DispatchMoveAsync(e, operations, cancellationToken);
                continue;
            }

            if (e.Data is not VmOperationRequested requested)
            {
                continue;
            }

            if (!await early.SentEarlyAsync(requested.OperationId, cancellationToken))
            {
                await hosts.DispatchOperationAsync(e, requested, operations, retryUntilSent: true, cancellationToken);
            }
        }

        return NullChangeListener.Instance;
    }

    private async Task DispatchStorageAsync(IEvent e, StorageOperationRequested requested, IDocumentOperations operations, CancellationToken cancellationToken)
    {
        var operation = await operations.LoadAsync<StorageOperationView>(requested.OperationId, cancellationToken);
        if (operation is null || operation.IsFinished)
        {
            logger.LogInformation("Storage operation {OperationId} already {Status}; not dispatched", requested.OperationId, operation?.Status);
            return;
        }

        var volume = operation.IsOnPool ? null : await operations.LoadAsync<VolumeView>(requested.TargetId, cancellationToken);
        var pool = await operations.LoadAsync<StoragePoolView>(volume?.PoolId ?? requested.TargetId, cancellationToken);
        if (pool is null || (!operation.IsOnPool && volume is null))
        {
            logger.LogError("Storage operation {OperationId} names {TargetId}, which has no read model; not dispatched", requested.OperationId, requested.TargetId);
            return;
        }

        VolumeSpecification? spec = null;
        if (volume is not null)
        {
            var source = volume.Source.CloneOf is { } sourceId ? await operations.LoadAsync<VolumeView>(sourceId, cancellationToken) : null;
            spec = new VolumeSpecification(
                volume.Id, volume.Name, volume.Format.ToWire(), volume.SizeBytes, source?.Name, source?.Format.ToWire(), volume.Source.Linked,
                volume.Source.ImportUrl, volume.Source.Sha256);
        }

        var correlationId = Guid.TryParse(e.CorrelationId, out var parsed) ? parsed : requested.OperationId;
        using var scope = logger.BeginScope(new Dictionary<string, object> { [Logging.CorrelationId] = correlationId });
        var message = new RunStorageOperation(
            requested.OperationId, requested.CommandId, correlationId, requested.HostId, requested.TargetId, requested.Kind.ToWire(), pool.ToWire(),
            spec, requested.Name, requested.SizeBytes, requested.Deadline);
        await hosts.SendAsync(message.HostId, message.OperationId, correlationId, message, cancellationToken);
        logger.LogInformation("Dispatched {Kind} storage operation {OperationId} on {TargetId} to host {HostId}",
            requested.Kind, requested.OperationId, requested.TargetId, requested.HostId);
    }

    /// <summary>
    /// After a move the old host must not keep the VM's domain: a cold move or an HA restart releases it there (an HA
    /// restart's message waits in the fenced host's queue for its return). A cancel goes to the host running the migration.
    /// </summary>
    private async Task DispatchMoveAsync(IEvent e, IDocumentOperations operations, CancellationToken cancellationToken)
    {
        var correlationId = Guid.TryParse(e.CorrelationId, out var parsed) ? parsed : e.Id;
        switch (e.Data)
        {
            case VmMigrated migrated:
                await hosts.SendAsync(migrated.FromHostId, e.Id, correlationId,
                    new ReleaseDomains(migrated.FromHostId, [migrated.VmId], $"VM moved to host {migrated.ToHostId}", migrated.MigratedAt), cancellationToken);
                break;
            case VmRelocated { MigrationId: null } relocated:
                await hosts.SendAsync(relocated.FromHostId, e.Id, correlationId,
                    new ReleaseDomains(relocated.FromHostId, [relocated.VmId], relocated.Reason, relocated.RelocatedAt), cancellationToken);
                break;
            case VmMigrationCancelRequested cancel:
                var migration = await operations.LoadAsync<MigrationView>(cancel.MigrationId, cancellationToken);
                if (migration is { Status: MigrationStatus.Running })
                {
                    await hosts.SendAsync(migration.FromHostId, e.Id, correlationId,
                        new CancelDomainOperation(cancel.MigrationId, cancel.VmId, migration.FromHostId, correlationId, cancel.RequestedAt), cancellationToken);
                }

                break;
        }
    }


}
