using JasperFx.Events;
using JasperFx.Events.Daemon;
using JasperFx.Events.Projections;
using Marten;
using Marten.Subscriptions;
using MassTransit;
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
/// crash means a resend, never a loss; agents de-duplicate by operation id.
/// </summary>
public sealed class AgentDispatcher(IBus bus, ILogger<AgentDispatcher> logger) : SubscriptionBase
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

            // An operation that ended while dispatch was held (timed out, superseded) is not sent late.
            var operation = await operations.LoadAsync<OperationView>(requested.OperationId, cancellationToken);
            if (operation is null || operation.IsFinished)
            {
                logger.LogInformation("Operation {OperationId} already {Status}; not dispatched", requested.OperationId, operation?.Status);
                continue;
            }

            var vm = await operations.LoadAsync<VmView>(requested.VmId, cancellationToken);
            if (vm is null)
            {
                logger.LogError("Operation {OperationId} names VM {VmId}, which has no read model; not dispatched", requested.OperationId, requested.VmId);
                continue;
            }

            var correlationId = Guid.TryParse(e.CorrelationId, out var parsed) ? parsed : requested.OperationId;
            using var scope = logger.BeginScope(new Dictionary<string, object> { [Logging.CorrelationId] = correlationId });
            var disks = new List<DiskAttachment>();
            foreach (var disk in vm.Disks)
            {
                if (await DiskAsync(disk.Disk, operations, cancellationToken) is { } wire)
                {
                    disks.Add(wire);
                }
            }

            var (pendingDisk, snapshot) = requested.Kind is OperationKind.AttachDisk or OperationKind.DetachDisk
                or OperationKind.CreateSnapshot or OperationKind.RevertSnapshot or OperationKind.DeleteSnapshot
                ? await DetailsAsync(e, requested.OperationId, operations, cancellationToken)
                : (null, null);
            var migration = requested.Kind == OperationKind.Migrate ? await MigrationTargetAsync(e, requested.OperationId, operations, cancellationToken) : null;
            var wireDisk = pendingDisk is null ? null : await DiskAsync(pendingDisk, operations, cancellationToken);
            var message = new RunDomainOperation(
                requested.OperationId, requested.CommandId, correlationId, requested.HostId,
                requested.Kind.ToWire(), requested.Force,
                new DomainSpecification(vm.Id, vm.Name, vm.Vcpus, vm.MemoryMiB),
                requested.DesiredPowerState.ToWire(), requested.Deadline,
                Disks: disks,
                Disk: wireDisk,
                Snapshot: snapshot,
                CloudInit: vm.CloudInit is { } ci ? new CloudInitSeed(ci.UserData, ci.MetaData, ci.NetworkConfig) : null,
                Migration: migration);
            await SendAsync(message.HostId, message.OperationId, message.CorrelationId, message, cancellationToken);
            logger.LogInformation("Dispatched {Kind} operation {OperationId} for VM {VmId} to host {HostId}",
                requested.Kind, requested.OperationId, requested.VmId, requested.HostId);
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
        await SendAsync(message.HostId, message.OperationId, correlationId, message, cancellationToken);
        logger.LogInformation("Dispatched {Kind} storage operation {OperationId} on {TargetId} to host {HostId}",
            requested.Kind, requested.OperationId, requested.TargetId, requested.HostId);
    }

    private static async Task<DiskAttachment?> DiskAsync(VmDisk disk, IDocumentOperations operations, CancellationToken cancellationToken)
    {
        var volume = await operations.LoadAsync<VolumeView>(disk.VolumeId, cancellationToken);
        var pool = volume is null ? null : await operations.LoadAsync<StoragePoolView>(volume.PoolId, cancellationToken);
        return volume is null || pool is null
            ? null
            : new DiskAttachment(disk.VolumeId, disk.TargetDev, disk.Bus.ToWire(), disk.BootOrder, disk.ReadOnly, pool.ToWire(), volume.Name,
                volume.Format.ToWire());
    }

    /// <summary>
    /// The disk or snapshot an operation concerns, from the VM's own stream as of the request (the read
    /// model may have moved on by the time dispatch runs).
    /// </summary>
    private static async Task<(VmDisk? Disk, SnapshotSpecification? Snapshot)> DetailsAsync(
        IEvent e, Guid operationId, IDocumentOperations operations, CancellationToken cancellationToken)
    {
        var history = (await operations.Events.FetchStreamAsync(e.StreamId, version: e.Version + 4, token: cancellationToken))
            .Select(x => x.Data).ToList();
        foreach (var data in history)
        {
            switch (data)
            {
                case VmDiskAttachRequested a when a.OperationId == operationId:
                    return (a.Disk, null);
                case VmDiskDetachRequested d when d.OperationId == operationId:
                    return (history.OfType<VmDiskAttached>().LastOrDefault(x => x.Disk.VolumeId == d.VolumeId)?.Disk, null);
                case VmSnapshotRequested r when r.OperationId == operationId:
                    return (null, new SnapshotSpecification(r.Name, r.Description, r.WithMemory));
            }
        }

        return (null, null);
    }

    /// <summary>Where a live migration goes: the target host's libvirt as other hosts reach it, from the request in the VM's stream.</summary>
    private static async Task<MigrationTarget?> MigrationTargetAsync(IEvent e, Guid operationId, IDocumentOperations operations, CancellationToken cancellationToken)
    {
        var history = await operations.Events.FetchStreamAsync(e.StreamId, version: e.Version + 2, token: cancellationToken);
        var request = history.Select(x => x.Data).OfType<VmMigrationRequested>().LastOrDefault(r => r.MigrationId == operationId);
        var target = request is null ? null : await operations.LoadAsync<HostView>(request.ToHostId, cancellationToken);
        return target is null ? null : new MigrationTarget(target.Id, target.PeerLibvirtUri ?? target.LibvirtUri, target.MigrateAddress, BandwidthMiBs: request!.BandwidthMiBs);
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
                await SendAsync(migrated.FromHostId, e.Id, correlationId,
                    new ReleaseDomains(migrated.FromHostId, [migrated.VmId], $"VM moved to host {migrated.ToHostId}", migrated.MigratedAt), cancellationToken);
                break;
            case VmRelocated { MigrationId: null } relocated:
                await SendAsync(relocated.FromHostId, e.Id, correlationId,
                    new ReleaseDomains(relocated.FromHostId, [relocated.VmId], relocated.Reason, relocated.RelocatedAt), cancellationToken);
                break;
            case VmMigrationCancelRequested cancel:
                var migration = await operations.LoadAsync<MigrationView>(cancel.MigrationId, cancellationToken);
                if (migration is { Status: MigrationStatus.Running })
                {
                    await SendAsync(migration.FromHostId, e.Id, correlationId,
                        new CancelDomainOperation(cancel.MigrationId, cancel.VmId, migration.FromHostId, correlationId, cancel.RequestedAt), cancellationToken);
                }

                break;
        }
    }

    /// <summary>
    /// Retries until the broker takes the message: dispatch must neither skip a command nor let the
    /// daemon give up on the subscription because RabbitMQ blinked.
    /// </summary>
    private async Task SendAsync<T>(Guid hostId, Guid operationId, Guid correlationId, T message, CancellationToken cancellationToken)
        where T : class
    {
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                var endpoint = await bus.GetSendEndpoint(new Uri($"queue:{AgentQueues.ForHost(hostId)}"));
                await endpoint.Send(message, context =>
                {
                    context.CorrelationId = correlationId;
                    context.MessageId = operationId;
                }, cancellationToken);
                return;
            }
            catch (Exception ex) when (!cancellationToken.IsCancellationRequested)
            {
                var delay = TimeSpan.FromMilliseconds(Math.Min(30_000, 250 * Math.Pow(2, Math.Min(attempt, 10))));
                // Dispatch waits here, in order, until the broker is back; past a few tries that is an operator's problem.
                logger.Log(attempt < 5 ? LogLevel.Warning : LogLevel.Error, ex,
                    "Sending operation {OperationId} to host {HostId} failed (attempt {Attempt}); dispatch is held, retrying in {Delay}",
                    operationId, hostId, attempt, delay);
                await Task.Delay(delay, cancellationToken);
            }
        }
    }
}
