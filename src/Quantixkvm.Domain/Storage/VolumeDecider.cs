using System.Collections.Immutable;

namespace Quantixkvm.Domain.Storage;

using StorageDecision = Decision<StorageEvent>;

public sealed record VolumeState(
    Guid VolumeId, StorageStatus? Status, Guid PoolId, string Name, VolumeFormat Format, long SizeBytes, VolumeSource Source, bool IsImage,
    ImmutableList<string> Snapshots, StorageOperations Operations)
{
    public static VolumeState Initial { get; } = new(
        Guid.Empty, null, Guid.Empty, "", VolumeFormat.Qcow2, 0, VolumeSource.Blank, false, [], StorageOperations.Empty);

    public string Describe() => Status is { } status
        ? Operations.Current is { } op ? StorageOperations.Name(op.Kind).ToUpperInvariant() : status.ToString().ToUpperInvariant()
        : "NONEXISTENT";
}

/// <summary>
/// The volume aggregate: create (blank, copy, linked clone or image import), resize (grow only),
/// snapshots, delete. Refusals that depend on other aggregates (attached to a VM, has linked clones,
/// pool full) use the facts the control plane passes in.
/// </summary>
public static class VolumeDecider
{
    public static Guid VolumeIdForCreate(string commandId) => DeterministicId.From("volume", commandId);

    public static StorageDecision Decide(StorageCommand command, VolumeState state)
    {
        if (StorageOperations.IsOutcome(command))
        {
            return state.Status is null
                ? StorageDecision.Reject(RejectionCode.NotFound, "the volume does not exist", state.Describe())
                : state.Operations.DecideOutcome(state.VolumeId, command, state.Describe(), (op, completed) => OnSuccess(state, op, completed));
        }

        if (command is CreateVolume create)
        {
            return DecideCreate(create, state);
        }

        var (kind, hostId, timeouts) = command switch
        {
            ResizeVolume c => (StorageOperationKind.ResizeVolume, c.HostId, c.Timeouts),
            DeleteVolume c => (StorageOperationKind.DeleteVolume, c.HostId, c.Timeouts),
            SnapshotVolume c => (StorageOperationKind.SnapshotVolume, c.HostId, c.Timeouts),
            RevertVolume c => (StorageOperationKind.RevertVolume, c.HostId, c.Timeouts),
            DeleteVolumeSnapshot c => (StorageOperationKind.DeleteVolumeSnapshot, c.HostId, c.Timeouts),
            _ => throw new ArgumentOutOfRangeException(nameof(command), command.GetType().Name, "not a volume command"),
        };
        var name = StorageOperations.Name(kind);
        if (state.Status is null or StorageStatus.Deleted)
        {
            return state.Status is null
                ? StorageDecision.Reject(RejectionCode.NotFound, "the volume does not exist", state.Describe(), name)
                : state.Operations.Precheck(state.VolumeId, command.Context.CommandId, kind, state.Describe(), "volume")
                    ?? StorageDecision.Reject(RejectionCode.NotFound, $"volume '{state.Name}' was deleted", state.Describe(), name);
        }

        if (state.Operations.Precheck(state.VolumeId, command.Context.CommandId, kind, state.Describe(), "volume") is { } early)
        {
            return early;
        }

        if (kind != StorageOperationKind.DeleteVolume && state.Status != StorageStatus.Ready)
        {
            return StorageDecision.Reject(RejectionCode.InvalidState, $"cannot {name} volume '{state.Name}' while it is {state.Describe()}",
                state.Describe(), name);
        }

        (RejectionCode Code, string Message)? problem = command switch
        {
            ResizeVolume { AttachedTo: { } vm } => (RejectionCode.InvalidState, $"volume '{state.Name}' is attached to VM {vm}; detach it before resizing"),
            ResizeVolume c when c.SizeBytes < state.SizeBytes => (RejectionCode.Validation,
                $"volume '{state.Name}' cannot shrink from {state.SizeBytes} to {c.SizeBytes} bytes: shrinking would cut off data the guest may use"),
            ResizeVolume c when c.SizeBytes == state.SizeBytes => (RejectionCode.Validation, $"volume '{state.Name}' is already {c.SizeBytes} bytes"),
            ResizeVolume c when StoragePaths.CheckSize(c.SizeBytes) is { } size => (RejectionCode.Validation, size),
            DeleteVolume { AttachedTo: { } vm } => (RejectionCode.InvalidState, $"volume '{state.Name}' is attached to VM {vm}; detach it first"),
            DeleteVolume { LinkedClones: > 0 } c => (RejectionCode.InvalidState,
                $"volume '{state.Name}' is the base of {c.LinkedClones} linked clone(s); delete them first"),
            SnapshotVolume c when ResourceNames.Check("snapshot", c.Name) is { } invalid => (RejectionCode.Validation, invalid),
            SnapshotVolume c when state.Snapshots.Contains(c.Name) => (RejectionCode.Conflict, $"volume '{state.Name}' already has a snapshot named '{c.Name}'"),
            RevertVolume c when !state.Snapshots.Contains(c.Name) => (RejectionCode.NotFound, $"volume '{state.Name}' has no snapshot named '{c.Name}'"),
            DeleteVolumeSnapshot c when !state.Snapshots.Contains(c.Name) => (RejectionCode.NotFound, $"volume '{state.Name}' has no snapshot named '{c.Name}'"),
            // A running guest writes to the volume: its snapshots go through the VM, which can pause I/O consistently.
            SnapshotVolume { AttachedTo: not null } or RevertVolume { AttachedTo: not null } or DeleteVolumeSnapshot { AttachedTo: not null } =>
                (RejectionCode.InvalidState, $"volume '{state.Name}' is attached to a VM; detach it first, or use the VM's snapshots"),
            _ => null,
        };
        if (problem is { } refused)
        {
            return StorageDecision.Reject(refused.Code, refused.Message, state.Describe(), name);
        }

        var request = state.Operations.Request(
            state.VolumeId, command.Context, kind, hostId, timeouts.For(kind),
            name: command switch
            {
                SnapshotVolume c => c.Name,
                RevertVolume c => c.Name,
                DeleteVolumeSnapshot c => c.Name,
                _ => null,
            },
            sizeBytes: (command as ResizeVolume)?.SizeBytes);
        return StorageDecision.Accept(request.OperationId, request);
    }

