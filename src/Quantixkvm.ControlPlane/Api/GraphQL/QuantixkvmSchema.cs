using GraphQL;
using GraphQL.Types;
using Marten;
using Quantixkvm.ControlPlane.Commands;
using Quantixkvm.ControlPlane.Dispatch;
using Quantixkvm.ControlPlane.ReadModels;
using Quantixkvm.Domain;
using Quantixkvm.Domain.Vms;

namespace Quantixkvm.ControlPlane.Api.GraphQL;

/// <summary>The public API; printed to schemas/graphql/quantixkvm.graphql (a test keeps the file in step).</summary>
public sealed class QuantixkvmSchema : Schema
{
    public QuantixkvmSchema(IServiceProvider services, QueryType query, MutationType mutation, SubscriptionType subscription)
        : base(services)
    {
        Query = query;
        Mutation = mutation;
        Subscription = subscription;
        Description = "Quantixkvm: an event-sourced control plane for KVM clusters.";
    }
}

public sealed class QueryType : ObjectGraphType
{
    public QueryType()
    {
        Name = "Query";
        Field<NonNullGraphType<ListGraphType<NonNullGraphType<VmType>>>>("vms")
            .Description("Every VM that is not deleted, by name.")
            .ResolveAsync(async c => await Session(c).Query<VmView>().Where(v => v.DeletedAt == null).OrderBy(v => v.Name).ToListAsync(c.CancellationToken));
        Field<VmType>("vm")
            .Argument<NonNullGraphType<IdGraphType>>("id")
            .ResolveAsync(async c =>
            {
                var vm = await Session(c).LoadAsync<VmView>(RequestContext.ParseId(c.GetArgument<string>("id"), "id"), c.CancellationToken);
                return vm is { DeletedAt: null } ? vm : null;
            });
        Field<NonNullGraphType<ListGraphType<NonNullGraphType<HostType>>>>("hosts")
            .ResolveAsync(async c => await Hosts(c).AllAsync(c.CancellationToken));
        Field<HostType>("host")
            .Argument<NonNullGraphType<IdGraphType>>("id")
            .ResolveAsync(async c => await Hosts(c).FindAsync(RequestContext.ParseId(c.GetArgument<string>("id"), "id"), c.CancellationToken));
        Field<OperationType>("operation")
            .Argument<NonNullGraphType<IdGraphType>>("id")
            .ResolveAsync(async c => await Session(c).LoadAsync<OperationView>(RequestContext.ParseId(c.GetArgument<string>("id"), "id"), c.CancellationToken));
        StorageFields.AddQueries(this);
        FleetFields.AddQueries(this);
        NetworkFields.AddQueries(this);
    }

    private static IQuerySession Session(IResolveFieldContext c) => c.RequestServices!.GetRequiredService<IQuerySession>();

    private static HostDirectory Hosts(IResolveFieldContext c) => c.RequestServices!.GetRequiredService<HostDirectory>();
}

