using Marten;
using Microsoft.Extensions.Options;
using Quantixkvm.ControlPlane.Commands;
using Quantixkvm.ControlPlane.Configuration;
using Quantixkvm.ControlPlane.ReadModels;
using Quantixkvm.Domain;
using Quantixkvm.Domain.Placement;
using Quantixkvm.Domain.Storage;
using Quantixkvm.Domain.Vms;

namespace Quantixkvm.ControlPlane.Fleet;

/// <summary>
/// A move asked of the fleet: by an operator (target optional: placement picks one), by maintenance or by DRS.
/// <c>Mode</c> null: live when the VM runs, cold when it is stopped.
/// </summary>
public sealed record MoveRequest(Guid VmId, Guid? TargetHostId, MigrationMode? Mode, bool RestartOnTarget, string Reason, long? BandwidthMiBs = null);

/// <summary>
/// The migration precheck and command edge: the target passes placement (capacity with overcommit, state, affinity, CPU
/// features), both hosts can do the kind of move asked for, and every disk is on storage the target sees. Then the VM
/// decider records the move, and dispatch carries it out.
/// </summary>
public sealed class VmMoves(VmCommands vms, HostDirectory hosts, IQuerySession session, IDocumentStore store, IOptions<ControlPlaneOptions> options)
{
    public async Task<CommandResult> MigrateAsync(MoveRequest request, CommandMetadata metadata, long? expectedVersion, CancellationToken cancellationToken)
    {
        var vm = await session.LoadAsync<VmView>(request.VmId, cancellationToken);
        if (vm is null || vm.DeletedAt is not null)
        {
            throw Rejected(RejectionCode.NotFound, $"VM {request.VmId} does not exist");
        }

        // A repeated command finds its migration already recorded: no second precheck against a changed fleet.
        var migrationId = VmDecider.OperationIdFor(vm.Id, metadata.CommandId);
        if (await session.LoadAsync<MigrationView>(migrationId, cancellationToken) is not null)
        {
            return await Decide(vm, request, request.TargetHostId ?? Guid.Empty, request.Mode ?? MigrationMode.Live, metadata, expectedVersion, cancellationToken);
        }

        var running = vm.PowerState is PowerState.Running or PowerState.Paused;
        var mode = request.Mode ?? (running ? MigrationMode.Live : MigrationMode.Cold);
        await using var held = await AdvisoryLock.PlacementAsync(store, cancellationToken);
        var inputs = await hosts.PlacementInputsAsync(cancellationToken);
        var (target, placement) = await PlanAsync(vm, request.TargetHostId, mode, inputs, cancellationToken);
        return await Decide(vm, request, target, mode, metadata, expectedVersion, cancellationToken, placement);
    }

    /// <summary>
    /// Where the VM may go, or a rejection naming every reason: placement's per-host verdicts (its own host excluded),
    /// live-migration support of both hosts, and storage the target can reach.
    /// </summary>
    public async Task<(Guid HostId, PlacementRecord Record)> PlanAsync(
        VmView vm, Guid? targetHostId, MigrationMode mode, PlacementInputs inputs, CancellationToken cancellationToken)
    {
        await CheckStorageAsync(vm, cancellationToken);
        var source = inputs.Hosts.FirstOrDefault(h => h.HostId == vm.HostId);
        var sourceView = await session.LoadAsync<HostView>(vm.HostId, cancellationToken);
        if (targetHostId is { } wanted && inputs.Hosts.All(h => h.HostId != wanted))
        {
            throw Rejected(RejectionCode.NotFound, $"host {wanted} is not registered");
        }

        if (mode == MigrationMode.Live && sourceView is { LiveMigration: false })
        {
            throw Rejected(RejectionCode.InvalidState,
                $"VM '{vm.Name}' is on host '{sourceView.Name}', whose hypervisor cannot live-migrate ({sourceView.LibvirtUri}); "
                + "use mode COLD (with restartOnTarget for a running VM)");
        }

        var clusterId = targetHostId is null ? source?.ClusterId : null;
        var liveCapable = mode == MigrationMode.Live ? inputs.LiveMigration : null;
        var candidates = liveCapable is null
            ? inputs.Hosts
            : inputs.Hosts.Where(h => liveCapable.Contains(h.HostId) || h.HostId == vm.HostId).ToList();
        var (placement, record) = inputs.Place(
            new PlacementRequest(
                vm.Id, vm.Vcpus, vm.MemoryMiB, targetHostId, clusterId,
                ExcludedHosts: new HashSet<Guid> { vm.HostId }, ExclusionReason: "the VM is already on this host"),
            source?.ClusterId, candidates);
        if (record is not null)
        {
            return (record.HostId, record);
        }

        // Hosts left out for want of live migration are named too, so the explanation covers every host.
        var notLive = inputs.Hosts.Where(h => liveCapable is not null && !liveCapable.Contains(h.HostId) && h.HostId != vm.HostId)
            .Select(h => new HostRejection(h.HostId, h.Name, "live-migration", "its hypervisor cannot receive a live migration (libvirt test driver)"));
        throw new NoHostAvailableException(placement with { Rejections = [.. placement.Rejections, .. notLive] });
    }

    private Task<CommandResult> Decide(
        VmView vm, MoveRequest request, Guid target, MigrationMode mode, CommandMetadata metadata, long? expectedVersion, CancellationToken cancellationToken,
        PlacementRecord? placement = null) =>
        vms.HandleAsync(
            vm.Id, (ctx, timeouts) => new MigrateVm(ctx, timeouts, target, mode, request.RestartOnTarget, request.Reason, placement, request.BandwidthMiBs),
            metadata, expectedVersion, cancellationToken);

    /// <summary>A dir pool lives on one host: its volumes cannot follow the VM. RBD (and any pool without a host) can.</summary>
    private async Task CheckStorageAsync(VmView vm, CancellationToken cancellationToken)
    {
        foreach (var disk in vm.Disks)
        {
            var volume = await session.LoadAsync<VolumeView>(disk.Disk.VolumeId, cancellationToken);
            var pool = volume is null ? null : await session.LoadAsync<StoragePoolView>(volume.PoolId, cancellationToken);
            if (pool?.Location is { Kind: PoolKind.Dir, HostId: not null })
            {
                throw Rejected(RejectionCode.InvalidState,
                    $"VM '{vm.Name}' has volume '{volume!.Name}' in dir pool '{pool.Name}', which only host {pool.Location.HostId} sees; "
                    + "a VM moves only with its disks on shared storage (an RBD pool)");
            }
        }
    }

    private static CommandRejectedException Rejected(RejectionCode code, string message) => new(new Rejection(code, message, Command: "migrate"));

    /// <summary>The deadline policy moves get (for callers outside a VM command).</summary>
    public OperationTimeouts Timeouts => options.Value.Timeouts;
}
