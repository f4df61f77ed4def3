using GraphQL;
using GraphQL.Types;
using Marten;
using Quantixkvm.ControlPlane.ReadModels;
using Quantixkvm.Domain.Hosts;
using Quantixkvm.Domain.Vms;

namespace Quantixkvm.ControlPlane.Api.GraphQL;

public sealed class PowerStateType : EnumerationGraphType<PowerState>
{
    public PowerStateType() => Description = "A VM's power state as its host reports it, or as it was asked for.";
}

public sealed class OperationKindType : EnumerationGraphType<OperationKind>;

public sealed class OperationStatusType : EnumerationGraphType<OperationStatus>
{
    public OperationStatusType() => Description = "PENDING until the host's agent picks it up; every operation ends SUCCEEDED, FAILED or TIMED_OUT.";
}

public sealed class HostStateType : EnumerationGraphType<HostStatus>
{
    public HostStateType()
    {
        Name = "HostState";
        Description = "ONLINE while the host's agent sends heartbeats; UNREACHABLE once they stop for the detection time; FENCED once HA proved its VMs off "
            + "(until its heartbeats return); DECOMMISSIONED when retired.";
    }
}

public sealed class VmType : ObjectGraphType<VmView>
{
    public VmType()
    {
        Name = "Vm";
        Description = "A virtual machine: what was asked (desiredPowerState), what is under way (currentOperation) and what the host reported (powerState).";
        Field<NonNullGraphType<IdGraphType>>("id").Resolve(c => c.Source.Id);
        Field(v => v.Name);
        Field(v => v.Vcpus);
        Field<NonNullGraphType<IntGraphType>>("memoryMiB").Resolve(c => c.Source.MemoryMiB);
        Field<NonNullGraphType<PowerStateType>>("powerState").Description("Observed: what the host last reported.").Resolve(c => c.Source.PowerState);
        Field<NonNullGraphType<PowerStateType>>("desiredPowerState").Description("What was last asked for.").Resolve(c => c.Source.DesiredPowerState);
        Field<HostType>("host").ResolveAsync(async c =>
            await c.RequestServices!.GetRequiredService<HostDirectory>().FindAsync(c.Source.HostId, c.CancellationToken));
        Field<NonNullGraphType<IntGraphType>>("version")
            .Description("The VM's stream version; pass it as expectedVersion to act only on this state.")
            .Resolve(c => (int)c.Source.Version);
        Field<NonNullGraphType<DateTimeOffsetGraphType>>("createdAt").Resolve(c => c.Source.CreatedAt);
        Field<NonNullGraphType<DateTimeOffsetGraphType>>("updatedAt").Resolve(c => c.Source.UpdatedAt);
        Field<DateTimeOffsetGraphType>("deletedAt").Resolve(c => c.Source.DeletedAt);
        Field<OperationType>("currentOperation").ResolveAsync(async c => c.Source switch
        {
            { CurrentOperationId: null } => null,
            { CurrentOperationSnapshot: { } snapshot } => snapshot,
            { CurrentOperationId: { } id } => await c.RequestServices!.GetRequiredService<IQuerySession>().LoadAsync<OperationView>(id, c.CancellationToken),
        });
        Field<NonNullGraphType<ListGraphType<NonNullGraphType<VmDiskType>>>>("disks").Resolve(c => c.Source.Disks);
        Field<NonNullGraphType<ListGraphType<NonNullGraphType<VmNicType>>>>("nics").Resolve(c => c.Source.Nics);
        Field<NonNullGraphType<ListGraphType<NonNullGraphType<VmSnapshotType>>>>("snapshots")
            .Description("The snapshot tree: each snapshot names its parent.").Resolve(c => c.Source.Snapshots);
        Field<StringGraphType>("currentSnapshot").Description("The snapshot the VM's state descends from.").Resolve(c => c.Source.CurrentSnapshot);
        Field<CloudInitInfoType>("cloudInit").Resolve(c => c.Source.CloudInit);
        Field<VmDiskDriftType>("diskDrift").Description("Set while the host's domain holds other disks than the VM's record; null when they agree.")
            .Resolve(c => c.Source.DiskDrift);
        Field<NonNullGraphType<HaPriorityType>>("haPriority").Resolve(c => c.Source.HaPriority);
        Field<PlacementDecisionType>("placement").Description("The last placement decision for the VM, with the reasons the other hosts did not take it.")
            .Resolve(c => c.Source.LastPlacement);
        Field<MigrationType>("migration").Description("The move under way, if any.").ResolveAsync(async c => c.Source.MigrationId is { } id
            ? await MigrationType.LoadAsync(c.RequestServices!.GetRequiredService<IQuerySession>(), id, c.CancellationToken)
            : null);
        Field<StringGraphType>("recoveryBlockedReason").Description("Why HA could not restart the VM after its host was fenced; null otherwise.")
            .Resolve(c => c.Source.RecoveryBlockedReason);
        Field<NonNullGraphType<ListGraphType<NonNullGraphType<HistoryEntryType>>>>("history")
            .Description("The VM's own events, oldest first: the audit trail of who asked for what, and what the host reported.")
            .ResolveAsync(async c => (await c.RequestServices!.GetRequiredService<IQuerySession>().Events
                    .FetchStreamAsync(c.Source.Id, token: c.CancellationToken))
                .Select(HistoryEntry.From)
                .ToList());
        Field<NonNullGraphType<ListGraphType<NonNullGraphType<OperationType>>>>("operations")
            .Description("Every operation on this VM, newest first.")
            .ResolveAsync(async c => await c.RequestServices!.GetRequiredService<IQuerySession>().Query<OperationView>()
                .Where(o => o.VmId == c.Source.Id).OrderByDescending(o => o.RequestedAt).ToListAsync(c.CancellationToken));
    }
}

