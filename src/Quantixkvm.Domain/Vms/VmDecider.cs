using System.Collections.Immutable;

namespace Quantixkvm.Domain.Vms;

using VmDecision = Decision<VmEvent>;

/// <summary>The VM aggregate: <see cref="Decide"/> turns a command into events or a rejection; <see cref="Evolve"/> folds them.</summary>
public static partial class VmDecider
{
    /// <summary>The id of the VM that a create command with this idempotency key makes.</summary>
    public static Guid VmIdForCreate(string commandId) => DeterministicId.From("vm", commandId);

    /// <summary>The id of the operation that this command id starts on this VM: a repeat finds the same one.</summary>
    public static Guid OperationIdFor(Guid vmId, string commandId) => DeterministicId.From("vm-operation", vmId.ToString(), commandId);

    public static VmDecision Decide(VmCommand command, VmState state) => command switch
    {
        CreateVm create => DecideCreate(create, state),
        MigrateVm migrate => DecideMigrate(migrate, state),
        CancelMigration cancel => DecideCancelMigration(cancel, state),
        RecoverVm recover => DecideRecover(recover, state),
        BlockRecovery blocked => DecideRecoveryBlocked(blocked, state),
        SetHaPriority priority => DecideHaPriority(priority, state),
        VmLifecycleCommand lifecycle => DecideLifecycle(lifecycle, state),
        MarkOperationStarted started => DecideStarted(started, state),
        CompleteOperation completed => DecideCompleted(completed, state),
        FailOperation failed => DecideFailed(failed, state),
        TimeOutOperation timeout => DecideTimeout(timeout, state),
        ObservePowerState observed => DecideObserved(observed, state),
        ObserveDisks observed => DecideDisks(observed, state),
        _ => throw new ArgumentOutOfRangeException(nameof(command), command.GetType().Name, "unknown VM command"),
    };

