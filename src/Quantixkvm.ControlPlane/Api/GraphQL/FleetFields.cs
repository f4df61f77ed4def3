using GraphQL;
using GraphQL.Types;
using Marten;
using Quantixkvm.ControlPlane.Commands;
using Quantixkvm.ControlPlane.Dispatch;
using Quantixkvm.ControlPlane.Fleet;
using Quantixkvm.ControlPlane.ReadModels;
using Quantixkvm.Domain;
using Quantixkvm.Domain.Clusters;
using Quantixkvm.Domain.Hosts;
using Quantixkvm.Domain.Placement;
using Quantixkvm.Domain.Vms;

namespace Quantixkvm.ControlPlane.Api.GraphQL;

/// <summary>The fleet part of the schema: hosts' place in the fleet, clusters, placement, migrations, maintenance, HA and DRS.</summary>
internal static class FleetFields
{
    /// <summary>Stored names of the events that make up the HA story: liveness, fencing, recovery and restarts.</summary>
    private static readonly string[] HaEventNames =
    [
        "host.unreachable.v1", "host.fencing-started.v1", "host.fence-attempt-failed.v1", "host.fencing-failed.v1", "host.fenced.v1",
        "host.recovered.v1", "vm.relocated.v1", "vm.recovery-blocked.v1",
    ];

    public static void AddQueries(ObjectGraphType query)
    {
        query.Field<NonNullGraphType<ListGraphType<NonNullGraphType<ClusterType>>>>("clusters")
            .ResolveAsync(async c => await Session(c).Query<ClusterView>().Where(x => x.DeletedAt == null).OrderBy(x => x.Name).ToListAsync(c.CancellationToken));
        query.Field<ClusterType>("cluster")
            .Argument<NonNullGraphType<IdGraphType>>("id")
            .ResolveAsync(async c => await Session(c).LoadAsync<ClusterView>(Id(c, "id"), c.CancellationToken) is { DeletedAt: null } cluster ? cluster : null);
        query.Field<NonNullGraphType<PlacementExplanationType>>("placement")
            .Description("Where a VM of this size would go now, and for every other host why not: placement's dry run (nothing is recorded).")
            .Argument<NonNullGraphType<PlacementQueryInputType>>("input")
            .ResolveAsync(async c =>
            {
                var input = c.GetArgument<PlacementQueryInput>("input");
                var clusterId = input.ClusterId is null ? (Guid?)null : RequestContext.ParseId(input.ClusterId, "clusterId");
                var inputs = await Hosts(c).PlacementInputsAsync(c.CancellationToken);
                return inputs.Place(
                    new PlacementRequest(
                        Guid.Empty, input.Vcpus, input.MemoryMiB, input.HostId is null ? null : RequestContext.ParseId(input.HostId, "hostId"), clusterId,
                        input.RequiredLabels?.ToDictionary(l => l.Key, l => l.Value)),
                    clusterId).Result;
            });
        query.Field<NonNullGraphType<ListGraphType<NonNullGraphType<MigrationType>>>>("migrations")
            .Description("Migrations, newest first: of one VM, or all; optionally only those with a status.")
            .Argument<IdGraphType>("vmId")
            .Argument<MigrationStatusType>("status")
            .Argument<IntGraphType>("limit", "At most this many (default 100).")
            .ResolveAsync(async c =>
            {
                var migrations = Session(c).Query<MigrationView>().AsQueryable();
                if (c.GetArgument<string?>("vmId") is { } raw)
                {
                    var vmId = RequestContext.ParseId(raw, "vmId");
                    migrations = migrations.Where(m => m.VmId == vmId);
                }

                if (c.GetArgument<MigrationStatus?>("status") is { } status)
                {
                    migrations = migrations.Where(m => m.Status == status);
                }

                var list = await migrations.OrderByDescending(m => m.RequestedAt).Take(Math.Clamp(c.GetArgument<int?>("limit") ?? 100, 1, 1000))
                    .ToListAsync(c.CancellationToken);
                var progress = (await Session(c).LoadManyAsync<MigrationProgress>(c.CancellationToken, list.Select(m => m.Id))).ToDictionary(p => p.Id);
                return list.Select(m => new MigrationUpdate(m, progress.GetValueOrDefault(m.Id))).ToList();
            });
        query.Field<MigrationType>("migration")
            .Argument<NonNullGraphType<IdGraphType>>("id")
            .ResolveAsync(async c => await MigrationType.LoadAsync(Session(c), Id(c, "id"), c.CancellationToken));
        query.Field<NonNullGraphType<ListGraphType<NonNullGraphType<HistoryEntryType>>>>("haEvents")
            .Description("The HA story, newest first: hosts found unreachable, fencing attempts and verdicts, recoveries, and VMs restarted elsewhere.")
            .Argument<IntGraphType>("limit", "At most this many (default 100).")
            .ResolveAsync(async c =>
            {
                var events = await Session(c).Events.QueryAllRawEvents()
                    .Where(e => e.EventTypeName.IsOneOf(HaEventNames))
                    .OrderByDescending(e => e.Sequence)
                    .Take(Math.Clamp(c.GetArgument<int?>("limit") ?? 100, 1, 1000))
                    .ToListAsync(c.CancellationToken);
                return events.Select(HistoryEntry.From).ToList();
            });
    }

