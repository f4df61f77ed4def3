using GraphQL;
using GraphQL.Types;
using Marten;
using Quantixkvm.ControlPlane.Commands;
using Quantixkvm.ControlPlane.Dispatch;
using Quantixkvm.ControlPlane.ReadModels;
using Quantixkvm.Domain.Storage;
using Quantixkvm.Domain.Templates;

namespace Quantixkvm.ControlPlane.Api.GraphQL;

/// <summary>The storage part of the schema: pools, volumes, images, templates, and their commands and changes.</summary>
internal static class StorageFields
{
    public static void AddQueries(ObjectGraphType query)
    {
        query.Field<NonNullGraphType<ListGraphType<NonNullGraphType<StoragePoolType>>>>("storagePools")
            .ResolveAsync(async c => await Session(c).Query<StoragePoolView>().Where(p => p.Status != StorageStatus.Deleted).OrderBy(p => p.Name)
                .ToListAsync(c.CancellationToken));
        query.Field<StoragePoolType>("storagePool")
            .Argument<NonNullGraphType<IdGraphType>>("id")
            .ResolveAsync(async c => await Session(c).LoadAsync<StoragePoolView>(Id(c), c.CancellationToken) is { Status: not StorageStatus.Deleted } p ? p : null);
        query.Field<NonNullGraphType<ListGraphType<NonNullGraphType<VolumeType>>>>("volumes")
            .Description("Every volume that is not deleted, or those of one pool.")
            .Argument<IdGraphType>("poolId")
            .ResolveAsync(async c =>
            {
                var poolId = c.GetArgument<string?>("poolId") is { } raw ? RequestContext.ParseId(raw, "poolId") : (Guid?)null;
                var volumes = Session(c).Query<VolumeView>().Where(v => v.Status != StorageStatus.Deleted);
                if (poolId is { } id)
                {
                    volumes = volumes.Where(v => v.PoolId == id);
                }

                return await volumes.OrderBy(v => v.Name).ToListAsync(c.CancellationToken);
            });
        query.Field<VolumeType>("volume")
            .Argument<NonNullGraphType<IdGraphType>>("id")
            .ResolveAsync(async c => await Session(c).LoadAsync<VolumeView>(Id(c), c.CancellationToken) is { Status: not StorageStatus.Deleted } v ? v : null);
        query.Field<NonNullGraphType<ListGraphType<NonNullGraphType<VolumeType>>>>("images")
            .Description("Imported images: the volumes templates and clones start from.")
            .ResolveAsync(async c => await Session(c).Query<VolumeView>().Where(v => v.IsImage && v.Status != StorageStatus.Deleted).OrderBy(v => v.Name)
                .ToListAsync(c.CancellationToken));
        query.Field<NonNullGraphType<ListGraphType<NonNullGraphType<TemplateType>>>>("templates")
            .ResolveAsync(async c => await Session(c).Query<TemplateView>().Where(t => t.DeletedAt == null).ToListAsync(c.CancellationToken));
        query.Field<TemplateType>("template")
            .Argument<NonNullGraphType<IdGraphType>>("id")
            .ResolveAsync(async c => await Session(c).LoadAsync<TemplateView>(Id(c), c.CancellationToken) is { DeletedAt: null } t ? t : null);
        query.Field<StorageOperationType>("storageOperation")
            .Argument<NonNullGraphType<IdGraphType>>("id")
            .ResolveAsync(async c => await Session(c).LoadAsync<StorageOperationView>(Id(c), c.CancellationToken));
    }

