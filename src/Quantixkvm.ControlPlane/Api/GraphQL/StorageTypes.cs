using GraphQL;
using GraphQL.Types;
using Marten;
using Quantixkvm.ControlPlane.Commands;
using Quantixkvm.ControlPlane.ReadModels;
using Quantixkvm.Domain.Storage;
using Quantixkvm.Domain.Templates;
using Quantixkvm.Domain.Vms;

namespace Quantixkvm.ControlPlane.Api.GraphQL;

public sealed class PoolKindType : EnumerationGraphType<PoolKind>
{
    public PoolKindType() => Description = "DIR: files in a folder of one host. RBD: a Ceph pool shared by every host.";
}

public sealed class VolumeFormatType : EnumerationGraphType<VolumeFormat>
{
    public VolumeFormatType() => Description = "RAW or QCOW2 (the names qemu-img uses).";

    // The default constant case would split "Qcow2" into QCOW_2.
    protected override string ChangeEnumCase(string val) => val.ToUpperInvariant();
}

public sealed class StorageStatusType : EnumerationGraphType<StorageStatus>
{
    public StorageStatusType() => Description = "CREATING until the host made it; READY; FAILED if making it failed (it can be deleted); DELETED.";
}

public sealed class StorageOperationKindType : EnumerationGraphType<StorageOperationKind>;

public sealed class DiskBusType : EnumerationGraphType<DiskBus>;

public sealed class AttachmentStateType : EnumerationGraphType<AttachmentState>;

public sealed class StoragePoolType : ObjectGraphType<StoragePoolView>
{
    public StoragePoolType()
    {
        Name = "StoragePool";
        Description = "Where volumes live: a folder on one host (DIR) or a Ceph pool (RBD). Capacity is what the host's libvirt last reported.";
        Field<NonNullGraphType<IdGraphType>>("id").Resolve(c => c.Source.Id);
        Field(p => p.Name);
        Field<NonNullGraphType<PoolKindType>>("kind").Resolve(c => c.Source.Location.Kind);
        Field<IdGraphType>("hostId").Description("DIR pools: the host the folder is on.").Resolve(c => c.Source.Location.HostId);
        Field<StringGraphType>("path").Resolve(c => c.Source.Location.Path);
        Field<StringGraphType>("cephPool").Resolve(c => c.Source.Location.CephPool);
        Field<ListGraphType<NonNullGraphType<StringGraphType>>>("cephMonitors").Resolve(c => c.Source.Location.CephMonitors);
        Field<StringGraphType>("cephUser").Resolve(c => c.Source.Location.CephUser);
        Field<NonNullGraphType<StorageStatusType>>("status").Resolve(c => c.Source.Status);
        Field<LongGraphType>("capacityBytes").Resolve(c => c.Source.CapacityBytes);
        Field<LongGraphType>("allocationBytes").Resolve(c => c.Source.AllocationBytes);
        Field<LongGraphType>("availableBytes").Resolve(c => c.Source.AvailableBytes);
        Field<DateTimeOffsetGraphType>("capacityObservedAt").Resolve(c => c.Source.CapacityObservedAt);
        Field<StringGraphType>("lastError").Resolve(c => c.Source.LastError);
        Field<NonNullGraphType<IntGraphType>>("version").Resolve(c => (int)c.Source.Version);
        Field<StorageOperationType>("currentOperation").ResolveAsync(async c => c.Source.CurrentOperationId is { } id
            ? await Session(c).LoadAsync<StorageOperationView>(id, c.CancellationToken)
            : null);
        Field<NonNullGraphType<ListGraphType<NonNullGraphType<VolumeType>>>>("volumes").ResolveAsync(async c =>
            await Session(c).Query<VolumeView>().Where(v => v.PoolId == c.Source.Id && v.Status != StorageStatus.Deleted).OrderBy(v => v.Name)
                .ToListAsync(c.CancellationToken));
    }

    internal static IQuerySession Session(IResolveFieldContext c) => c.RequestServices!.GetRequiredService<IQuerySession>();
}