    public static void AddMutations(ObjectGraphType mutation)
    {
        OnHost(mutation, "setHostLabels", "Replaces the host's labels (placement can require them).",
            (f, id, m, v, c) => f.HostAsync(id, ctx => new SetHostLabels(ctx, c.GetArgument<List<Label>>("labels").ToDictionary(l => l.Key, l => l.Value)), m, v, c.CancellationToken),
            field => field.Argument<NonNullGraphType<ListGraphType<NonNullGraphType<LabelInputType>>>>("labels"));
        OnHost(mutation, "assignHostToCluster", "Puts the host into a cluster, or out of any with clusterId null.",
            (f, id, m, v, c) => f.AssignHostAsync(id, c.GetArgument<string?>("clusterId") is { } raw ? RequestContext.ParseId(raw, "clusterId") : null, m, v, c.CancellationToken),
            field => field.Argument<IdGraphType>("clusterId"));
        OnHost(mutation, "configureHostFencing", "Which fencers HA uses for the host, in order, and their BMC details.",
            (f, id, m, v, c) => f.HostAsync(id, ctx => new ConfigureFencing(ctx, c.GetArgument<FencingInput>("fencing").ToFencing()), m, v, c.CancellationToken),
            field => field.Argument<NonNullGraphType<FencingInputType>>("fencing"));
        OnHost(mutation, "enterMaintenance",
            "Evacuates the host: running VMs are live-migrated, stopped ones moved cold; with allowColdMigration, running VMs a hypervisor cannot "
            + "live-migrate are restarted on their new host. It is IN_MAINTENANCE once empty; stuckVms says what could not move.",
            (f, id, m, v, c) => f.HostAsync(id, ctx => new EnterMaintenance(ctx, c.GetArgument<bool?>("allowColdMigration") ?? false), m, v, c.CancellationToken),
            field => field.Argument<BooleanGraphType>("allowColdMigration"));
        OnHost(mutation, "exitMaintenance", "Returns the host to service (also stops an evacuation under way).",
            (f, id, m, v, c) => f.HostAsync(id, ctx => new ExitMaintenance(ctx), m, v, c.CancellationToken));
        OnHost(mutation, "decommissionHost", "Retires an empty host that is in maintenance (or fenced) for good.",
            (f, id, m, v, c) => f.DecommissionAsync(id, m, v, c.CancellationToken));

        mutation.Field<NonNullGraphType<ClusterType>>("createCluster")
            .Argument<NonNullGraphType<StringGraphType>>("name")
            .Argument<ClusterSettingsInputType>("settings")
            .Argument<IdGraphType>("commandId")
            .ResolveAsync(async c =>
            {
                var settings = (c.GetArgument<ClusterSettingsInput?>("settings") ?? new ClusterSettingsInput(null, null, null, null, null, null, null))
                    .Over(ClusterSettings.Default);
                var result = await ApiError.GuardAsync(() => Fleet(c).CreateClusterAsync(c.GetArgument<string>("name"), settings, Metadata(c), c.CancellationToken));
                return await Session(c).LoadAsync<ClusterView>(result.StreamId, c.CancellationToken);
            });
        OnCluster(mutation, "configureCluster", "Changes the cluster's settings; omitted ones keep their value. Turning DRS OFF dismisses its open recommendations.",
            async (f, cluster, m, v, c) => await f.ClusterAsync(cluster.Id,
                ctx => new ConfigureCluster(ctx, c.GetArgument<ClusterSettingsInput>("settings").Over(cluster.Settings)), m, v, c.CancellationToken),
            field => field.Argument<NonNullGraphType<ClusterSettingsInputType>>("settings"));
        OnCluster(mutation, "deleteCluster", "Deletes a cluster without hosts.", (f, cluster, m, v, c) => f.DeleteClusterAsync(cluster.Id, m, v, c.CancellationToken));
        OnCluster(mutation, "addAffinityRule", "Adds a VM-VM or VM-host rule, hard (placement never breaks it) or soft (preferred).",
            (f, cluster, m, _, c) =>
            {
                var input = c.GetArgument<AffinityRuleInput>("rule");
                var rule = new AffinityRule(
                    DeterministicId.From("affinity-rule", cluster.Id.ToString(), m.CommandId), input.Name, input.Kind, input.Enforcement,
                    input.VmIds.Select(x => RequestContext.ParseId(x, "vmIds")).ToList(), input.HostIds.Select(x => RequestContext.ParseId(x, "hostIds")).ToList());
                return f.AddRuleAsync(cluster.Id, rule, m, c.CancellationToken);
            },
            field => field.Argument<NonNullGraphType<AffinityRuleInputType>>("rule"));
        OnCluster(mutation, "removeAffinityRule", "Removes a rule.",
            (f, cluster, m, v, c) => f.ClusterAsync(cluster.Id, ctx => new RemoveAffinityRule(ctx, RequestContext.ParseId(c.GetArgument<string>("ruleId"), "ruleId")),
                m, v, c.CancellationToken),
            field => field.Argument<NonNullGraphType<IdGraphType>>("ruleId"));
        OnCluster(mutation, "dismissRecommendation", "Dismisses an open DRS recommendation.",
            (f, cluster, m, v, c) => f.ClusterAsync(cluster.Id, ctx => new DismissRecommendation(ctx,
                    RequestContext.ParseId(c.GetArgument<string>("recommendationId"), "recommendationId"), c.GetArgument<string?>("reason") ?? "dismissed by an operator"),
                m, v, c.CancellationToken),
            field => field.Argument<NonNullGraphType<IdGraphType>>("recommendationId").Argument<StringGraphType>("reason"));

        mutation.Field<NonNullGraphType<OperationPayloadType>>("applyRecommendation")
            .Description("Carries out an open DRS recommendation: its migration starts (the payload's operation), and the recommendation is marked applied.")
            .Argument<NonNullGraphType<IdGraphType>>("clusterId")
            .Argument<NonNullGraphType<IdGraphType>>("recommendationId")
            .ResolveAsync(async c => await OperationPayloads.RunAsync(c, () => c.RequestServices!.GetRequiredService<DrsRecommendations>().ApplyAsync(
                Id(c, "clusterId"), Id(c, "recommendationId"), Metadata(c).Actor, c.CancellationToken)));
        mutation.Field<NonNullGraphType<DrsEvaluationType>>("evaluateDrs")
            .Description("Runs DRS for the cluster now instead of at its next period; new recommendations are recorded (and applied in AUTOMATIC mode).")
            .Argument<NonNullGraphType<IdGraphType>>("clusterId")
            .ResolveAsync(async c =>
            {
                var services = c.RequestServices!;
                return await ApiError.GuardAsync(() => services.GetRequiredService<DrsEvaluator>().EvaluateAsync(services, Id(c, "clusterId"), c.CancellationToken));
            });

        mutation.Field<NonNullGraphType<OperationPayloadType>>("migrateVm")
            .Description("Moves a VM to another host: LIVE for a running VM (memory copied while it runs), COLD for a stopped one (or a running one with "
                + "restartOnTarget). Without targetHostId placement chooses, within the VM's cluster. Refused with every host's reason when none fits.")
            .Argument<NonNullGraphType<IdGraphType>>("id")
            .Argument<IdGraphType>("targetHostId")
            .Argument<MigrationModeType>("mode")
            .Argument<BooleanGraphType>("restartOnTarget")
            .Argument<IntGraphType>("bandwidthMiBs", "Limit the live migration's stream to this many MiB/s (default: libvirt's, unlimited).")
            .Argument<IntGraphType>("expectedVersion")
            .Argument<IdGraphType>("commandId")
            .ResolveAsync(async c =>
            {
                var request = new MoveRequest(
                    Id(c, "id"), c.GetArgument<string?>("targetHostId") is { } raw ? RequestContext.ParseId(raw, "targetHostId") : null,
                    c.GetArgument<MigrationMode?>("mode"), c.GetArgument<bool?>("restartOnTarget") ?? false, "asked by an operator",
                    c.GetArgument<int?>("bandwidthMiBs"));
                return await OperationPayloads.RunAsync(c, () => c.RequestServices!.GetRequiredService<VmMoves>()
                    .MigrateAsync(request, Metadata(c), c.GetArgument<int?>("expectedVersion"), c.CancellationToken));
            });
        mutation.Field<NonNullGraphType<MigrationType>>("cancelMigration")
            .Description("Asks the source host to abort the VM's live migration; the migration then ends FAILED and the VM stays on its source.")
            .Argument<NonNullGraphType<IdGraphType>>("vmId")
            .Argument<IdGraphType>("commandId")
            .ResolveAsync(async c =>
            {
                var result = await ApiError.GuardAsync(() => Vms(c).HandleAsync(Id(c, "vmId"), (ctx, _) => new CancelMigration(ctx), Metadata(c), null, c.CancellationToken));
                return await MigrationType.LoadAsync(Session(c), result.OperationId!.Value, c.CancellationToken);
            });
        mutation.Field<NonNullGraphType<VmType>>("setVmHaPriority")
            .Description("Whether and in which order HA restarts the VM after its host fails.")
            .Argument<NonNullGraphType<IdGraphType>>("id")
            .Argument<NonNullGraphType<HaPriorityType>>("priority")
            .Argument<IdGraphType>("commandId")
            .ResolveAsync(async c =>
            {
                var result = await ApiError.GuardAsync(() => Vms(c).HandleAsync(Id(c, "id"), (ctx, _) => new SetHaPriority(ctx, c.GetArgument<HaPriority>("priority")),
                    Metadata(c), null, c.CancellationToken));
                return await Session(c).LoadAsync<VmView>(result.StreamId, c.CancellationToken);
            });
    }