    public static VmState Evolve(VmState state, VmEvent @event) => @event switch
    {
        VmCreated e => state with
        {
            VmId = e.VmId,
            Lifecycle = VmLifecycle.Active,
            Name = e.Name,
            Vcpus = e.Vcpus,
            MemoryMiB = e.MemoryMiB,
            HostId = e.HostId,
            DesiredPowerState = PowerState.Stopped,
            ObservedPowerState = PowerState.Unknown,
        },
        VmOperationRequested e => state with
        {
            DesiredPowerState = e.DesiredPowerState,
            CurrentOperation = new VmOperation(e.OperationId, e.CommandId, e.Kind, e.Force, OperationStatus.Pending, e.Deadline),
            Operations = state.Operations.SetItem(e.OperationId, (e.Kind, e.Force, OperationStatus.Pending)),
        },
        // A "started" that arrives after the outcome records that the host began, and moves no status back.
        VmOperationStarted e => (state.CurrentOperation?.OperationId == e.OperationId ? WithStatus(state, e.OperationId, OperationStatus.Running) : state) with
        {
            CurrentOperation = state.CurrentOperation is { } op && op.OperationId == e.OperationId
                ? op with { Status = OperationStatus.Running }
                : state.CurrentOperation,
            StartedOperations = state.StartedOperations.Add(e.OperationId),
        },
        VmOperationSucceeded e => Finish(state, e.OperationId, OperationStatus.Succeeded).Reported(e.HostReportedAt) with
        {
            ObservedPowerState = e.ObservedPowerState,
        },
        VmOperationFailed e => Finish(state, e.OperationId, OperationStatus.Failed).Reported(e.HostReportedAt) with
        {
            ObservedPowerState = e.ObservedPowerState,
        },
        VmOperationTimedOut e => Finish(state, e.OperationId, OperationStatus.TimedOut),
        VmPowerStateObserved e => state.Reported(e.HostReportedAt) with { ObservedPowerState = e.ObservedPowerState },
        VmDeleted => state with { Lifecycle = VmLifecycle.Deleted, CurrentOperation = null },
        VmDiskAttachRequested e => state with { PendingDisks = state.PendingDisks.SetItem(e.OperationId, (e.Disk, true)) },
        VmDiskDetachRequested e => state.Disks.Find(d => d.VolumeId == e.VolumeId) is { } disk
            ? state with { PendingDisks = state.PendingDisks.SetItem(e.OperationId, (disk, false)) }
            : state,
        VmDiskAttached e => state with
        {
            // Also the confirmation that a disk whose detach failed is still attached: replace, never duplicate.
            Disks = state.Disks.Find(d => d.VolumeId == e.Disk.VolumeId) is { } held ? state.Disks.Replace(held, e.Disk) : state.Disks.Add(e.Disk),
            PendingDisks = state.PendingDisks.Remove(e.OperationId),
        },
        VmDiskDetached e => state with
        {
            Disks = state.Disks.RemoveAll(d => d.VolumeId == e.VolumeId), PendingDisks = state.PendingDisks.Remove(e.OperationId),
        },
        VmNicAttachRequested e => state with { PendingNics = state.PendingNics.SetItem(e.OperationId, (e.Nic, true)) },
        VmNicDetachRequested e => state.Nics.Find(n => n.PortId == e.PortId) is { } nic
            ? state with { PendingNics = state.PendingNics.SetItem(e.OperationId, (nic, false)) }
            : state,
        VmNicAttached e => state with
        {
            // Also the confirmation that a NIC whose detach failed is still attached: replace, never duplicate.
            Nics = state.Nics.Find(n => n.PortId == e.Nic.PortId) is { } held ? state.Nics.Replace(held, e.Nic) : state.Nics.Add(e.Nic),
            PendingNics = state.PendingNics.Remove(e.OperationId),
        },
        VmNicDetached e => state with
        {
            Nics = state.Nics.RemoveAll(n => n.PortId == e.PortId), PendingNics = state.PendingNics.Remove(e.OperationId),
        },
        VmCloudInitConfigured => state with { HasCloudInit = true },
        VmMigrationRequested e => state with { PendingMigration = e },
        // Nothing has been reported from the new host yet: the VM's state there is unknown until its Recover says.
        VmRelocated e => state with { HostId = e.ToHostId, RecoveryBlockedReason = null, ObservedPowerState = PowerState.Unknown },
        VmMigrated e => state with { HostId = e.ToHostId, PendingMigration = null },
        // A cold move with restart powers the VM off first: if the move fails, the VM should run again, not stay asked to stop.
        VmMigrationFailed => state with
        {
            PendingMigration = null,
            DesiredPowerState = state.PendingMigration is { Mode: MigrationMode.Cold, RestartOnTarget: true } ? PowerState.Running : state.DesiredPowerState,
        },
        VmHaPrioritySet e => state with { HaPriority = e.Priority },
        VmRecoveryBlocked e => state with { RecoveryBlockedReason = e.Reason },
        VmDiskDriftObserved e => state with { DiskDrift = e.Missing.Count + e.Unexpected.Count == 0 ? null : e },
        VmSnapshotRequested e => state with { PendingSnapshots = state.PendingSnapshots.SetItem(e.OperationId, e) },
        VmSnapshotTaken e => state with
        {
            Snapshots = state.Snapshots.Add(e.Snapshot), CurrentSnapshot = e.Snapshot.Name,
            PendingSnapshots = state.PendingSnapshots.Remove(e.OperationId),
        },
        VmSnapshotReverted e => state with { CurrentSnapshot = e.Name, PendingSnapshots = state.PendingSnapshots.Remove(e.OperationId) },
        VmSnapshotDeleted e => WithoutSnapshot(state, e.Name) with { PendingSnapshots = state.PendingSnapshots.Remove(e.OperationId) },
        _ => state,
    };

    /// <summary>Like libvirt: a deleted snapshot's children become its parent's, and "current" moves up to the parent.</summary>
    private static VmState WithoutSnapshot(VmState state, string name)
    {
        var parent = state.Snapshots.Find(s => s.Name == name)?.Parent;
        return state with
        {
            Snapshots = state.Snapshots.RemoveAll(s => s.Name == name).Select(s => s.Parent == name ? s with { Parent = parent } : s).ToImmutableList(),
            CurrentSnapshot = state.CurrentSnapshot == name ? parent : state.CurrentSnapshot,
        };
    }

    public static VmState Fold(IEnumerable<VmEvent> events) => events.Aggregate(VmState.Initial, Evolve);