    public static void AddMutations(ObjectGraphType mutation)
    {
        mutation.Field<NonNullGraphType<StorageOperationPayloadType>>("createStoragePool")
            .Description("Defines a pool: DIR (a folder on one host) or RBD (a Ceph pool every host sees).")
            .Argument<NonNullGraphType<CreateStoragePoolInputType>>("input")
            .ResolveAsync(async c =>
            {
                var input = c.GetArgument<CreateStoragePoolInput>("input");
                return await Run(c, () => Storage(c).CreatePoolAsync(
                    new CreatePoolRequest(input.Name, new PoolLocation(input.Kind, input.HostId, input.Path, input.CephPool, input.CephMonitors, input.CephUser)),
                    RequestContext.Metadata(c, input.CommandId), c.CancellationToken));
            });
        OnTarget(mutation, "refreshStoragePool", "Asks the pool's host for its capacity again.", (s, id, _, m, v, ct) => s.RefreshPoolAsync(id, m, v, ct));
        OnTarget(mutation, "deleteStoragePool", "Deletes an empty pool (refused while it holds volumes).", (s, id, _, m, v, ct) => s.DeletePoolAsync(id, m, v, ct));
        mutation.Field<NonNullGraphType<StorageOperationPayloadType>>("createVolume")
            .Description("A blank volume (QCOW2 by default in a DIR pool, RAW in an RBD pool).")
            .Argument<NonNullGraphType<CreateVolumeInputType>>("input")
            .ResolveAsync(async c =>
            {
                var input = c.GetArgument<CreateVolumeInput>("input");
                return await Run(c, () => Storage(c).CreateVolumeAsync(
                    new CreateVolumeRequest(input.PoolId, input.Name, input.Format, input.SizeBytes, VolumeSource.Blank),
                    RequestContext.Metadata(c, input.CommandId), c.CancellationToken));
            });
        mutation.Field<NonNullGraphType<StorageOperationPayloadType>>("cloneVolume")
            .Description("A copy of a volume in its pool, or with linked: true a qcow2 overlay on it (near-instant; the source then cannot be deleted).")
            .Argument<NonNullGraphType<IdGraphType>>("sourceId")
            .Argument<NonNullGraphType<StringGraphType>>("name")
            .Argument<BooleanGraphType>("linked")
            .Argument<IdGraphType>("commandId")
            .ResolveAsync(async c =>
            {
                var sourceId = RequestContext.ParseId(c.GetArgument<string>("sourceId"), "sourceId");
                var source = await Session(c).LoadAsync<VolumeView>(sourceId, c.CancellationToken)
                    ?? throw ApiError.NotFound($"volume {sourceId} does not exist");
                var linked = c.GetArgument<bool?>("linked") == true;
                return await Run(c, () => Storage(c).CreateVolumeAsync(
                    new CreateVolumeRequest(source.PoolId, c.GetArgument<string>("name"), null, source.SizeBytes,
                        new VolumeSource(CloneOf: sourceId, Linked: linked)),
                    RequestContext.Metadata(c, c.GetArgument<string?>("commandId")), c.CancellationToken));
            });
        mutation.Field<NonNullGraphType<StorageOperationPayloadType>>("importImage")
            .Description("Imports an image into a pool from an http(s) URL, a file URL or an absolute path on the host (under its import folders); "
                + "the host verifies its SHA-256 and keeps nothing if it differs.")
            .Argument<NonNullGraphType<ImportImageInputType>>("input")
            .ResolveAsync(async c =>
            {
                var input = c.GetArgument<ImportImageInput>("input");
                return await Run(c, () => Storage(c).CreateVolumeAsync(
                    new CreateVolumeRequest(input.PoolId, input.Name, input.Format ?? VolumeFormat.Raw, 0,
                        new VolumeSource(ImportUrl: AsUrl(input.Url), Sha256: input.Sha256?.ToLowerInvariant()), IsImage: true),
                    RequestContext.Metadata(c, input.CommandId), c.CancellationToken));
            });
        OnTarget(mutation, "resizeVolume", "Grows a volume (shrinking is refused).", (s, id, c, m, v, ct) => s.ResizeVolumeAsync(id, Size(c), m, v, ct), sized: true);
        OnTarget(mutation, "deleteVolume", "Deletes a volume (refused while attached or while linked clones use it).", (s, id, _, m, v, ct) => s.DeleteVolumeAsync(id, m, v, ct));
        OnTarget(mutation, "snapshotVolume", "Snapshots a detached qcow2 volume.", (s, id, c, m, v, ct) => s.SnapshotVolumeAsync(id, Name(c), m, v, ct), named: true);
        OnTarget(mutation, "revertVolume", "Reverts a detached volume to one of its snapshots.", (s, id, c, m, v, ct) => s.RevertVolumeAsync(id, Name(c), m, v, ct), named: true);
        OnTarget(mutation, "deleteVolumeSnapshot", "Deletes a snapshot of a detached volume.",
            (s, id, c, m, v, ct) => s.DeleteVolumeSnapshotAsync(id, Name(c), m, v, ct), named: true);

        mutation.Field<NonNullGraphType<TemplateType>>("createTemplate")
            .Argument<NonNullGraphType<CreateTemplateInputType>>("input")
            .ResolveAsync(async c =>
            {
                var input = c.GetArgument<CreateTemplateInput>("input");
                var spec = new TemplateSpec(input.Name, input.Description ?? "", input.Vcpus, input.MemoryMiB, input.ImageId, input.DiskSizeBytes);
                var result = await ApiError.GuardAsync(() => Storage(c).CreateTemplateAsync(spec, RequestContext.Metadata(c, input.CommandId), c.CancellationToken));
                return await Session(c).LoadAsync<TemplateView>(result.StreamId, c.CancellationToken);
            });
        mutation.Field<NonNullGraphType<BooleanGraphType>>("deleteTemplate")
            .Argument<NonNullGraphType<IdGraphType>>("id")
            .Argument<IdGraphType>("commandId")
            .ResolveAsync(async c =>
            {
                await ApiError.GuardAsync(() => Storage(c).DeleteTemplateAsync(Id(c), RequestContext.Metadata(c, c.GetArgument<string?>("commandId")), c.CancellationToken));
                return true;
            });
    }