public sealed class HostType : ObjectGraphType<HostSnapshot>
{
    public HostType()
    {
        Name = "Host";
        Description = "A hypervisor host, registered by its node agent.";
        Field<NonNullGraphType<IdGraphType>>("id").Resolve(c => c.Source.Host.Id);
        Field<NonNullGraphType<StringGraphType>>("name").Resolve(c => c.Source.Host.Name);
        Field<NonNullGraphType<HostStateType>>("state").Resolve(c => c.Source.Status);
        Field<NonNullGraphType<MaintenanceStateType>>("maintenance").Resolve(c => c.Source.Host.Maintenance);
        Field<NonNullGraphType<StringGraphType>>("status").Description("One word for the host: its state, FENCING, or its maintenance state.")
            .Resolve(c => c.Source.Status == HostStatus.Online ? c.Source.Host.Describe() : c.Source.Status.ToString().ToUpperInvariant());
        Field<ClusterType>("cluster").ResolveAsync(async c => c.Source.Host.ClusterId is { } id
            ? await c.RequestServices!.GetRequiredService<IQuerySession>().LoadAsync<ClusterView>(id, c.CancellationToken)
            : null);
        Field<NonNullGraphType<ListGraphType<NonNullGraphType<LabelType>>>>("labels")
            .Resolve(c => c.Source.Host.Labels.OrderBy(l => l.Key, StringComparer.Ordinal).Select(l => new Label(l.Key, l.Value)).ToList());
        Field<NonNullGraphType<ListGraphType<NonNullGraphType<StringGraphType>>>>("cpuFeatures").Resolve(c => c.Source.Host.CpuFeatures);
        Field<NonNullGraphType<BooleanGraphType>>("liveMigration").Description("Whether its hypervisor can send and receive live migrations.")
            .Resolve(c => c.Source.Host.LiveMigration);
        Field<NonNullGraphType<HostAllocationType>>("allocation").ResolveAsync(async c =>
        {
            var session = c.RequestServices!.GetRequiredService<IQuerySession>();
            var vms = await session.Query<VmView>().Where(v => v.HostId == c.Source.Host.Id && v.DeletedAt == null).ToListAsync(c.CancellationToken);
            var candidate = HostDirectory.Candidate(c.Source, vms);
            var load = Domain.Drs.DrsPolicy.LoadOf(Fleet.DrsEvaluator.WithRunningDemand(candidate, vms));
            return new HostAllocation(candidate.AllocatedVcpus, candidate.AllocatedMemoryMiB, candidate.VcpuCapacity, candidate.MemoryCapacityMiB, load);
        });
        Field<HostFencingType>("fencing").Description("Null: the default (agent, then storage-lease).").Resolve(c => c.Source.Host.Fencing);
        Field<DateTimeOffsetGraphType>("unreachableSince").Resolve(c => c.Source.Host.UnreachableSince);
        Field<DateTimeOffsetGraphType>("fencedAt").Resolve(c => c.Source.Host.FencedAt);
        Field<StringGraphType>("fencedBy").Resolve(c => c.Source.Host.FencedBy);
        Field<StringGraphType>("fenceEvidence").Resolve(c => c.Source.Host.FenceEvidence);
        Field<StringGraphType>("lastFenceFailure").Resolve(c => c.Source.Host.LastFenceFailure);
        Field<NonNullGraphType<ListGraphType<NonNullGraphType<StuckVmType>>>>("stuckVms")
            .Description("VMs the last evacuation could not move, with the reason.").Resolve(c => c.Source.Host.StuckVms);
        Field<NonNullGraphType<IntGraphType>>("version").Resolve(c => (int)c.Source.Host.Version);
        Field<NonNullGraphType<ListGraphType<NonNullGraphType<HistoryEntryType>>>>("history")
            .Description("The host's own events, oldest first: registration, states, fencing, maintenance.")
            .ResolveAsync(async c => (await c.RequestServices!.GetRequiredService<IQuerySession>().Events
                    .FetchStreamAsync(c.Source.Host.Id, token: c.CancellationToken))
                .Select(HistoryEntry.From)
                .ToList());
        Field<NonNullGraphType<IntGraphType>>("cpus").Resolve(c => c.Source.Host.Cpus);
        Field<NonNullGraphType<IntGraphType>>("memoryMiB").Resolve(c => (int)Math.Min(int.MaxValue, c.Source.Host.MemoryMiB));
        Field<NonNullGraphType<StringGraphType>>("cpuModel").Resolve(c => c.Source.Host.CpuModel);
        Field<NonNullGraphType<StringGraphType>>("libvirtUri").Resolve(c => c.Source.Host.LibvirtUri);
        Field<NonNullGraphType<StringGraphType>>("agentVersion").Resolve(c => c.Source.Host.AgentVersion);
        Field<DateTimeOffsetGraphType>("lastHeartbeatAt").ResolveAsync(async c => c.Source.LastHeartbeatAt
            ?? (await c.RequestServices!.GetRequiredService<IQuerySession>().LoadAsync<HostLiveness>(c.Source.Host.Id, c.CancellationToken))?.LastHeartbeatAt);
        Field<NonNullGraphType<DateTimeOffsetGraphType>>("registeredAt").Resolve(c => c.Source.Host.RegisteredAt);
        Field<NonNullGraphType<ListGraphType<NonNullGraphType<VmType>>>>("vms").ResolveAsync(async c =>
            await c.RequestServices!.GetRequiredService<IQuerySession>().Query<VmView>()
                .Where(v => v.HostId == c.Source.Host.Id && v.DeletedAt == null).OrderBy(v => v.Name).ToListAsync(c.CancellationToken));
    }
}