    private static VmState WithStatus(VmState state, Guid operationId, OperationStatus status) =>
        state.Operations.TryGetValue(operationId, out var known)
            ? state with { Operations = state.Operations.SetItem(operationId, (known.Kind, known.Force, status)) }
            : state;

    private static VmState Finish(VmState state, Guid operationId, OperationStatus status) =>
        WithStatus(state, operationId, status) with
        {
            CurrentOperation = state.CurrentOperation?.OperationId == operationId ? null : state.CurrentOperation,
            PendingDisks = state.PendingDisks.Remove(operationId),
            PendingNics = state.PendingNics.Remove(operationId),
            PendingSnapshots = state.PendingSnapshots.Remove(operationId),
        };

    private static VmDecision DecideCreate(CreateVm command, VmState state)
    {
        var operationId = OperationIdFor(command.VmId, command.Context.CommandId);
        if (state.Lifecycle != VmLifecycle.None)
        {
            if (!state.Operations.ContainsKey(operationId))
            {
                return VmDecision.Reject(RejectionCode.Conflict, $"VM {command.VmId} already exists", state.Describe(), "create");
            }

            // A repeat must be the same command: a reused key with another spec is a client bug, not a retry.
            return (command.Name, command.Vcpus, command.MemoryMiB) == (state.Name, state.Vcpus, state.MemoryMiB)
                ? VmDecision.Accept(operationId)
                : VmDecision.Reject(
                    RejectionCode.Validation,
                    $"command id '{command.Context.CommandId}' already created VM '{state.Name}' ({state.Vcpus} vCPUs, {state.MemoryMiB} MiB); "
                    + "a different spec needs a new command id",
                    state.Describe(), "create");
        }

        var problems = VmLimits.Check(command.Name, command.Vcpus, command.MemoryMiB);
        if (problems.Count > 0)
        {
            return VmDecision.Reject(RejectionCode.Validation, string.Join("; ", problems), command: "create");
        }

        if (command.HostId == Guid.Empty)
        {
            return VmDecision.Reject(RejectionCode.NoHostAvailable, "no host was chosen for the VM", command: "create");
        }

        var disks = ImmutableList<VmDisk>.Empty;
        foreach (var request in command.Disks ?? [])
        {
            var problem = VmDisks.CheckNew(request, disks);
            if (problem is not null)
            {
                return VmDecision.Reject(RejectionCode.Validation, problem, command: "create");
            }

            disks = disks.Add(VmDisks.Assign(request, disks));
        }

        var nics = ImmutableList<VmNic>.Empty;
        foreach (var requested in command.Nics ?? [])
        {
            var (nic, problem) = VmNics.Check(requested, nics);
            if (problem is not null)
            {
                // At create the list itself is wrong: a port or MAC given twice is invalid input, not a clash with the VM.
                return VmDecision.Reject(RejectionCode.Validation, problem.Message, command: "create");
            }

            nics = nics.Add(nic!);
        }

        if (command.CloudInit is { } cloudInit && VmDisks.CheckCloudInit(cloudInit) is { } cloudInitProblem)
        {
            return VmDecision.Reject(RejectionCode.Validation, cloudInitProblem, command: "create");
        }

        var now = command.Context.Now;
        var events = new List<VmEvent> { new VmCreated(command.VmId, command.Name, command.Vcpus, command.MemoryMiB, command.HostId, now) };
        if (command.Placement is { } placement)
        {
            events.Add(new VmPlaced(command.VmId, "create", placement, now));
        }

        events.AddRange(disks.Select(d => new VmDiskAttached(command.VmId, operationId, d, now)));
        events.AddRange(nics.Select(n => new VmNicAttached(command.VmId, operationId, n, now)));
        if (command.CloudInit is { } config)
        {
            events.Add(new VmCloudInitConfigured(command.VmId, config.UserData, config.MetaData, config.NetworkConfig));
        }

        events.Add(new VmOperationRequested(
            command.VmId, operationId, command.Context.CommandId, OperationKind.Create, Force: false,
            command.Start ? PowerState.Running : PowerState.Stopped, command.HostId, command.Context.Actor, now,
            now + command.Timeouts.For(OperationKind.Create, force: false), Sequence: 1));
        return new VmDecision.Accepted(events, operationId);
    }