public sealed class MutationType : ObjectGraphType
{
    public MutationType()
    {
        Name = "Mutation";
        Field<NonNullGraphType<OperationPayloadType>>("createVm")
            .Description("Defines a VM on the requested host, or where placement puts it (every host's reason when none fits); starts it if asked.")
            .Argument<NonNullGraphType<CreateVmInputType>>("input")
            .ResolveAsync(async c =>
            {
                var input = c.GetArgument<CreateVmInput>("input");
                var hostId = input.HostId is null ? (Guid?)null : RequestContext.ParseId(input.HostId, "hostId");
                var metadata = RequestContext.Metadata(c, input.CommandId);
                var cloudInit = input.CloudInit is { } ci ? VmProvisioning.CloudInit(VmDecider.VmIdForCreate(metadata.CommandId), input.Name, ci) : null;
                var clusterId = input.ClusterId is null ? (Guid?)null : RequestContext.ParseId(input.ClusterId, "clusterId");
                var request = new CreateVmRequest(input.Name, input.Vcpus, input.MemoryMiB, hostId, input.Start ?? false, input.Disks, cloudInit,
                    clusterId, input.RequiredLabels?.ToDictionary(l => l.Key, l => l.Value), input.HaPriority, input.Nics);
                return await Run(c, () => Vms(c).CreateAsync(request, metadata, c.CancellationToken));
            });
        Field<NonNullGraphType<OperationPayloadType>>("createVmFromTemplate")
            .Description("Clones the template's image (a linked clone unless linked: false) as the VM's boot disk, then creates the VM.")
            .Argument<NonNullGraphType<CreateVmFromTemplateInputType>>("input")
            .ResolveAsync(async c =>
            {
                var input = c.GetArgument<CreateVmFromTemplateInput>("input");
                var metadata = RequestContext.Metadata(c, input.CommandId);
                return await Run(c, () => c.RequestServices!.GetRequiredService<VmProvisioning>()
                    .CreateFromTemplateAsync(input.Request, metadata, c.CancellationToken));
            });
        Lifecycle("startVm", "Powers the VM on. Allowed when STOPPED.", (ctx, t, _) => new StartVm(ctx, t));
        Lifecycle("stopVm", "Shuts the guest down gracefully, or with force: true powers it off (also from PAUSED or UNKNOWN, and over a hung start or shutdown).",
            (ctx, t, force) => new StopVm(ctx, t, force), withForce: true);
        Lifecycle("rebootVm", "Reboots a RUNNING VM.", (ctx, t, _) => new RebootVm(ctx, t));
        Lifecycle("pauseVm", "Suspends a RUNNING VM's vCPUs.", (ctx, t, _) => new PauseVm(ctx, t));
        Lifecycle("resumeVm", "Resumes a PAUSED VM.", (ctx, t, _) => new ResumeVm(ctx, t));
        Lifecycle("deleteVm", "Undefines a STOPPED (or UNKNOWN) VM from its host; its volumes are released, not deleted.", (ctx, t, _) => new DeleteVm(ctx, t));
        Field<NonNullGraphType<OperationPayloadType>>("attachDisk")
            .Description("Attaches a volume: hot-plugged into a RUNNING VM and kept in its definition; to a STOPPED one, in its definition.")
            .Argument<NonNullGraphType<IdGraphType>>("id")
            .Argument<NonNullGraphType<DiskInputType>>("disk")
            .Argument<IntGraphType>("expectedVersion")
            .Argument<IdGraphType>("commandId")
            .ResolveAsync(async c =>
            {
                var vmId = RequestContext.ParseId(c.GetArgument<string>("id"), "id");
                var disk = c.GetArgument<DiskRequest>("disk");
                var metadata = RequestContext.Metadata(c, c.GetArgument<string?>("commandId"));
                return await Run(c, () => Vms(c).AttachDiskAsync(vmId, disk, metadata, c.GetArgument<int?>("expectedVersion"), c.CancellationToken));
            });
        Lifecycle("detachDisk", "Detaches a volume (hot-unplug when RUNNING); the volume is kept.",
            (ctx, t, _, c) => new DetachDisk(ctx, t, RequestContext.ParseId(c.GetArgument<string>("volumeId"), "volumeId")),
            extra: f => f.Argument<NonNullGraphType<IdGraphType>>("volumeId"));
        Lifecycle("createVmSnapshot", "Snapshots the VM: with its memory when RUNNING or PAUSED, its disks only when STOPPED.",
            (ctx, t, _, c) => new CreateSnapshot(ctx, t, c.GetArgument<string>("name"), c.GetArgument<string?>("description") ?? ""),
            extra: f => f.Argument<NonNullGraphType<StringGraphType>>("name").Argument<StringGraphType>("description"));
        Lifecycle("revertVmSnapshot", "Returns the VM to a snapshot: its disks, and its memory and power state when the snapshot has them.",
            (ctx, t, _, c) => new RevertSnapshot(ctx, t, c.GetArgument<string>("name")),
            extra: f => f.Argument<NonNullGraphType<StringGraphType>>("name"));
        Lifecycle("deleteVmSnapshot", "Deletes a snapshot; its children become its parent's.",
            (ctx, t, _, c) => new DeleteSnapshot(ctx, t, c.GetArgument<string>("name")),
            extra: f => f.Argument<NonNullGraphType<StringGraphType>>("name"));
        NicFields.AddMutations(this);
        StorageFields.AddMutations(this);
        FleetFields.AddMutations(this);
        NetworkFields.AddMutations(this);
    }