    public static void AddSubscriptions(ObjectGraphType subscription)
    {
        subscription.Field<NonNullGraphType<StoragePoolType>>("storagePoolChanged")
            .Description("Changes of one pool, or of all pools when id is omitted.")
            .Argument<IdGraphType>("id")
            .ResolveStream(c => Filter(c, c.RequestServices!.GetRequiredService<ChangeHub>().Pools, p => p.Id));
        subscription.Field<NonNullGraphType<VolumeType>>("volumeChanged")
            .Description("Changes of one volume (including attach and detach), or of all volumes when id is omitted.")
            .Argument<IdGraphType>("id")
            .ResolveStream(c => Filter(c, c.RequestServices!.GetRequiredService<ChangeHub>().Volumes, v => v.Id));
        subscription.Field<NonNullGraphType<StorageOperationType>>("storageOperationUpdated")
            .Description("The storage operation as it is now, then each change until it ends; completes after its final state.")
            .Argument<NonNullGraphType<IdGraphType>>("id")
            .ResolveStreamAsync(async c =>
            {
                var id = Id(c);
                var store = c.RequestServices!.GetRequiredService<IDocumentStore>();
                await using (var session = store.QuerySession())
                {
                    if (await session.LoadAsync<StorageOperationView>(id, c.CancellationToken) is null)
                    {
                        throw ApiError.NotFound($"storage operation {id} does not exist");
                    }
                }

                return new OperationUpdates<StorageOperationView>(c.RequestServices!.GetRequiredService<ChangeHub>().StorageOperations, store, id);
            });
    }

    private static IObservable<T> Filter<T>(IResolveFieldContext c, IObservable<T> source, Func<T, Guid> id) =>
        c.GetArgument<string?>("id") is { } raw && RequestContext.ParseId(raw, "id") is var wanted ? source.Where(x => id(x) == wanted) : source;

    private delegate Task<CommandResult> TargetCommand(
        StorageCommands storage, Guid id, IResolveFieldContext c, CommandMetadata metadata, long? expectedVersion, CancellationToken cancellationToken);

    private static void OnTarget(ObjectGraphType mutation, string name, string description, TargetCommand command, bool sized = false, bool named = false)
    {
        var field = mutation.Field<NonNullGraphType<StorageOperationPayloadType>>(name)
            .Description(description)
            .Argument<NonNullGraphType<IdGraphType>>("id");
        if (sized)
        {
            field.Argument<NonNullGraphType<LongGraphType>>("sizeBytes");
        }

        if (named)
        {
            field.Argument<NonNullGraphType<StringGraphType>>("name", "The snapshot's name.");
        }

        field.Argument<IntGraphType>("expectedVersion", "Act only if the target is still at this version (CONCURRENCY_CONFLICT otherwise).")
            .Argument<IdGraphType>("commandId", "Idempotency key: repeating it returns the same operation.")
            .ResolveAsync(async c =>
            {
                var expected = c.GetArgument<int?>("expectedVersion");
                if (expected < 0)
                {
                    throw ApiError.Validation($"expectedVersion must not be negative, got {expected}");
                }

                var metadata = RequestContext.Metadata(c, c.GetArgument<string?>("commandId"));
                return await Run(c, () => command(Storage(c), Id(c), c, metadata, expected, c.CancellationToken));
            });
    }

    private static long Size(IResolveFieldContext c) => c.GetArgument<long>("sizeBytes");

    /// <summary>An absolute path on the host is taken as the file URL it names; everything else is checked as a URL.</summary>
    private static string AsUrl(string url) =>
        url.StartsWith('/') && !url.StartsWith("//", StringComparison.Ordinal) ? new Uri(url).AbsoluteUri : url;

    private static string Name(IResolveFieldContext c) => c.GetArgument<string>("name");

    private static Guid Id(IResolveFieldContext c) => RequestContext.ParseId(c.GetArgument<string>("id"), "id");

    private static IQuerySession Session(IResolveFieldContext c) => c.RequestServices!.GetRequiredService<IQuerySession>();

    private static StorageCommands Storage(IResolveFieldContext c) => c.RequestServices!.GetRequiredService<StorageCommands>();

    private static async Task<StorageOperationPayload> Run(IResolveFieldContext c, Func<Task<CommandResult>> command)
    {
        var result = await ApiError.GuardAsync(command);
        var session = Session(c);
        var operation = await session.LoadAsync<StorageOperationView>(result.OperationId!.Value, c.CancellationToken)
            ?? throw new InvalidOperationException($"storage operation {result.OperationId} was recorded but is not in the read model");
        return new StorageOperationPayload(
            operation,
            operation.IsOnPool ? await session.LoadAsync<StoragePoolView>(result.StreamId, c.CancellationToken) : null,
            operation.IsOnPool ? null : await session.LoadAsync<VolumeView>(result.StreamId, c.CancellationToken));
    }
}
