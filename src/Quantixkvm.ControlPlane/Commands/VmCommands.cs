using Marten;
using Microsoft.Extensions.Options;
using Quantixkvm.ControlPlane.Configuration;
using Quantixkvm.ControlPlane.ReadModels;
using Quantixkvm.Domain;
using Quantixkvm.Domain.Placement;
using Quantixkvm.Domain.Storage;
using Quantixkvm.Domain.Vms;

namespace Quantixkvm.ControlPlane.Commands;

/// <summary>What a client asks for when creating a VM.</summary>
public sealed record CreateVmRequest(
    string Name, int Vcpus, int MemoryMiB, Guid? HostId, bool Start, IReadOnlyList<DiskRequest>? Disks = null, CloudInitConfig? CloudInit = null,
    Guid? ClusterId = null, IReadOnlyDictionary<string, string>? RequiredLabels = null, HaPriority? HaPriority = null,
    IReadOnlyList<NicRequest>? Nics = null);

/// <summary>No host can take the VM; carries placement's per-host reasons.</summary>
public sealed class NoHostAvailableException(PlacementResult placement)
    : Exception($"no host can take the VM: {placement.Explain()}")
{
    public PlacementResult Placement { get; } = placement;
}

/// <summary>The VM command edge: placement for new VMs, then the decider through the one command path.</summary>
public sealed class VmCommands(
    AggregateCommands commands, HostDirectory hosts, IQuerySession session, IDocumentStore store, NetworkCommands networks,
    IOptions<ControlPlaneOptions> options)
{
    public async Task<CommandResult> CreateAsync(CreateVmRequest request, CommandMetadata metadata, CancellationToken cancellationToken)
    {
        // The decider checks these too; checking first keeps bad input from taking the placement lock.
        var problems = VmLimits.Check(request.Name, request.Vcpus, request.MemoryMiB);
        if (problems.Count > 0)
        {
            throw new CommandRejectedException(new Rejection(RejectionCode.Validation, string.Join("; ", problems), Command: "create"));
        }

        var vmId = VmDecider.VmIdForCreate(metadata.CommandId);
        // A repeated create finds its VM already placed; placement runs only for a new one, under the
        // placement lock until the VM is appended, so the allocations it read still hold when it lands.
        var existing = await session.LoadAsync<VmView>(vmId, cancellationToken);
        await using var locks = new HeldLocks();
        Guid hostId;
        PlacementRecord? placement = null;
        var nics = new List<VmNic>();
        if (existing is null)
        {
            // Ports first: the networks allocate MACs and addresses (a refused VM leaves them to the port janitor).
            foreach (var (nic, index) in (request.Nics ?? []).Select((n, i) => (n, i)))
            {
                nics.Add(await networks.AllocatePortAsync(vmId, $"nic{index}", nic, metadata, "create", cancellationToken));
            }

            // Volumes first, in id order (no deadlock between two creates), then placement.
            foreach (var volumeId in (request.Disks ?? []).Select(d => d.VolumeId).Distinct().Order())
            {
                locks.Add(await AdvisoryLock.ForAsync(store, volumeId, cancellationToken));
            }

            var diskHost = await CheckVolumesAsync(vmId, request.Disks ?? [], request.HostId, "create", cancellationToken);
            locks.Add(await AdvisoryLock.PlacementAsync(store, cancellationToken));
            (hostId, placement) = await PlaceAsync(vmId, request with { HostId = request.HostId ?? diskHost }, cancellationToken);
        }
        else
        {
            hostId = existing.HostId;
        }

        var cloudInit = await WithNetworkConfigAsync(request.CloudInit, nics, cancellationToken);
        var created = await commands.HandleAsync<VmState, VmEvent>(
            vmId, VmState.Initial, VmDecider.Evolve,
            (state, context) => VmDecider.Decide(
                new CreateVm(context, options.Value.Timeouts, vmId, request.Name, request.Vcpus, request.MemoryMiB, hostId, request.Start,
                    request.Disks, cloudInit, placement, nics.Count > 0 ? nics : null),
                state),
            metadata, expectedVersion: null, cancellationToken);
        if (request.HaPriority is { } priority)
        {
            created = await HandleAsync(vmId, (ctx, _) => new SetHaPriority(ctx, priority), metadata with { CommandId = metadata.CommandId + ":ha" },
                expectedVersion: null, cancellationToken) with { OperationId = created.OperationId };
        }

        return created;
    }

    /// <summary>Attaches a volume: checked (ready, free, reachable from the VM's host) and reserved under the volume's lock.</summary>
    public async Task<CommandResult> AttachDiskAsync(
        Guid vmId, DiskRequest disk, CommandMetadata metadata, long? expectedVersion, CancellationToken cancellationToken)
    {
        await using var held = await AdvisoryLock.ForAsync(store, disk.VolumeId, cancellationToken);
        var vm = await session.LoadAsync<VmView>(vmId, cancellationToken);
        if (vm is { DeletedAt: null } && !vm.Disks.Any(d => d.Disk.VolumeId == disk.VolumeId))
        {
            await CheckVolumesAsync(vmId, [disk], vm.HostId, "attach-disk", cancellationToken);
        }

        return await HandleAsync(vmId, (ctx, t) => new AttachDisk(ctx, t, disk), metadata, expectedVersion, cancellationToken);
    }

    /// <summary>
    /// Every volume must exist, be ready and free (or already this VM's), and be reachable from the host:
    /// a dir pool's volumes only from its own host. Returns the host the dir pools pin the VM to, if any.
    /// </summary>
    private async Task<Guid?> CheckVolumesAsync(
        Guid vmId, IReadOnlyList<DiskRequest> disks, Guid? hostId, string command, CancellationToken cancellationToken)
    {
        Guid? pinned = hostId;
        foreach (var disk in disks)
        {
            var volume = await session.LoadAsync<VolumeView>(disk.VolumeId, cancellationToken);
            if (volume is null || volume.Status == StorageStatus.Deleted)
            {
                throw Rejected(RejectionCode.NotFound, $"volume {disk.VolumeId} does not exist", command);
            }

            if (volume.Status != StorageStatus.Ready || volume.CurrentOperationId is not null)
            {
                throw Rejected(RejectionCode.InvalidState, $"volume '{volume.Name}' is {StorageCommands.Describe(volume)}, not READY", command);
            }

            if (volume.AttachedToVmId is { } other && other != vmId)
            {
                throw Rejected(RejectionCode.Conflict, $"volume '{volume.Name}' is already attached to VM {other}", command);
            }

            var pool = await session.LoadAsync<StoragePoolView>(volume.PoolId, cancellationToken);
            if (pool?.Location is { Kind: PoolKind.Dir, HostId: { } poolHost })
            {
                if (pinned is { } host && host != poolHost)
                {
                    throw Rejected(RejectionCode.InvalidState,
                        $"volume '{volume.Name}' is in dir pool '{pool.Name}' on host {poolHost}, which host {host} cannot reach; use a shared (RBD) pool",
                        command);
                }

                pinned = poolHost;
            }
        }

        return pinned;
    }

    private static CommandRejectedException Rejected(RejectionCode code, string message, string command) =>
        new(new Rejection(code, message, Command: command));

    /// <summary>A lifecycle command from a client (start, stop, …), or a report from a host turned into a command.</summary>
    public Task<CommandResult> HandleAsync(
        Guid vmId, Func<CommandContext, OperationTimeouts, VmCommand> build, CommandMetadata metadata, long? expectedVersion,
        CancellationToken cancellationToken) =>
        commands.HandleAsync<VmState, VmEvent>(
            vmId, VmState.Initial, VmDecider.Evolve,
            (state, context) => VmDecider.Decide(build(context, options.Value.Timeouts), state),
            metadata, expectedVersion, cancellationToken);

    /// <summary>cloud-init without a network-config of its own gets one telling the guest its NICs' addresses.</summary>
    private async Task<CloudInitConfig?> WithNetworkConfigAsync(CloudInitConfig? cloudInit, IReadOnlyList<VmNic> nics, CancellationToken cancellationToken)
    {
        if (cloudInit is not { NetworkConfig: null } || nics.Count == 0)
        {
            return cloudInit;
        }

        var networks = await session.LoadManyAsync<NetworkView>(cancellationToken, nics.Select(n => n.NetworkId).Distinct());
        return cloudInit with { NetworkConfig = Networks.GuestNetworkConfig.For(nics, networks.ToDictionary(n => n.Id)) };
    }

    private async Task<(Guid HostId, PlacementRecord Record)> PlaceAsync(Guid vmId, CreateVmRequest request, CancellationToken cancellationToken)
    {
        if (request.HostId is { } requested && await hosts.FindAsync(requested, cancellationToken) is null)
        {
            throw new CommandRejectedException(new Rejection(RejectionCode.NotFound, $"host {requested} is not registered", Command: "create"));
        }

        if (request.ClusterId is { } clusterId && await session.LoadAsync<ClusterView>(clusterId, cancellationToken) is not { DeletedAt: null })
        {
            throw new CommandRejectedException(new Rejection(RejectionCode.NotFound, $"cluster {clusterId} does not exist", Command: "create"));
        }

        var inputs = await hosts.PlacementInputsAsync(cancellationToken);
        var (placement, record) = inputs.Place(
            new PlacementRequest(vmId, request.Vcpus, request.MemoryMiB, request.HostId, request.ClusterId, request.RequiredLabels), request.ClusterId);
        return record is not null ? (record.HostId, record) : throw new NoHostAvailableException(placement);
    }
}