    private static VmDecision DecideLifecycle(VmLifecycleCommand command, VmState state)
    {
        var force = command is StopVm { Force: true };
        var name = VmPreconditions.CommandName(command.Kind, force);
        if (state.Lifecycle == VmLifecycle.None)
        {
            return VmDecision.Reject(RejectionCode.NotFound, "the VM does not exist", state.Describe(), name);
        }

        // A repeat is recognised before anything else, so retrying a delete that has finished is still a no-op.
        var operationId = OperationIdFor(state.VmId, command.Context.CommandId);
        if (state.Operations.TryGetValue(operationId, out var earlier))
        {
            return earlier.Kind == command.Kind && earlier.Force == force
                ? VmDecision.Accept(operationId)
                : VmDecision.Reject(
                    RejectionCode.Validation,
                    $"command id '{command.Context.CommandId}' was already used for a {VmPreconditions.CommandName(earlier.Kind, earlier.Force)} operation on this VM",
                    state.Describe(), name);
        }

        if (state.Lifecycle == VmLifecycle.Deleted)
        {
            return VmDecision.Reject(RejectionCode.NotFound, $"VM {state.VmId} was deleted", state.Describe(), name);
        }

        var events = new List<VmEvent>();
        var now = command.Context.Now;
        if (state.CurrentOperation is { } current)
        {
            if (!VmPreconditions.CanSupersede(current, command.Kind, force))
            {
                return VmDecision.Reject(
                    RejectionCode.InvalidState,
                    $"cannot {name} VM '{state.Name}': its {current.Kind.ToString().ToLowerInvariant()} operation {current.OperationId} "
                    + $"is still under way (deadline {current.Deadline:O})",
                    state.Describe(), name);
            }

            events.Add(new VmOperationFailed(
                state.VmId, current.OperationId, "SUPERSEDED", $"superseded by forced stop {operationId}",
                state.ObservedPowerState, now));
        }
        else
        {
            var allowed = VmPreconditions.AllowedFrom(command.Kind, force);
            if (!allowed.Contains(state.ObservedPowerState))
            {
                return VmDecision.Reject(
                    RejectionCode.InvalidState,
                    $"cannot {name} VM '{state.Name}' while it is {state.Describe()}; allowed only when "
                    + string.Join(" or ", allowed.Select(s => s.ToString().ToUpperInvariant())),
                    state.Describe(), name);
            }
        }

        var details = Details(command, state, operationId, name);
        if (details is VmDecision.Rejected refused)
        {
            return refused;
        }

        events.Add(new VmOperationRequested(
            state.VmId, operationId, command.Context.CommandId, command.Kind, force,
            VmPreconditions.DesiredAfter(command.Kind, state.DesiredPowerState), state.HostId, command.Context.Actor, now,
            now + command.Timeouts.For(command.Kind, force), state.NextOperationSequence));
        events.AddRange(((VmDecision.Accepted)details).Events);
        return new VmDecision.Accepted(events, operationId);
    }