public sealed record OperationError(string Code, string Message);

public sealed class OperationErrorType : ObjectGraphType<OperationError>
{
    public OperationErrorType()
    {
        Description = "Why an operation failed: the hypervisor's own code and message, or TIMED_OUT.";
        Field(e => e.Code);
        Field(e => e.Message);
    }
}

public sealed class OperationType : ObjectGraphType<OperationView>
{
    public OperationType()
    {
        Name = "Operation";
        Description = "One command's work on a host, with a deadline: it always ends.";
        Field<NonNullGraphType<IdGraphType>>("id").Resolve(c => c.Source.Id);
        Field<NonNullGraphType<OperationKindType>>("kind").Resolve(c => c.Source.Kind);
        Field<NonNullGraphType<OperationStatusType>>("status").Resolve(c => c.Source.Status);
        Field<NonNullGraphType<IdGraphType>>("vmId").Resolve(c => c.Source.VmId);
        Field<NonNullGraphType<IdGraphType>>("hostId").Resolve(c => c.Source.HostId);
        Field<NonNullGraphType<BooleanGraphType>>("force").Resolve(c => c.Source.Force);
        Field<NonNullGraphType<IdGraphType>>("commandId").Resolve(c => c.Source.CommandId);
        Field<NonNullGraphType<StringGraphType>>("actor").Resolve(c => c.Source.Actor);
        ProgressFields(this);
    }