public sealed class VolumeType : ObjectGraphType<VolumeView>
{
    public VolumeType()
    {
        Name = "Volume";
        Description = "A disk image in a pool: blank, a copy or linked clone of another volume, or an imported image (isImage).";
        Field<NonNullGraphType<IdGraphType>>("id").Resolve(c => c.Source.Id);
        Field(v => v.Name);
        Field<NonNullGraphType<IdGraphType>>("poolId").Resolve(c => c.Source.PoolId);
        Field<StoragePoolType>("pool").ResolveAsync(async c => await StoragePoolType.Session(c).LoadAsync<StoragePoolView>(c.Source.PoolId, c.CancellationToken));
        Field<NonNullGraphType<VolumeFormatType>>("format").Resolve(c => c.Source.Format);
        Field<NonNullGraphType<BooleanGraphType>>("isImage").Resolve(c => c.Source.IsImage);
        Field<NonNullGraphType<StorageStatusType>>("status").Resolve(c => c.Source.Status);
        Field<NonNullGraphType<LongGraphType>>("sizeBytes").Description("The virtual size: as asked, then as the host reported it.").Resolve(c => c.Source.SizeBytes);
        Field<LongGraphType>("allocationBytes").Resolve(c => c.Source.AllocationBytes);
        Field<StringGraphType>("path").Description("Where the host's libvirt keeps it.").Resolve(c => c.Source.Path);
        Field<IdGraphType>("cloneOf").Resolve(c => c.Source.Source.CloneOf);
        Field<NonNullGraphType<BooleanGraphType>>("linked").Description("A linked clone: an overlay on cloneOf, which cannot be deleted while it exists.")
            .Resolve(c => c.Source.Source.Linked);
        Field<StringGraphType>("importUrl").Resolve(c => c.Source.Source.ImportUrl);
        Field<StringGraphType>("sha256").Resolve(c => c.Source.Source.Sha256);
        Field<NonNullGraphType<ListGraphType<NonNullGraphType<StringGraphType>>>>("snapshots").Resolve(c => c.Source.Snapshots);
        Field<VmType>("attachedTo").ResolveAsync(async c => c.Source.AttachedToVmId is { } vm
            ? await StoragePoolType.Session(c).LoadAsync<VmView>(vm, c.CancellationToken)
            : null);
        Field<AttachmentStateType>("attachment").Resolve(c => c.Source.Attachment);
        Field<StringGraphType>("targetDev").Description("The device name in the VM it is attached to (vda, vdb, …).").Resolve(c => c.Source.TargetDev);
        Field<StringGraphType>("lastError").Resolve(c => c.Source.LastError);
        Field<NonNullGraphType<IntGraphType>>("version")
            .Description("The volume's stream version; pass it as expectedVersion to act only on this state.")
            // Read from the stream itself: this read model also folds VM events, so it has no stream version of its own.
            .ResolveAsync(async c => (int)((await StoragePoolType.Session(c).Events.FetchStreamStateAsync(c.Source.Id, c.CancellationToken))?.Version ?? 0));
        Field<StorageOperationType>("currentOperation").ResolveAsync(async c => c.Source.CurrentOperationId is { } id
            ? await StoragePoolType.Session(c).LoadAsync<StorageOperationView>(id, c.CancellationToken)
            : null);
        Field<NonNullGraphType<DateTimeOffsetGraphType>>("createdAt").Resolve(c => c.Source.CreatedAt);
    }
}

