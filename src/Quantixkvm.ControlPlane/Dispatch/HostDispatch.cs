using JasperFx.Events;
using Marten;
using MassTransit;
using Quantixkvm.ControlPlane.Agents;
using Quantixkvm.ControlPlane.ReadModels;
using Quantixkvm.Contracts;
using Quantixkvm.Domain.Vms;
using Quantixkvm.Hosting;

namespace Quantixkvm.ControlPlane.Dispatch;

/// <summary>
/// What goes to a host's queue and how: a requested VM operation with everything the host needs to carry it out (its
/// disks, the disk or snapshot it concerns, a migration's target), sent with the operation id as the message id.
/// Used by the dispatcher that follows the log and by the early send right after a commit.
/// </summary>
public sealed class HostDispatch(IBus bus, ILogger<HostDispatch> logger)
{
    /// <summary>
    /// Sends one requested operation to its host with everything the host needs, unless it ended meanwhile; whether it
    /// was sent. From the log (retrying until the broker takes it) or early, right after its commit (one attempt).
    /// </summary>
    public async Task<bool> DispatchOperationAsync(
        IEvent e, VmOperationRequested requested, IQuerySession operations, bool retryUntilSent, CancellationToken cancellationToken)
    {
        // An operation that ended while dispatch was held (timed out, superseded) is not sent late.
        var operation = await operations.LoadAsync<OperationView>(requested.OperationId, cancellationToken);
        if (operation is null || operation.IsFinished)
        {
            logger.LogInformation("Operation {OperationId} already {Status}; not dispatched", requested.OperationId, operation?.Status);
            return false;
        }

        var vm = await operations.LoadAsync<VmView>(requested.VmId, cancellationToken);
        if (vm is null)
        {
            logger.LogError("Operation {OperationId} names VM {VmId}, which has no read model; not dispatched", requested.OperationId, requested.VmId);
            return false;
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

        var nics = new List<NicAttachment>();
        foreach (var nic in vm.Nics.Where(n => n.State != AttachmentState.Attaching))
        {
            if (await NicAsync(nic.Nic, operations, cancellationToken) is { } wire)
            {
                nics.Add(wire);
            }
        }

        var (pendingDisk, pendingNic, snapshot) = requested.Kind is OperationKind.AttachDisk or OperationKind.DetachDisk
            or OperationKind.AttachNic or OperationKind.DetachNic
            or OperationKind.CreateSnapshot or OperationKind.RevertSnapshot or OperationKind.DeleteSnapshot
            ? await DetailsAsync(e, requested.OperationId, operations, cancellationToken)
            : (null, null, null);
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
            Migration: migration,
            Nics: nics,
            Nic: pendingNic is null ? null : await NicAsync(pendingNic, operations, cancellationToken),
            Sequence: requested.Sequence);
        if (retryUntilSent)
        {
            await SendAsync(message.HostId, message.OperationId, message.CorrelationId, message, cancellationToken);
        }
        else
        {
            await SendOnceAsync(message.HostId, message.OperationId, message.CorrelationId, message, cancellationToken);
        }

        logger.LogInformation("Dispatched {Kind} operation {OperationId} for VM {VmId} to host {HostId}{Early}",
            requested.Kind, requested.OperationId, requested.VmId, requested.HostId, retryUntilSent ? "" : " (right after its commit)");
        return true;
    }

    private static async Task<DiskAttachment?> DiskAsync(VmDisk disk, IQuerySession operations, CancellationToken cancellationToken)
    {
        var volume = await operations.LoadAsync<VolumeView>(disk.VolumeId, cancellationToken);
        var pool = volume is null ? null : await operations.LoadAsync<StoragePoolView>(volume.PoolId, cancellationToken);
        return volume is null || pool is null
            ? null
            : new DiskAttachment(disk.VolumeId, disk.TargetDev, disk.Bus.ToWire(), disk.BootOrder, disk.ReadOnly, pool.ToWire(), volume.Name,
                volume.Format.ToWire());
    }

    private static async Task<NicAttachment?> NicAsync(VmNic nic, IQuerySession operations, CancellationToken cancellationToken) =>
        await operations.LoadAsync<NetworkView>(nic.NetworkId, cancellationToken) is { } network ? nic.ToWire(network) : null;

    /// <summary>
    /// The disk, NIC or snapshot an operation concerns, from the VM's own stream as of the request (the read
    /// model may have moved on by the time dispatch runs).
    /// </summary>
    private static async Task<(VmDisk? Disk, VmNic? Nic, SnapshotSpecification? Snapshot)> DetailsAsync(
        IEvent e, Guid operationId, IQuerySession operations, CancellationToken cancellationToken)
    {
        var history = (await operations.Events.FetchStreamAsync(e.StreamId, version: e.Version + 4, token: cancellationToken))
            .Select(x => x.Data).ToList();
        foreach (var data in history)
        {
            switch (data)
            {
                case VmDiskAttachRequested a when a.OperationId == operationId:
                    return (a.Disk, null, null);
                case VmDiskDetachRequested d when d.OperationId == operationId:
                    return (history.OfType<VmDiskAttached>().LastOrDefault(x => x.Disk.VolumeId == d.VolumeId)?.Disk, null, null);
                case VmNicAttachRequested a when a.OperationId == operationId:
                    return (null, a.Nic, null);
                case VmNicDetachRequested d when d.OperationId == operationId:
                    return (null, history.OfType<VmNicAttached>().LastOrDefault(x => x.Nic.PortId == d.PortId)?.Nic, null);
                case VmSnapshotRequested r when r.OperationId == operationId:
                    return (null, null, new SnapshotSpecification(r.Name, r.Description, r.WithMemory));
            }
        }

        return (null, null, null);
    }

    /// <summary>Where a live migration goes: the target host's libvirt as other hosts reach it, from the request in the VM's stream.</summary>
    private static async Task<MigrationTarget?> MigrationTargetAsync(IEvent e, Guid operationId, IQuerySession operations, CancellationToken cancellationToken)
    {
        var history = await operations.Events.FetchStreamAsync(e.StreamId, version: e.Version + 2, token: cancellationToken);
        var request = history.Select(x => x.Data).OfType<VmMigrationRequested>().LastOrDefault(r => r.MigrationId == operationId);
        var target = request is null ? null : await operations.LoadAsync<HostView>(request.ToHostId, cancellationToken);
        return target is null ? null : new MigrationTarget(target.Id, target.PeerLibvirtUri ?? target.LibvirtUri, target.MigrateAddress, BandwidthMiBs: request!.BandwidthMiBs);
    }

    /// <summary>
    /// Retries until the broker takes the message: dispatch must neither skip a command nor let the
    /// daemon give up on the subscription because RabbitMQ blinked.
    /// </summary>
    public async Task SendAsync<T>(Guid hostId, Guid operationId, Guid correlationId, T message, CancellationToken cancellationToken)
        where T : class
    {
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                await SendOnceAsync(hostId, operationId, correlationId, message, cancellationToken);
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

    private async Task SendOnceAsync<T>(Guid hostId, Guid operationId, Guid correlationId, T message, CancellationToken cancellationToken)
        where T : class
    {
        var endpoint = await bus.GetSendEndpoint(new Uri($"queue:{AgentQueues.ForHost(hostId)}"));
        await endpoint.Send(message, context =>
        {
            context.CorrelationId = correlationId;
            context.MessageId = operationId;
        }, cancellationToken);
    }
}