    /// <summary>How an operation went: shared by VM and storage operations.</summary>
    internal static void ProgressFields<T>(ObjectGraphType<T> type) where T : TrackedOperationView
    {
        type.Field<OperationErrorType>("error").Resolve(c => c.Source.ErrorCode is { } code
            ? new OperationError(code, c.Source.ErrorMessage ?? "")
            : null);
        type.Field<NonNullGraphType<DateTimeOffsetGraphType>>("startedAt").Description("When the operation was requested.").Resolve(c => c.Source.RequestedAt);
        type.Field<DateTimeOffsetGraphType>("acceptedByHostAt").Description("When the host's agent began to act.").Resolve(c => c.Source.AgentStartedAt);
        type.Field<DateTimeOffsetGraphType>("finishedAt").Resolve(c => c.Source.FinishedAt);
        type.Field<NonNullGraphType<DateTimeOffsetGraphType>>("deadline").Resolve(c => c.Source.Deadline);
    }
}

public sealed record OperationPayload(OperationView Operation, VmView? Vm);

public sealed class OperationPayloadType : ObjectGraphType<OperationPayload>
{
    public OperationPayloadType()
    {
        Name = "OperationPayload";
        Field<NonNullGraphType<OperationType>>("operation").Resolve(c => c.Source.Operation);
        Field<VmType>("vm").Resolve(c => c.Source.Vm);
    }
}

public sealed record CreateVmInput(
    string Name, int Vcpus, int MemoryMiB, string? HostId, bool? Start, string? CommandId, IReadOnlyList<DiskRequest>? Disks,
    Commands.CloudInitRequest? CloudInit, string? ClusterId = null, IReadOnlyList<Label>? RequiredLabels = null, HaPriority? HaPriority = null,
    IReadOnlyList<Commands.NicRequest>? Nics = null);

public sealed class CreateVmInputType : InputObjectGraphType<CreateVmInput>
{
    public CreateVmInputType()
    {
        Name = "CreateVmInput";
        Field<NonNullGraphType<StringGraphType>>("name").Description("1–64 characters, no control characters.");
        Field<NonNullGraphType<IntGraphType>>("vcpus");
        Field<NonNullGraphType<IntGraphType>>("memoryMiB");
        Field<IdGraphType>("hostId").Description("Place on this host; otherwise placement chooses (see the placement query).");
        Field<IdGraphType>("clusterId").Description("Place within this cluster (its overcommit, strategy and affinity rules apply).");
        Field<ListGraphType<NonNullGraphType<LabelInputType>>>("requiredLabels").Description("Only hosts carrying every one of these labels.");
        Field<HaPriorityType>("haPriority").Description("HA restart priority (default MEDIUM).");
        Field<BooleanGraphType>("start").Description("Start the VM once it is defined (default false).");
        Field<IdGraphType>("commandId").Description("Idempotency key: repeating it returns the same operation.");
        Field<ListGraphType<NonNullGraphType<DiskInputType>>>("disks").Description("Volumes for the VM, in order; they get vda, vdb, … (sda, … on SATA/SCSI).");
        Field<CloudInitInputType>("cloudInit");
        Field<ListGraphType<NonNullGraphType<NicInputType>>>("nics").Description("NICs, in order; each gets a port on its network.");
    }