public sealed class StorageOperationType : ObjectGraphType<StorageOperationView>
{
    public StorageOperationType()
    {
        Name = "StorageOperation";
        Description = "One command's work on a pool or volume, carried out by a host's agent, with a deadline: it always ends.";
        Field<NonNullGraphType<IdGraphType>>("id").Resolve(c => c.Source.Id);
        Field<NonNullGraphType<StorageOperationKindType>>("kind").Resolve(c => c.Source.Kind);
        Field<NonNullGraphType<OperationStatusType>>("status").Resolve(c => c.Source.Status);
        Field<NonNullGraphType<IdGraphType>>("targetId").Description("The pool or volume.").Resolve(c => c.Source.TargetId);
        Field<NonNullGraphType<IdGraphType>>("hostId").Resolve(c => c.Source.HostId);
        Field<NonNullGraphType<IdGraphType>>("commandId").Resolve(c => c.Source.CommandId);
        Field<NonNullGraphType<StringGraphType>>("actor").Resolve(c => c.Source.Actor);
        Field<StringGraphType>("name").Description("The snapshot, for snapshot operations.").Resolve(c => c.Source.Name);
        Field<LongGraphType>("sizeBytes").Description("The new size, for a resize.").Resolve(c => c.Source.SizeBytes);
        OperationType.ProgressFields(this);
    }
}

public sealed record StorageOperationPayload(StorageOperationView Operation, StoragePoolView? Pool, VolumeView? Volume);

public sealed class StorageOperationPayloadType : ObjectGraphType<StorageOperationPayload>
{
    public StorageOperationPayloadType()
    {
        Name = "StorageOperationPayload";
        Field<NonNullGraphType<StorageOperationType>>("operation").Resolve(c => c.Source.Operation);
        Field<StoragePoolType>("pool").Resolve(c => c.Source.Pool);
        Field<VolumeType>("volume").Resolve(c => c.Source.Volume);
    }
}

public sealed class TemplateType : ObjectGraphType<TemplateView>
{
    public TemplateType()
    {
        Name = "Template";
        Description = "Hardware plus the image a VM boots from; createVmFromTemplate clones the image for each VM.";
        Field<NonNullGraphType<IdGraphType>>("id").Resolve(c => c.Source.Id);
        Field<NonNullGraphType<StringGraphType>>("name").Resolve(c => c.Source.Spec.Name);
        Field<NonNullGraphType<StringGraphType>>("description").Resolve(c => c.Source.Spec.Description);
        Field<NonNullGraphType<IntGraphType>>("vcpus").Resolve(c => c.Source.Spec.Vcpus);
        Field<NonNullGraphType<IntGraphType>>("memoryMiB").Resolve(c => c.Source.Spec.MemoryMiB);
        Field<LongGraphType>("diskSizeBytes").Resolve(c => c.Source.Spec.DiskSizeBytes);
        Field<IdGraphType>("imageId").Resolve(c => c.Source.Spec.ImageVolumeId);
        Field<VolumeType>("image").ResolveAsync(async c =>
            await StoragePoolType.Session(c).LoadAsync<VolumeView>(c.Source.Spec.ImageVolumeId, c.CancellationToken));
        Field<NonNullGraphType<DateTimeOffsetGraphType>>("createdAt").Resolve(c => c.Source.CreatedAt);
    }
}

public sealed class VmDiskType : ObjectGraphType<VmDiskView>
{
    public VmDiskType()
    {
        Name = "VmDisk";
        Field<NonNullGraphType<IdGraphType>>("volumeId").Resolve(c => c.Source.Disk.VolumeId);
        Field<VolumeType>("volume").ResolveAsync(async c => await StoragePoolType.Session(c).LoadAsync<VolumeView>(c.Source.Disk.VolumeId, c.CancellationToken));
        Field<NonNullGraphType<StringGraphType>>("targetDev").Resolve(c => c.Source.Disk.TargetDev);
        Field<NonNullGraphType<DiskBusType>>("bus").Resolve(c => c.Source.Disk.Bus);
        Field<IntGraphType>("bootOrder").Resolve(c => c.Source.Disk.BootOrder);
        Field<NonNullGraphType<BooleanGraphType>>("readOnly").Resolve(c => c.Source.Disk.ReadOnly);
        Field<NonNullGraphType<AttachmentStateType>>("state").Resolve(c => c.Source.State);
    }
}

