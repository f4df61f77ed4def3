using System.Text.Json.Serialization;
using JasperFx.Events;
using Marten.Events.Aggregation;
using Quantixkvm.Domain.Vms;

namespace Quantixkvm.ControlPlane.ReadModels;

/// <summary>A VM as the API shows it: desired, in-flight and observed state side by side.</summary>
public sealed record VmView
{
    public Guid Id { get; init; }
    public string Name { get; init; } = "";
    public int Vcpus { get; init; }
    public int MemoryMiB { get; init; }
    public Guid HostId { get; init; }
    public PowerState PowerState { get; init; } = PowerState.Unknown;
    public PowerState DesiredPowerState { get; init; } = PowerState.Stopped;
    public Guid? CurrentOperationId { get; init; }

    /// <summary>The VM's disks, including ones being attached or detached (see <see cref="VmDiskView.State"/>).</summary>
    public IReadOnlyList<VmDiskView> Disks { get; init; } = [];

    /// <summary>The VM's NICs, including ones being attached or detached; addresses and link as the network gave them.</summary>
    public IReadOnlyList<VmNicView> Nics { get; init; } = [];

    public IReadOnlyList<VmSnapshot> Snapshots { get; init; } = [];
    public string? CurrentSnapshot { get; init; }

    /// <summary>What the host's domain lacks or holds beyond <see cref="Disks"/>, as its last inventory showed; null when they agree.</summary>
    public VmDiskDriftObserved? DiskDrift { get; init; }

    /// <summary>Kept for the agent's seed disk; user-data may hold secrets, so the API shows only meta-data.</summary>
    public CloudInitConfig? CloudInit { get; init; }

    public HaPriority HaPriority { get; init; } = HaPriority.Medium;

    /// <summary>The last placement decision for the VM (create, migration or HA restart), with its reasons.</summary>
    public VmPlaced? LastPlacement { get; init; }

    /// <summary>The move under way, if any (see <see cref="MigrationView"/>).</summary>
    public Guid? MigrationId { get; init; }

    /// <summary>Why HA could not restart the VM after its host was fenced; null once it moved.</summary>
    public string? RecoveryBlockedReason { get; init; }

    /// <summary>The stream version: what a client passes back as <c>expectedVersion</c>.</summary>
    public long Version { get; init; }
    public DateTimeOffset CreatedAt { get; init; }
    public DateTimeOffset UpdatedAt { get; init; }
    public DateTimeOffset? DeletedAt { get; init; }

    /// <summary>
    /// The current operation as it was at this view's version; set only on change-feed snapshots, so a
    /// subscriber sees the operation as of the event, not as it is when the message is resolved. Never stored.
    /// </summary>
    [JsonIgnore]
    public OperationView? CurrentOperationSnapshot { get; init; }

