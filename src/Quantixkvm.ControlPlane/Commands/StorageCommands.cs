using Marten;
using Microsoft.Extensions.Options;
using Quantixkvm.ControlPlane.Configuration;
using Quantixkvm.ControlPlane.ReadModels;
using Quantixkvm.Domain;
using Quantixkvm.Domain.Hosts;
using Quantixkvm.Domain.Storage;
using Quantixkvm.Domain.Templates;

namespace Quantixkvm.ControlPlane.Commands;

public sealed record CreatePoolRequest(string Name, PoolLocation Location);

/// <summary>A new volume; without a format, the pool's natural one (qcow2 in a dir pool, RAW in RBD; a clone's follows its kind).</summary>
public sealed record CreateVolumeRequest(Guid PoolId, string Name, VolumeFormat? Format, long SizeBytes, VolumeSource Source, bool IsImage = false);

/// <summary>
/// The storage command edge. Facts that span aggregates (a pool's volumes, a volume's attachment and
/// linked clones, a name's uniqueness in its pool) are read under an advisory lock on the pool or volume
/// and passed to the pure deciders, so two parallel commands cannot both pass the same check.
/// </summary>
public sealed class StorageCommands(
    AggregateCommands commands, IDocumentStore store, HostDirectory hosts, IOptions<ControlPlaneOptions> options)
{
    private StorageTimeouts Timeouts => options.Value.StorageTimeouts;

    public async Task<CommandResult> CreatePoolAsync(CreatePoolRequest request, CommandMetadata metadata, CancellationToken cancellationToken)
    {
        var poolId = PoolDecider.PoolIdForCreate(metadata.CommandId);
        var hostId = request.Location.Kind == PoolKind.Dir
            ? await RegisteredHostAsync(request.Location.HostId, "create-pool", cancellationToken)
            : await AnyOnlineHostAsync("create-pool", cancellationToken);
        return await Pool(poolId, (ctx) => new CreatePool(ctx, Timeouts, poolId, request.Name, request.Location, hostId), metadata, null, cancellationToken);
    }

    public async Task<CommandResult> RefreshPoolAsync(Guid poolId, CommandMetadata metadata, long? expectedVersion, CancellationToken cancellationToken)
    {
        var pool = await FindPoolAsync(poolId, "refresh-pool", cancellationToken);
        var hostId = await ExecutingHostAsync(pool, "refresh-pool", cancellationToken);
        return await Pool(poolId, ctx => new RefreshPool(ctx, Timeouts, hostId), metadata, expectedVersion, cancellationToken);
    }

    public async Task<CommandResult> DeletePoolAsync(Guid poolId, CommandMetadata metadata, long? expectedVersion, CancellationToken cancellationToken)
    {
        await using var held = await AdvisoryLock.ForAsync(store, poolId, cancellationToken);
        await using var session = store.QuerySession();
        var pool = await FindPoolAsync(poolId, "delete-pool", cancellationToken);
        var volumes = await session.Query<VolumeView>().CountAsync(v => v.PoolId == poolId && v.Status != StorageStatus.Deleted, cancellationToken);
        var hostId = await ExecutingHostAsync(pool, "delete-pool", cancellationToken);
        return await Pool(poolId, ctx => new DeletePool(ctx, Timeouts, hostId, volumes), metadata, expectedVersion, cancellationToken);
    }

    /// <summary>A new volume: blank, a copy or linked clone of a volume of the same pool, or an image import.</summary>
    public async Task<CommandResult> CreateVolumeAsync(CreateVolumeRequest request, CommandMetadata metadata, CancellationToken cancellationToken)
    {
        var volumeId = VolumeDecider.VolumeIdForCreate(metadata.CommandId);
        await using var session = store.QuerySession();
        if (await session.LoadAsync<VolumeView>(volumeId, cancellationToken) is { })
        {
            // A repeat: the decider answers it from the volume's own history.
            return await Volume(volumeId, ctx => Create(ctx, request, volumeId, Guid.Empty, null, PoolKind.Dir), metadata, null, cancellationToken);
        }

        await using var held = await AdvisoryLock.ForAsync(store, request.PoolId, cancellationToken);
        var pool = await FindPoolAsync(request.PoolId, "create-volume", cancellationToken);
        if (pool.Status != StorageStatus.Ready)
        {
            throw Rejected(RejectionCode.InvalidState, $"pool '{pool.Name}' is {pool.Status.ToString().ToUpperInvariant()}, not READY", "create-volume");
        }

        if (await session.Query<VolumeView>().AnyAsync(
                v => v.PoolId == request.PoolId && v.Name == request.Name && v.Status != StorageStatus.Deleted, cancellationToken))
        {
            throw Rejected(RejectionCode.Conflict, $"pool '{pool.Name}' already has a volume named '{request.Name}'", "create-volume");
        }

        var sized = request with { Format = request.Format ?? (pool.Location.Kind == PoolKind.Rbd ? VolumeFormat.Raw : VolumeFormat.Qcow2) };
        // The source's lock too, so a delete of it cannot slip between this check and the clone's append.
        await using var sourceLock = request.Source.CloneOf is { } locked ? await AdvisoryLock.ForAsync(store, locked, cancellationToken) : null;
        if (request.Source.CloneOf is { } sourceId)
        {
            var source = await session.LoadAsync<VolumeView>(sourceId, cancellationToken);
            if (source is null || source.Status == StorageStatus.Deleted || source.PoolId != request.PoolId)
            {
                throw Rejected(RejectionCode.NotFound, $"volume {sourceId} to clone from is not in pool '{pool.Name}'", "create-volume");
            }

            if (source.Status != StorageStatus.Ready || source.CurrentOperationId is not null)
            {
                throw Rejected(RejectionCode.InvalidState, $"volume '{source.Name}' to clone from is {Describe(source)}", "create-volume");
            }

            // A clone is at least as large as its source.
            sized = request with
            {
                SizeBytes = Math.Max(request.SizeBytes, source.SizeBytes),
                Format = request.Format ?? CloneFormat(pool, source, request.Source.Linked),
            };
        }

        var hostId = await ExecutingHostAsync(pool, "create-volume", cancellationToken);
        return await Volume(volumeId, ctx => Create(ctx, sized, volumeId, hostId, pool.AvailableBytes, pool.Location.Kind), metadata, null, cancellationToken);
    }

    public Task<CommandResult> ResizeVolumeAsync(Guid volumeId, long sizeBytes, CommandMetadata metadata, long? expectedVersion, CancellationToken cancellationToken) =>
        OnVolumeAsync(volumeId, "resize-volume", (ctx, host, facts) => new ResizeVolume(ctx, Timeouts, sizeBytes, host, facts.AttachedTo),
            metadata, expectedVersion, cancellationToken);

    public Task<CommandResult> DeleteVolumeAsync(Guid volumeId, CommandMetadata metadata, long? expectedVersion, CancellationToken cancellationToken) =>
        OnVolumeAsync(volumeId, "delete-volume", (ctx, host, facts) => new DeleteVolume(ctx, Timeouts, host, facts.AttachedTo, facts.LinkedClones),
            metadata, expectedVersion, cancellationToken);

    public Task<CommandResult> SnapshotVolumeAsync(Guid volumeId, string name, CommandMetadata metadata, long? expectedVersion, CancellationToken cancellationToken) =>
        OnVolumeAsync(volumeId, "snapshot-volume", (ctx, host, facts) => new SnapshotVolume(ctx, Timeouts, name, host, facts.AttachedTo),
            metadata, expectedVersion, cancellationToken);

    public Task<CommandResult> RevertVolumeAsync(Guid volumeId, string name, CommandMetadata metadata, long? expectedVersion, CancellationToken cancellationToken) =>
        OnVolumeAsync(volumeId, "revert-volume", (ctx, host, facts) => new RevertVolume(ctx, Timeouts, name, host, facts.AttachedTo),
            metadata, expectedVersion, cancellationToken);

    public Task<CommandResult> DeleteVolumeSnapshotAsync(
        Guid volumeId, string name, CommandMetadata metadata, long? expectedVersion, CancellationToken cancellationToken) =>
        OnVolumeAsync(volumeId, "delete-volume-snapshot", (ctx, host, facts) => new DeleteVolumeSnapshot(ctx, Timeouts, name, host, facts.AttachedTo),
            metadata, expectedVersion, cancellationToken);

    /// <summary>A pool's capacity from a host's inventory; recorded only when it changed.</summary>
    public Task<CommandResult> ObservePoolCapacityAsync(
        Guid poolId, Guid hostId, long capacity, long allocation, long available, CommandMetadata metadata, CancellationToken cancellationToken) =>
        Pool(poolId, ctx => new ObservePoolCapacity(ctx, hostId, capacity, allocation, available), metadata, null, cancellationToken);

    /// <summary>An agent's report (or the deadline watcher) on a storage operation, decided on the pool or volume it concerns.</summary>
    public Task<CommandResult> OutcomeAsync(StorageOperationView operation, Func<CommandContext, StorageCommand> build, CommandMetadata metadata,
        CancellationToken cancellationToken) =>
        operation.IsOnPool
            ? Pool(operation.TargetId, build, metadata, null, cancellationToken)
            : Volume(operation.TargetId, build, metadata, null, cancellationToken);

    public async Task<CommandResult> CreateTemplateAsync(TemplateSpec spec, CommandMetadata metadata, CancellationToken cancellationToken)
    {
        await using var session = store.QuerySession();
        var image = await session.LoadAsync<VolumeView>(spec.ImageVolumeId, cancellationToken);
        if (image is null || image.Status == StorageStatus.Deleted)
        {
            throw Rejected(RejectionCode.NotFound, $"image volume {spec.ImageVolumeId} does not exist", "create-template");
        }

        var templateId = TemplateDecider.TemplateIdForCreate(metadata.CommandId);
        return await commands.HandleAsync<TemplateState, TemplateEvent>(
            templateId, TemplateState.Initial, TemplateDecider.Evolve,
            (state, ctx) => TemplateDecider.Decide(new CreateTemplate(ctx, templateId, spec), state), metadata, null, cancellationToken);
    }

    public Task<CommandResult> DeleteTemplateAsync(Guid templateId, CommandMetadata metadata, CancellationToken cancellationToken) =>
        commands.HandleAsync<TemplateState, TemplateEvent>(
            templateId, TemplateState.Initial, TemplateDecider.Evolve,
            (state, ctx) => TemplateDecider.Decide(new DeleteTemplate(ctx), state), metadata, null, cancellationToken);

    private CreateVolume Create(CommandContext ctx, CreateVolumeRequest r, Guid volumeId, Guid hostId, long? available, PoolKind kind) =>
        new(ctx, Timeouts, volumeId, r.PoolId, r.Name, r.Format ?? VolumeFormat.Qcow2, r.SizeBytes, r.Source, r.IsImage || r.Source.ImportUrl is not null, hostId, available, kind);

    /// <summary>The format a clone gets: an overlay (qcow2) in a dir pool; RAW in an RBD pool, where Ceph does the cloning.</summary>
    public static VolumeFormat CloneFormat(StoragePoolView pool, VolumeView source, bool linked) =>
        pool.Location.Kind == PoolKind.Rbd ? VolumeFormat.Raw : linked ? VolumeFormat.Qcow2 : source.Format;

    private sealed record VolumeFacts(Guid? AttachedTo, int LinkedClones);

    private async Task<CommandResult> OnVolumeAsync(
        Guid volumeId, string command, Func<CommandContext, Guid, VolumeFacts, StorageCommand> build, CommandMetadata metadata, long? expectedVersion,
        CancellationToken cancellationToken)
    {
        await using var held = await AdvisoryLock.ForAsync(store, volumeId, cancellationToken);
        await using var session = store.QuerySession();
        var volume = await session.LoadAsync<VolumeView>(volumeId, cancellationToken)
            ?? throw Rejected(RejectionCode.NotFound, $"volume {volumeId} does not exist", command);
        var clones = await session.Query<VolumeView>().CountAsync(
            v => v.Source.CloneOf == volumeId && v.Source.Linked && v.Status != StorageStatus.Deleted, cancellationToken);
        var pool = await FindPoolAsync(volume.PoolId, command, cancellationToken);
        var hostId = await ExecutingHostAsync(pool, command, cancellationToken);
        var facts = new VolumeFacts(volume.AttachedToVmId, clones);
        return await Volume(volumeId, ctx => build(ctx, hostId, facts), metadata, expectedVersion, cancellationToken);
    }

    private Task<CommandResult> Pool(Guid poolId, Func<CommandContext, StorageCommand> build, CommandMetadata metadata, long? expectedVersion,
        CancellationToken cancellationToken) =>
        commands.HandleAsync<PoolState, StorageEvent>(
            poolId, PoolState.Initial, PoolDecider.Evolve, (state, ctx) => PoolDecider.Decide(build(ctx), state), metadata, expectedVersion, cancellationToken);

    private Task<CommandResult> Volume(Guid volumeId, Func<CommandContext, StorageCommand> build, CommandMetadata metadata, long? expectedVersion,
        CancellationToken cancellationToken) =>
        commands.HandleAsync<VolumeState, StorageEvent>(
            volumeId, VolumeState.Initial, VolumeDecider.Evolve, (state, ctx) => VolumeDecider.Decide(build(ctx), state), metadata, expectedVersion,
            cancellationToken);

    private async Task<StoragePoolView> FindPoolAsync(Guid poolId, string command, CancellationToken cancellationToken)
    {
        await using var session = store.QuerySession();
        var pool = await session.LoadAsync<StoragePoolView>(poolId, cancellationToken);
        return pool is null || pool.Status == StorageStatus.Deleted
            ? throw Rejected(RejectionCode.NotFound, $"storage pool {poolId} does not exist", command)
            : pool;
    }

    /// <summary>A dir pool is served by its own host; an RBD pool by any online host (every host sees the Ceph cluster).</summary>
    private async Task<Guid> ExecutingHostAsync(StoragePoolView pool, string command, CancellationToken cancellationToken) =>
        pool.Location.Kind == PoolKind.Dir
            ? await OnlineHostAsync(pool.Location.HostId!.Value, command, cancellationToken)
            : await AnyOnlineHostAsync(command, cancellationToken);

    private async Task<Guid> RegisteredHostAsync(Guid? hostId, string command, CancellationToken cancellationToken)
    {
        if (hostId is not { } id || id == Guid.Empty)
        {
            throw Rejected(RejectionCode.Validation, "a dir pool must name the host it lives on (hostId)", command);
        }

        return await OnlineHostAsync(id, command, cancellationToken);
    }

    /// <summary>
    /// The host, if its agent is alive: work for a host that stopped sending heartbeats would only wait in its queue
    /// until its deadline, so it is refused at once with the reason.
    /// </summary>
    private async Task<Guid> OnlineHostAsync(Guid hostId, string command, CancellationToken cancellationToken)
    {
        var host = await hosts.FindAsync(hostId, cancellationToken)
            ?? throw Rejected(RejectionCode.NotFound, $"host {hostId} is not registered", command);
        return host.Status == HostStatus.Online
            ? hostId
            : throw Rejected(RejectionCode.NoHostAvailable,
                $"host '{host.Host.Name}' is {host.Status.ToString().ToUpperInvariant()} (last heartbeat {host.LastHeartbeatAt?.ToString("O") ?? "never"}); "
                + "its agent must be running for this storage operation", command);
    }

    private async Task<Guid> AnyOnlineHostAsync(string command, CancellationToken cancellationToken)
    {
        var all = await hosts.AllAsync(cancellationToken);
        return all.FirstOrDefault(h => h.Status == HostStatus.Online)?.Host.Id
            ?? throw Rejected(RejectionCode.NoHostAvailable, "no host is online to carry out the storage operation", command);
    }

    /// <summary>A volume's state for a refusal: its status, or the operation under way on it.</summary>
    internal static string Describe(VolumeView volume) =>
        volume.Status.ToString().ToUpperInvariant() + (volume.CurrentOperationId is { } op ? $" with operation {op} under way" : "");

    private static CommandRejectedException Rejected(RejectionCode code, string message, string command) =>
        new(new Rejection(code, message, Command: command));
}