public sealed class VmSnapshotType : ObjectGraphType<VmSnapshot>
{
    public VmSnapshotType()
    {
        Name = "VmSnapshot";
        Description = "A snapshot of a VM: with memory when taken while it ran or was paused, of its disks only when stopped.";
        Field(s => s.Name);
        Field<StringGraphType>("parent").Resolve(c => c.Source.Parent);
        Field(s => s.Description);
        Field<NonNullGraphType<BooleanGraphType>>("withMemory").Resolve(c => c.Source.WithMemory);
        Field<NonNullGraphType<PowerStateType>>("powerState").Description("The VM's state when the snapshot was taken.").Resolve(c => c.Source.PowerState);
        Field<NonNullGraphType<DateTimeOffsetGraphType>>("takenAt").Resolve(c => c.Source.TakenAt);
    }
}

public sealed class CloudInitInfoType : ObjectGraphType<CloudInitConfig>
{
    public CloudInitInfoType()
    {
        Name = "CloudInit";
        Description = "The VM's NoCloud data. user-data may hold secrets: only whether it is set is shown.";
        Field<NonNullGraphType<StringGraphType>>("metaData").Resolve(c => c.Source.MetaData);
        Field<NonNullGraphType<BooleanGraphType>>("hasUserData").Resolve(c => c.Source.UserData is not null);
        Field<StringGraphType>("networkConfig").Resolve(c => c.Source.NetworkConfig);
    }
}

public sealed class DiskInputType : InputObjectGraphType<DiskRequest>
{
    public DiskInputType()
    {
        Name = "DiskInput";
        Field<NonNullGraphType<IdGraphType>>("volumeId");
        Field<DiskBusType>("bus").Description("Default VIRTIO.");
        Field<IntGraphType>("bootOrder").Description("1 boots first; disks without one are not booted from.");
        Field<BooleanGraphType>("readOnly");
    }

    public override object ParseDictionary(IDictionary<string, object?> value) => new DiskRequest(
        RequestContext.ParseId(value["volumeId"]?.ToString(), "volumeId"),
        value.TryGetValue("bus", out var bus) && bus is DiskBus b ? b : DiskBus.Virtio,
        value.TryGetValue("bootOrder", out var order) ? (int?)order : null,
        value.TryGetValue("readOnly", out var ro) && ro is true);
}

public sealed class CloudInitInputType : InputObjectGraphType<CloudInitRequest>
{
    public CloudInitInputType()
    {
        Name = "CloudInitInput";
        Description = "Becomes a NoCloud seed disk (cidata): meta-data with the VM's id as instance-id, the hostname and SSH keys; user-data and network-config as given.";
        Field<StringGraphType>("hostname").Description("Default: the VM's name.");
        Field<ListGraphType<NonNullGraphType<StringGraphType>>>("sshAuthorizedKeys");
        Field<StringGraphType>("userData");
        Field<StringGraphType>("networkConfig");
    }

    public override object ParseDictionary(IDictionary<string, object?> value) => new CloudInitRequest(
        value.TryGetValue("hostname", out var h) ? h as string : null,
        value.TryGetValue("sshAuthorizedKeys", out var k) && k is IEnumerable<object?> keys ? keys.Select(x => x?.ToString() ?? "").ToList() : null,
        value.TryGetValue("userData", out var u) ? u as string : null,
        value.TryGetValue("networkConfig", out var n) ? n as string : null);
}

public sealed class VmDiskDriftType : ObjectGraphType<VmDiskDriftObserved>
{
    public VmDiskDriftType()
    {
        Name = "VmDiskDrift";
        Description = "The host's domain does not hold the disks the VM's record lists, as its last inventory showed.";
        Field<NonNullGraphType<ListGraphType<NonNullGraphType<IdGraphType>>>>("missingVolumeIds").Description("Volumes the record lists that the domain lacks.")
            .Resolve(c => c.Source.Missing);
        Field<NonNullGraphType<ListGraphType<NonNullGraphType<StringGraphType>>>>("unexpectedSerials")
            .Description("Serials of disks the domain holds that are none of the VM's volumes.").Resolve(c => c.Source.Unexpected);
        Field<NonNullGraphType<DateTimeOffsetGraphType>>("observedAt").Resolve(c => c.Source.ObservedAt);
    }
}