    public static VolumeState Evolve(VolumeState state, StorageEvent @event) => @event switch
    {
        VolumeCreated e => state with
        {
            VolumeId = e.VolumeId, Status = StorageStatus.Creating, PoolId = e.PoolId, Name = e.Name, Format = e.Format, SizeBytes = e.SizeBytes,
            Source = e.Source, IsImage = e.IsImage,
        },
        StorageOperationSucceeded e when KindOf(state, e.OperationId) == StorageOperationKind.CreateVolume =>
            state with { Status = StorageStatus.Ready, Operations = state.Operations.Apply(e) },
        // A create that failed or timed out leaves only a record (the host may hold a part of it): it can be deleted.
        StorageOperationFailed or StorageOperationTimedOut when CreateOf(state, @event) =>
            state with { Status = StorageStatus.Failed, Operations = state.Operations.Apply(@event) },
        // The size the volume really has is the host's reading; an import or clone learns it only then.
        VolumeObserved e => state with { SizeBytes = e.CapacityBytes },
        VolumeSnapshotTaken e => state with { Snapshots = state.Snapshots.Add(e.Name) },
        VolumeSnapshotDeleted e => state with { Snapshots = state.Snapshots.Remove(e.Name) },
        VolumeDeleted => state with { Status = StorageStatus.Deleted },
        _ => state with { Operations = state.Operations.Apply(@event) },
    };

    private static bool CreateOf(VolumeState state, StorageEvent e) => e switch
    {
        StorageOperationFailed f => KindOf(state, f.OperationId) == StorageOperationKind.CreateVolume,
        StorageOperationTimedOut t => KindOf(state, t.OperationId) == StorageOperationKind.CreateVolume,
        _ => false,
    };

    private static StorageOperationKind? KindOf(VolumeState state, Guid operationId) =>
        state.Operations.All.TryGetValue(operationId, out var op) ? op.Kind : null;