    public static void AddSubscriptions(ObjectGraphType subscription)
    {
        subscription.Field<NonNullGraphType<HostType>>("hostChanged")
            .Description("Every recorded change of one host (or of all): state, maintenance, fencing, cluster, labels.")
            .Argument<IdGraphType>("id")
            .ResolveStream(c =>
            {
                var id = c.GetArgument<string?>("id") is { } raw ? RequestContext.ParseId(raw, "id") : (Guid?)null;
                var hosts = c.RequestServices!.GetRequiredService<ChangeHub>().Hosts;
                var filtered = id is { } hostId ? hosts.Where(h => h.Id == hostId) : hosts;
                return filtered.Select(h => new HostSnapshot(h, null, h.Status, null));
            });
        subscription.Field<NonNullGraphType<MigrationType>>("migrationUpdated")
            .Description("A migration's changes and progress reports (about one a second while a live migration copies memory); all migrations when id is omitted.")
            .Argument<IdGraphType>("id")
            .ResolveStream(c =>
            {
                var id = c.GetArgument<string?>("id") is { } raw ? RequestContext.ParseId(raw, "id") : (Guid?)null;
                var migrations = c.RequestServices!.GetRequiredService<ChangeHub>().Migrations;
                return id is { } migrationId ? migrations.Where(m => m.Migration.Id == migrationId) : migrations;
            });
        subscription.Field<NonNullGraphType<ClusterType>>("clusterChanged")
            .Description("Every recorded change of one cluster (or of all): settings, rules, DRS recommendations.")
            .Argument<IdGraphType>("id")
            .ResolveStream(c =>
            {
                var id = c.GetArgument<string?>("id") is { } raw ? RequestContext.ParseId(raw, "id") : (Guid?)null;
                var clusters = c.RequestServices!.GetRequiredService<ChangeHub>().Clusters;
                return id is { } clusterId ? clusters.Where(x => x.Id == clusterId) : clusters;
            });
    }