    /// <summary>What a disk, NIC or snapshot command adds to its operation request: the device or snapshot it concerns.</summary>
    private static VmDecision Details(VmLifecycleCommand command, VmState state, Guid operationId, string name)
    {
        var running = state.ObservedPowerState is PowerState.Running or PowerState.Paused;
        switch (command)
        {
            case AttachDisk attach:
                if (state.Holds(attach.Disk.VolumeId))
                {
                    return VmDecision.Reject(RejectionCode.Conflict, $"volume {attach.Disk.VolumeId} is already attached to VM '{state.Name}'",
                        state.Describe(), name);
                }

                var current = state.Disks.AddRange(state.PendingDisks.Values.Where(p => p.Attach).Select(p => p.Disk));
                return VmDisks.CheckNew(attach.Disk, current) is { } problem
                    ? VmDecision.Reject(RejectionCode.Validation, problem, state.Describe(), name)
                    : VmDecision.Accept(operationId, new VmDiskAttachRequested(state.VmId, operationId, VmDisks.Assign(attach.Disk, current)));
            case DetachDisk detach:
                return state.Disks.Any(d => d.VolumeId == detach.VolumeId)
                    ? VmDecision.Accept(operationId, new VmDiskDetachRequested(state.VmId, operationId, detach.VolumeId))
                    : VmDecision.Reject(RejectionCode.NotFound, $"volume {detach.VolumeId} is not attached to VM '{state.Name}'",
                        state.Describe(), name);
            case AttachNic attach:
                if (state.HoldsPort(attach.Nic.PortId))
                {
                    return VmDecision.Reject(RejectionCode.Conflict, $"port {attach.Nic.PortId} is already a NIC of VM '{state.Name}'",
                        state.Describe(), name);
                }

                var (nic, nicProblem) = VmNics.Check(attach.Nic, state.Nics.AddRange(state.PendingNics.Values.Where(p => p.Attach).Select(p => p.Nic)));
                return nicProblem is not null
                    ? VmDecision.Reject(nicProblem.Code, nicProblem.Message, state.Describe(), name)
                    : VmDecision.Accept(operationId, new VmNicAttachRequested(state.VmId, operationId, nic!));
            case DetachNic detach:
                return state.Nics.Any(n => n.PortId == detach.PortId)
                    ? VmDecision.Accept(operationId, new VmNicDetachRequested(state.VmId, operationId, detach.PortId))
                    : VmDecision.Reject(RejectionCode.NotFound, $"port {detach.PortId} is not a NIC of VM '{state.Name}'", state.Describe(), name);
            case CreateSnapshot snapshot:
                if (SnapshotNames.Check(snapshot.Name) is { } invalid)
                {
                    return VmDecision.Reject(RejectionCode.Validation, invalid, state.Describe(), name);
                }

                return state.Snapshots.Any(s => s.Name == snapshot.Name)
                    ? VmDecision.Reject(RejectionCode.Conflict, $"VM '{state.Name}' already has a snapshot named '{snapshot.Name}'", state.Describe(), name)
                    : VmDecision.Accept(operationId, new VmSnapshotRequested(
                        state.VmId, operationId, OperationKind.CreateSnapshot, snapshot.Name, snapshot.Description, WithMemory: running));
            case RevertSnapshot or DeleteSnapshot:
                var snapshotName = command is RevertSnapshot r ? r.Name : ((DeleteSnapshot)command).Name;
                if (state.Snapshots.Find(s => s.Name == snapshotName) is not { } existing)
                {
                    return VmDecision.Reject(RejectionCode.NotFound, $"VM '{state.Name}' has no snapshot named '{snapshotName}'", state.Describe(), name);
                }

                // A revert brings back the snapshot's disk set; so that the VM's disk list (and each volume's
                // attachment) stays true, the VM must hold the same volumes first.
                if (command is RevertSnapshot && existing.VolumeIds is { } held
                    && !held.ToHashSet().SetEquals(state.Disks.Select(d => d.VolumeId)))
                {
                    return VmDecision.Reject(RejectionCode.InvalidState,
                        $"snapshot '{snapshotName}' holds volumes [{string.Join(", ", held)}] but VM '{state.Name}' now has "
                        + $"[{string.Join(", ", state.Disks.Select(d => d.VolumeId))}]; attach or detach disks to match before reverting",
                        state.Describe(), name);
                }

                return VmDecision.Accept(operationId, new VmSnapshotRequested(
                    state.VmId, operationId, command.Kind, snapshotName, existing.Description, existing.WithMemory));
            default:
                return VmDecision.Accept(operationId);
        }
    }

    private static VmDecision DecideStarted(MarkOperationStarted command, VmState state)
    {
        if (!state.Operations.ContainsKey(command.OperationId))
        {
            return UnknownOperation(command.OperationId, state);
        }

        // "Started" and the outcome travel separately and may arrive in either order: the start is recorded once, whenever it comes.
        return state.StartedOperations.Contains(command.OperationId)
            ? VmDecision.Accept(command.OperationId)
            : VmDecision.Accept(command.OperationId, new VmOperationStarted(state.VmId, command.OperationId, command.Context.Now));
    }