    private static StorageDecision DecideCreate(CreateVolume command, VolumeState state)
    {
        var operationId = StorageOperations.OperationIdFor(command.VolumeId, command.Context.CommandId);
        if (state.Status is not null)
        {
            return state.Operations.All.ContainsKey(operationId) && (state.Name, state.PoolId) == (command.Name, command.PoolId)
                ? StorageDecision.Accept(operationId)
                : StorageDecision.Reject(RejectionCode.Conflict, $"volume {command.VolumeId} already exists", state.Describe(), "create-volume");
        }

        var source = command.Source;
        var problem = ResourceNames.Check("volume", command.Name)
            ?? (source.ImportUrl is null && source.CloneOf is null ? StoragePaths.CheckSize(command.SizeBytes) : null)
            ?? (source.ImportUrl is { } url ? ImportSources.Check(url, source.Sha256) : null)
            ?? (source.Linked && source.CloneOf is null ? "a linked clone needs the volume it is cloned from" : null)
            ?? (command.PoolKind == PoolKind.Rbd && command.Format != VolumeFormat.Raw ? "volumes in an RBD pool are RAW (Ceph thin-provisions and clones them itself)" : null)
            ?? (source.Linked && command.PoolKind == PoolKind.Dir && command.Format != VolumeFormat.Qcow2
                ? "a linked clone in a dir pool must be qcow2 (it is an overlay on its base)" : null)
            ?? (source.ImportUrl is not null && source.CloneOf is not null ? "a volume is either imported or cloned, not both" : null);
        if (problem is not null)
        {
            return StorageDecision.Reject(RejectionCode.Validation, problem, command: "create-volume");
        }

        // Thin formats still need the room in the end: refuse what the pool cannot hold even empty of everything else.
        if (!source.Linked && source.ImportUrl is null && command.PoolAvailableBytes is { } available && command.SizeBytes > available)
        {
            return StorageDecision.Reject(RejectionCode.InvalidState,
                $"the pool has {available} bytes free; a {command.SizeBytes}-byte volume does not fit", command: "create-volume");
        }

        return StorageDecision.Accept(
            operationId,
            new VolumeCreated(command.VolumeId, command.PoolId, command.Name, command.Format, command.SizeBytes, source, command.IsImage, command.Context.Now),
            state.Operations.Request(command.VolumeId, command.Context, StorageOperationKind.CreateVolume, command.HostId,
                command.Timeouts.For(StorageOperationKind.CreateVolume, source)));
    }

    private static IEnumerable<StorageEvent> OnSuccess(VolumeState state, StorageOperation operation, CompleteStorageOperation completed)
    {
        var now = completed.Context.Now;
        switch (operation.Kind)
        {
            case StorageOperationKind.DeleteVolume:
                yield return new VolumeDeleted(state.VolumeId, now);
                yield break;
            case StorageOperationKind.SnapshotVolume:
                yield return new VolumeSnapshotTaken(state.VolumeId, operation.Name!, now);
                break;
            case StorageOperationKind.RevertVolume:
                yield return new VolumeReverted(state.VolumeId, operation.Name!, now);
                break;
            case StorageOperationKind.DeleteVolumeSnapshot:
                yield return new VolumeSnapshotDeleted(state.VolumeId, operation.Name!, now);
                break;
        }

        if (completed.Observed is { CapacityBytes: { } capacity } observed)
        {
            yield return new VolumeObserved(state.VolumeId, capacity, observed.AllocationBytes ?? 0, observed.Path, now);
        }
    }
}

/// <summary>Where images may be imported from: http(s) or file URLs, each with the SHA-256 it must match.</summary>
public static class ImportSources
{
    public static string? Check(string url, string? sha256)
    {
        // A bare path parses as an implicit file URI on Unix: ask for the scheme to be written out.
        if (!url.Contains("://", StringComparison.Ordinal) || !Uri.TryCreate(url, UriKind.Absolute, out var uri)
            || uri.Scheme is not ("http" or "https" or "file"))
        {
            return $"image URL '{url}' must be an absolute http, https or file URL";
        }

        return sha256 is { Length: 64 } && sha256.All(Uri.IsHexDigit)
            ? null
            : "an image import needs the image's SHA-256 checksum (64 hex digits), so a corrupt or wrong download is refused";
    }
}