    /// <summary>Pure: the view after one more event. Shared by the projection and the change feed.</summary>
    public static VmView? After(VmView? view, IEvent @event)
    {
        var updated = (@event.Data, view) switch
        {
            (VmCreated e, _) => new VmView
            {
                Id = e.VmId, Name = e.Name, Vcpus = e.Vcpus, MemoryMiB = e.MemoryMiB, HostId = e.HostId, CreatedAt = e.CreatedAt,
            },
            (_, null) => null,
            (VmOperationRequested e, _) => view with { DesiredPowerState = e.DesiredPowerState, CurrentOperationId = e.OperationId },
            (VmOperationSucceeded e, _) => Finished(view, e.OperationId) with { PowerState = e.ObservedPowerState },
            (VmPowerStateObserved e, _) => view with { PowerState = e.ObservedPowerState },
            (VmDeleted e, _) => view with { DeletedAt = e.DeletedAt, CurrentOperationId = null },
            (VmDiskAttachRequested e, _) => view with { Disks = [.. view.Disks, new VmDiskView(e.Disk, AttachmentState.Attaching)] },
            (VmDiskAttached e, _) => view with
            {
                Disks = [.. view.Disks.Where(d => d.Disk.VolumeId != e.Disk.VolumeId), new VmDiskView(e.Disk, AttachmentState.Attached)],
            },
            (VmDiskDetachRequested e, _) => view with
            {
                Disks = view.Disks.Select(d => d.Disk.VolumeId == e.VolumeId ? d with { State = AttachmentState.Detaching } : d).ToList(),
            },
            (VmDiskDetached e, _) => view with { Disks = view.Disks.Where(d => d.Disk.VolumeId != e.VolumeId).ToList() },
            (VmNicAttachRequested e, _) => view with { Nics = [.. view.Nics, new VmNicView(e.Nic, AttachmentState.Attaching)] },
            (VmNicAttached e, _) => view with
            {
                Nics = [.. view.Nics.Where(n => n.Nic.PortId != e.Nic.PortId), new VmNicView(e.Nic, AttachmentState.Attached)],
            },
            (VmNicDetachRequested e, _) => view with
            {
                Nics = [.. view.Nics.Select(n => n.Nic.PortId == e.PortId ? n with { State = AttachmentState.Detaching } : n)],
            },
            (VmNicDetached e, _) => view with { Nics = [.. view.Nics.Where(n => n.Nic.PortId != e.PortId)] },
            (VmDiskDriftObserved e, _) => view with { DiskDrift = e.Missing.Count + e.Unexpected.Count == 0 ? null : e },
            (VmCloudInitConfigured e, _) => view with { CloudInit = new CloudInitConfig(e.UserData, e.MetaData, e.NetworkConfig) },
            (VmSnapshotTaken e, _) => view with { Snapshots = [.. view.Snapshots, e.Snapshot], CurrentSnapshot = e.Snapshot.Name },
            (VmSnapshotReverted e, _) => view with { CurrentSnapshot = e.Name },
            (VmSnapshotDeleted e, _) => WithoutSnapshot(view, e.Name),
            (VmMigrationRequested e, _) => view with { MigrationId = e.MigrationId },
            (VmRelocated e, _) => view with { HostId = e.ToHostId, RecoveryBlockedReason = null, PowerState = PowerState.Unknown },
            (VmMigrated e, _) => view with { HostId = e.ToHostId, MigrationId = null },
            (VmMigrationFailed, _) => view with { MigrationId = null },
            (VmHaPrioritySet e, _) => view with { HaPriority = e.Priority },
            (VmPlaced e, _) => view with { LastPlacement = e },
            (VmRecoveryBlocked e, _) => view with { RecoveryBlockedReason = e.Reason },
            // A detach that failed leaves the disk attached.
            (VmOperationFailed or VmOperationTimedOut, _) => view with
            {
                Disks = view.Disks.Select(d => d.State == AttachmentState.Detaching ? d with { State = AttachmentState.Attached } : d).ToList(),
            } is var v && @event.Data is VmOperationFailed f ? Finished(v, f.OperationId) with { PowerState = f.ObservedPowerState }
                : Finished(v, ((VmOperationTimedOut)@event.Data).OperationId),
            _ => view,
        };
        return updated is null ? null : updated with { Version = @event.Version, UpdatedAt = AsStored(@event.Timestamp) };
    }

    /// <summary>
    /// The event's timestamp as the log keeps it: PostgreSQL stores microseconds, while an event projected inline carries the
    /// 100 ns ticks it was appended with. Without this the live view and one rebuilt from the log would differ.
    /// </summary>
    private static DateTimeOffset AsStored(DateTimeOffset timestamp) =>
        new(timestamp.Ticks - timestamp.Ticks % TimeSpan.TicksPerMicrosecond, timestamp.Offset);

    private static VmView WithoutSnapshot(VmView view, string name)
    {
        var parent = view.Snapshots.FirstOrDefault(s => s.Name == name)?.Parent;
        return view with
        {
            Snapshots = view.Snapshots.Where(s => s.Name != name).Select(s => s.Parent == name ? s with { Parent = parent } : s).ToList(),
            CurrentSnapshot = view.CurrentSnapshot == name ? parent : view.CurrentSnapshot,
        };
    }

    private static VmView Finished(VmView view, Guid operationId) =>
        view.CurrentOperationId == operationId ? view with { CurrentOperationId = null } : view;
}

public sealed class VmViewProjection : SingleStreamProjection<VmView, Guid>
{
    public override VmView? Evolve(VmView? snapshot, Guid id, IEvent e) => VmView.After(snapshot, e);
}

/// <summary>A disk of a VM and where it stands: being attached, attached, or being detached.</summary>
public sealed record VmDiskView(VmDisk Disk, AttachmentState State);

/// <summary>A NIC of a VM and where it stands: being attached, attached, or being detached.</summary>
public sealed record VmNicView(VmNic Nic, AttachmentState State);