    private static VmDecision DecideCompleted(CompleteOperation command, VmState state)
    {
        if (!state.Operations.ContainsKey(command.OperationId))
        {
            return UnknownOperation(command.OperationId, state);
        }

        if (state.CurrentOperation?.OperationId != command.OperationId)
        {
            return LateReport(command.OperationId, command.Observed, command.ReportedAt, command.Context.Now, state);
        }

        var now = command.Context.Now;
        var operationId = command.OperationId;
        var events = new List<VmEvent> { new VmOperationSucceeded(state.VmId, operationId, command.Observed, now, command.ReportedAt) };
        switch (state.CurrentOperation.Kind)
        {
            case OperationKind.Delete:
                // The volumes outlive the VM: they are released, not deleted.
                events.AddRange(state.Disks.Select(d => new VmDiskDetached(state.VmId, operationId, d.VolumeId, "the VM was deleted", now)));
                // Likewise the ports: once detached, the control plane releases them on their networks.
                events.AddRange(state.Nics.Select(n => new VmNicDetached(state.VmId, operationId, n.PortId, "the VM was deleted", now)));
                events.Add(new VmDeleted(state.VmId, now));
                break;
            case OperationKind.AttachDisk when state.PendingDisks.TryGetValue(operationId, out var attach):
                events.Add(new VmDiskAttached(state.VmId, operationId, attach.Disk, now));
                break;
            case OperationKind.DetachDisk when state.PendingDisks.TryGetValue(operationId, out var detach):
                events.Add(new VmDiskDetached(state.VmId, operationId, detach.Disk.VolumeId, "detached", now));
                break;
            case OperationKind.AttachNic when state.PendingNics.TryGetValue(operationId, out var attachNic):
                events.Add(new VmNicAttached(state.VmId, operationId, attachNic.Nic, now));
                break;
            case OperationKind.DetachNic when state.PendingNics.TryGetValue(operationId, out var detachNic):
                events.Add(new VmNicDetached(state.VmId, operationId, detachNic.Nic.PortId, "detached", now));
                break;
            case OperationKind.CreateSnapshot when state.PendingSnapshots.TryGetValue(operationId, out var taken):
                events.Add(new VmSnapshotTaken(state.VmId, operationId, new VmSnapshot(
                    taken.Name, state.CurrentSnapshot, taken.Description, taken.WithMemory, state.ObservedPowerState, now,
                    [.. state.Disks.Select(d => d.VolumeId)])));
                break;
            case OperationKind.RevertSnapshot when state.PendingSnapshots.TryGetValue(operationId, out var reverted):
                events.Add(new VmSnapshotReverted(state.VmId, operationId, reverted.Name, now));
                break;
            case OperationKind.DeleteSnapshot when state.PendingSnapshots.TryGetValue(operationId, out var deleted):
                events.Add(new VmSnapshotDeleted(state.VmId, operationId, deleted.Name, now));
                break;
        }

        events.AddRange(MigrationStepDone(state, command, now));

        return new VmDecision.Accepted(events, operationId);
    }

    /// <summary>
    /// A failed or timed-out attach releases its volume or port, so the read model never shows a device the VM lacks; a
    /// failed or timed-out detach confirms the device as still attached (it stays the VM's until a detach succeeds).
    /// <paramref name="reason"/> says why, given the kind of device ("disk" or "NIC").
    /// </summary>
    private static IEnumerable<VmEvent> Released(VmState state, Guid operationId, Func<string, string> reason, DateTimeOffset now)
    {
        if (state.PendingDisks.TryGetValue(operationId, out var disk))
        {
            yield return disk.Attach
                ? new VmDiskDetached(state.VmId, operationId, disk.Disk.VolumeId, reason("disk"), now)
                : new VmDiskAttached(state.VmId, operationId, disk.Disk, now);
        }

        if (state.PendingNics.TryGetValue(operationId, out var nic))
        {
            yield return nic.Attach
                ? new VmNicDetached(state.VmId, operationId, nic.Nic.PortId, reason("NIC"), now)
                : new VmNicAttached(state.VmId, operationId, nic.Nic, now);
        }
    }

    private static VmDecision DecideFailed(FailOperation command, VmState state)
    {
        if (!state.Operations.ContainsKey(command.OperationId))
        {
            return UnknownOperation(command.OperationId, state);
        }

        if (state.CurrentOperation?.OperationId != command.OperationId)
        {
            return LateReport(command.OperationId, command.Observed, command.ReportedAt, command.Context.Now, state);
        }

        var now = command.Context.Now;
        return new VmDecision.Accepted(
            [
                new VmOperationFailed(state.VmId, command.OperationId, command.ErrorCode, command.ErrorMessage, command.Observed, now, command.ReportedAt),
                .. Released(state, command.OperationId, _ => $"attach failed: {command.ErrorMessage}", now),
                .. MigrationFailed(state, $"{command.ErrorCode}: {command.ErrorMessage}", now),
            ],
            command.OperationId);
    }