    public override object ParseDictionary(IDictionary<string, object?> value) => new CreateVmInput(
        (string)value["name"]!,
        (int)value["vcpus"]!,
        (int)value["memoryMiB"]!,
        value.TryGetValue("hostId", out var host) ? host?.ToString() : null,
        value.TryGetValue("start", out var start) ? (bool?)start : null,
        value.TryGetValue("commandId", out var command) ? command?.ToString() : null,
        value.TryGetValue("disks", out var disks) && disks is IEnumerable<object?> list ? list.OfType<DiskRequest>().ToList() : null,
        value.TryGetValue("cloudInit", out var ci) ? ci as Commands.CloudInitRequest : null,
        value.Value("clusterId")?.ToString(),
        value.Value("requiredLabels") is IEnumerable<object?> labels ? labels.OfType<Label>().ToList() : null,
        value.Value("haPriority") as HaPriority?,
        value.Value("nics") is IEnumerable<object?> nics ? [.. nics.OfType<Commands.NicRequest>()] : null);
}

public sealed record CreateVmFromTemplateInput(Commands.CreateVmFromTemplateRequest Request, string? CommandId);

public sealed class CreateVmFromTemplateInputType : InputObjectGraphType<CreateVmFromTemplateInput>
{
    public CreateVmFromTemplateInputType()
    {
        Name = "CreateVmFromTemplateInput";
        Field<NonNullGraphType<IdGraphType>>("templateId");
        Field<NonNullGraphType<StringGraphType>>("name");
        Field<IdGraphType>("hostId");
        Field<BooleanGraphType>("start");
        Field<BooleanGraphType>("linked").Description("A linked clone of the image (default true); false makes a full copy.");
        Field<CloudInitInputType>("cloudInit");
        Field<IdGraphType>("commandId");
    }

    public override object ParseDictionary(IDictionary<string, object?> value) => new CreateVmFromTemplateInput(
        new Commands.CreateVmFromTemplateRequest(
            RequestContext.ParseId(value["templateId"]?.ToString(), "templateId"),
            (string)value["name"]!,
            value.TryGetValue("hostId", out var h) && h is not null ? RequestContext.ParseId(h.ToString(), "hostId") : null,
            value.TryGetValue("start", out var s) && s is true,
            !value.TryGetValue("linked", out var l) || l is not false,
            value.TryGetValue("cloudInit", out var ci) ? ci as Commands.CloudInitRequest : null),
        value.TryGetValue("commandId", out var command) ? command?.ToString() : null);
}

/// <summary>One stored event with its metadata, as the audit trail shows it.</summary>
public sealed record HistoryEntry(long Version, string Type, DateTimeOffset At, string? Actor, string? CorrelationId, string? CausationId, string Data)
{
    private static readonly System.Text.Json.JsonSerializerOptions Compact = new(Schemas.SchemaArtifacts.Json) { WriteIndented = false };

    public static HistoryEntry From(JasperFx.Events.IEvent e) => new(
        e.Version, e.EventTypeName, e.Timestamp, e.UserName, e.CorrelationId, e.CausationId,
        System.Text.Json.JsonSerializer.Serialize(Shown(e.Data), e.EventType, Compact));

    /// <summary>cloud-init user-data may hold passwords and tokens: the audit trail says it was set, not what it says.</summary>
    private static object Shown(object data) => data is VmCloudInitConfigured { UserData: not null } c ? c with { UserData = "(redacted)" } : data;
}

public sealed class HistoryEntryType : ObjectGraphType<HistoryEntry>
{
    public HistoryEntryType()
    {
        Name = "HistoryEntry";
        Description = "A stored event: its stable type name, when, who, under which correlation and causation, and its data.";
        Field<NonNullGraphType<IntGraphType>>("version").Resolve(c => (int)c.Source.Version);
        Field<NonNullGraphType<StringGraphType>>("type").Description("The event's stable name, e.g. vm.operation-requested.v1.").Resolve(c => c.Source.Type);
        Field<NonNullGraphType<DateTimeOffsetGraphType>>("at").Resolve(c => c.Source.At);
        Field<StringGraphType>("actor").Resolve(c => c.Source.Actor);
        Field<StringGraphType>("correlationId").Resolve(c => c.Source.CorrelationId);
        Field<StringGraphType>("causationId").Resolve(c => c.Source.CausationId);
        Field<NonNullGraphType<StringGraphType>>("data").Description("The event as JSON (its schema: schemas/events/<type>.schema.json).").Resolve(c => c.Source.Data);
    }
}