    private static void OnHost(
        ObjectGraphType mutation, string name, string description,
        Func<FleetCommands, Guid, CommandMetadata, long?, IResolveFieldContext, Task<CommandResult>> command,
        Action<global::GraphQL.Builders.FieldBuilder<object?, object>>? extra = null)
    {
        var field = mutation.Field<NonNullGraphType<HostType>>(name).Description(description).Argument<NonNullGraphType<IdGraphType>>("hostId");
        extra?.Invoke(field);
        field.Argument<IntGraphType>("expectedVersion").Argument<IdGraphType>("commandId")
            .ResolveAsync(async c =>
            {
                var hostId = Id(c, "hostId");
                await ApiError.GuardAsync(() => command(Fleet(c), hostId, Metadata(c), c.GetArgument<int?>("expectedVersion"), c));
                return await Hosts(c).FindAsync(hostId, c.CancellationToken);
            });
    }

    private static void OnCluster(
        ObjectGraphType mutation, string name, string description,
        Func<FleetCommands, ClusterView, CommandMetadata, long?, IResolveFieldContext, Task<CommandResult>> command,
        Action<global::GraphQL.Builders.FieldBuilder<object?, object>>? extra = null)
    {
        var field = mutation.Field<NonNullGraphType<ClusterType>>(name).Description(description).Argument<NonNullGraphType<IdGraphType>>("clusterId");
        extra?.Invoke(field);
        field.Argument<IntGraphType>("expectedVersion").Argument<IdGraphType>("commandId")
            .ResolveAsync(async c =>
            {
                var clusterId = Id(c, "clusterId");
                var cluster = await Session(c).LoadAsync<ClusterView>(clusterId, c.CancellationToken) is { DeletedAt: null } found
                    ? found
                    : throw ApiError.NotFound($"cluster {clusterId} does not exist");
                await ApiError.GuardAsync(() => command(Fleet(c), cluster, Metadata(c), c.GetArgument<int?>("expectedVersion"), c));
                return await Session(c).LoadAsync<ClusterView>(clusterId, c.CancellationToken);
            });
    }

    private static Guid Id(IResolveFieldContext c, string argument) => RequestContext.ParseId(c.GetArgument<string>(argument), argument);

    private static CommandMetadata Metadata(IResolveFieldContext c) => RequestContext.Metadata(c, c.GetArgument<string?>("commandId"));

    private static IQuerySession Session(IResolveFieldContext c) => c.RequestServices!.GetRequiredService<IQuerySession>();

    private static HostDirectory Hosts(IResolveFieldContext c) => c.RequestServices!.GetRequiredService<HostDirectory>();

    private static FleetCommands Fleet(IResolveFieldContext c) => c.RequestServices!.GetRequiredService<FleetCommands>();

    private static VmCommands Vms(IResolveFieldContext c) => c.RequestServices!.GetRequiredService<VmCommands>();
}