    private static VmDecision DecideTimeout(TimeOutOperation command, VmState state)
    {
        if (state.CurrentOperation is not { } current || current.OperationId != command.OperationId)
        {
            return state.Operations.ContainsKey(command.OperationId)
                ? VmDecision.Accept(command.OperationId)
                : UnknownOperation(command.OperationId, state);
        }

        if (command.Context.Now < current.Deadline)
        {
            return VmDecision.Reject(
                RejectionCode.InvalidState,
                $"operation {current.OperationId} has not reached its deadline {current.Deadline:O}",
                state.Describe(), "time-out");
        }

        var now = command.Context.Now;
        return new VmDecision.Accepted(
            [
                new VmOperationTimedOut(state.VmId, command.OperationId, now),
                .. Released(state, command.OperationId, device => $"attach timed out; the host's next inventory shows whether the {device} arrived", now),
                .. MigrationFailed(state, "timed out; the hosts' next inventories show where the VM is", now),
            ],
            command.OperationId);
    }

    private static VmDecision DecideObserved(ObservePowerState command, VmState state)
    {
        if (state.Lifecycle != VmLifecycle.Active)
        {
            return VmDecision.Reject(RejectionCode.NotFound, "the VM does not exist", state.Describe(), "observe");
        }

        // While an operation is under way its own outcome will say what the host did; a reading older than
        // the last report applied (inventories and outcomes travel on different queues) says nothing new.
        if (state.CurrentOperation is not null || command.Observed == state.ObservedPowerState || state.IsStale(command.ReportedAt))
        {
            return VmDecision.Accept(null);
        }

        return VmDecision.Accept(
            null, new VmPowerStateObserved(state.VmId, command.Observed, command.Source, command.Context.Now, command.ReportedAt));
    }

    private static VmDecision DecideDisks(ObserveDisks command, VmState state)
    {
        if (state.Lifecycle != VmLifecycle.Active)
        {
            return VmDecision.Reject(RejectionCode.NotFound, "the VM does not exist", state.Describe(), "observe");
        }

        // During an operation the disks are in flux (and its outcome will say what happened). A reading older than the
        // last report applied says nothing new; one of the same inventory as the power state it came with still counts.
        if (state.CurrentOperation is not null || (command.ReportedAt is { } at && state.LastHostReportAt is { } last && at < last))
        {
            return VmDecision.Accept(null);
        }

        var missing = state.Disks.Select(d => d.VolumeId).Where(id => !command.Present.Contains(id)).Order().ToList();
        var unexpected = command.Unknown.Distinct().Order(StringComparer.Ordinal).ToList();
        var recorded = state.DiskDrift;
        var same = recorded is null
            ? missing.Count + unexpected.Count == 0
            : recorded.Missing.SequenceEqual(missing) && recorded.Unexpected.SequenceEqual(unexpected);
        return same
            ? VmDecision.Accept(null)
            : VmDecision.Accept(null, new VmDiskDriftObserved(state.VmId, missing, unexpected, command.Context.Now, command.ReportedAt));
    }

    /// <summary>
    /// A report for an operation that has already ended. After a timeout it is news: keep what it says
    /// of the host. After a success or failure it is a duplicate delivery, and says nothing new.
    /// </summary>
    private static VmDecision LateReport(Guid operationId, PowerState observed, DateTimeOffset? reportedAt, DateTimeOffset now, VmState state) =>
        state.Operations[operationId].Status == OperationStatus.TimedOut
        && state.Lifecycle == VmLifecycle.Active && state.CurrentOperation is null && observed != state.ObservedPowerState
        && !state.IsStale(reportedAt)
            ? VmDecision.Accept(operationId, new VmPowerStateObserved(state.VmId, observed, "late-report", now, reportedAt))
            : VmDecision.Accept(operationId);

    private static VmDecision UnknownOperation(Guid operationId, VmState state) =>
        VmDecision.Reject(RejectionCode.NotFound, $"operation {operationId} is not known on VM {state.VmId}", state.Describe());
}