    private void Lifecycle(string name, string description, Func<CommandContext, OperationTimeouts, bool, VmCommand> build, bool withForce = false) =>
        Lifecycle(name, description, (ctx, t, force, _) => build(ctx, t, force), withForce);

    private void Lifecycle(
        string name, string description, Func<CommandContext, OperationTimeouts, bool, IResolveFieldContext, VmCommand> build, bool withForce = false,
        Action<global::GraphQL.Builders.FieldBuilder<object?, object>>? extra = null)
    {
        var field = Field<NonNullGraphType<OperationPayloadType>>(name)
            .Description(description)
            .Argument<NonNullGraphType<IdGraphType>>("id");
        if (withForce)
        {
            field.Argument<BooleanGraphType>("force");
        }

        extra?.Invoke(field);

        field.Argument<IntGraphType>("expectedVersion", "Act only if the VM is still at this version (CONCURRENCY_CONFLICT otherwise).")
            .Argument<IdGraphType>("commandId", "Idempotency key: repeating it returns the same operation.")
            .ResolveAsync(async c =>
            {
                var vmId = RequestContext.ParseId(c.GetArgument<string>("id"), "id");
                var expected = c.GetArgument<int?>("expectedVersion");
                if (expected < 0)
                {
                    throw ApiError.Validation($"expectedVersion must not be negative, got {expected}");
                }

                var force = withForce && c.GetArgument<bool?>("force") == true;
                var metadata = RequestContext.Metadata(c, c.GetArgument<string?>("commandId"));
                return await Run(c, () => Vms(c).HandleAsync(vmId, (ctx, t) => build(ctx, t, force, c), metadata, expected, c.CancellationToken));
            });
    }

    private static VmCommands Vms(IResolveFieldContext c) => c.RequestServices!.GetRequiredService<VmCommands>();

    private static Task<OperationPayload> Run(IResolveFieldContext c, Func<Task<CommandResult>> command) => OperationPayloads.RunAsync(c, command);
}

/// <summary>Mutations that start a VM operation answer with it (or, for a repeat, the one it had started) and the VM.</summary>
internal static class OperationPayloads
{
    public static async Task<OperationPayload> RunAsync(IResolveFieldContext c, Func<Task<CommandResult>> command)
    {
        var result = await ApiError.GuardAsync(command);
        var session = c.RequestServices!.GetRequiredService<IQuerySession>();
        var operation = await session.LoadAsync<OperationView>(result.OperationId!.Value, c.CancellationToken)
            ?? throw new InvalidOperationException($"operation {result.OperationId} was recorded but is not in the read model");
        var vm = await session.LoadAsync<VmView>(result.StreamId, c.CancellationToken);
        return new OperationPayload(operation, vm);
    }
}

public sealed class SubscriptionType : ObjectGraphType
{
    public SubscriptionType()
    {
        Name = "Subscription";
        Field<NonNullGraphType<VmType>>("vmChanged")
            .Description("Every change of one VM, or of all VMs when id is omitted, in the order of the event log.")
            .Argument<IdGraphType>("id")
            .ResolveStream(c =>
            {
                var id = c.GetArgument<string?>("id") is { } raw ? RequestContext.ParseId(raw, "id") : (Guid?)null;
                var hub = c.RequestServices!.GetRequiredService<ChangeHub>();
                return id is { } vmId ? hub.Vms.Where(v => v.Id == vmId) : hub.Vms;
            });
        Field<NonNullGraphType<OperationType>>("operationUpdated")
            .Description("The operation as it is now, then each change until it ends; completes after its final state.")
            .Argument<NonNullGraphType<IdGraphType>>("id")
            .ResolveStreamAsync(async c =>
            {
                var id = RequestContext.ParseId(c.GetArgument<string>("id"), "id");
                var services = c.RequestServices!;
                var store = services.GetRequiredService<IDocumentStore>();
                await using (var session = store.QuerySession())
                {
                    if (await session.LoadAsync<OperationView>(id, c.CancellationToken) is null)
                    {
                        throw ApiError.NotFound($"operation {id} does not exist");
                    }
                }

                return new OperationUpdates<OperationView>(services.GetRequiredService<ChangeHub>().Operations, store, id);
            });
        StorageFields.AddSubscriptions(this);
        FleetFields.AddSubscriptions(this);
        NetworkFields.AddSubscriptions(this);
    }
}
