namespace Quantixkvm.Contracts;

/// <summary>What the control plane asks an agent to do to a libvirt domain. Wire names, kept apart from the domain's enums.</summary>
public enum DomainOperationKind
{
    Create,
    Start,
    Stop,
    Reboot,
    Pause,
    Resume,
    Delete,
    AttachDisk,
    DetachDisk,
    CreateSnapshot,
    RevertSnapshot,
    DeleteSnapshot,
}

/// <summary>A domain's power state on the wire (reported by agents, or asked for).</summary>
public enum DomainPowerState
{
    Stopped,
    Running,
    Paused,
    Unknown,
}

/// <summary>The hardware an agent defines the domain from.</summary>
public sealed record DomainSpecification(Guid VmId, string Name, int Vcpus, int MemoryMiB);

/// <summary>
/// Control plane → the host's own durable queue. <c>OperationId</c> is the agent's de-duplication key:
/// the dispatcher delivers at least once. <c>Disks</c> is the VM's whole disk list (a create defines the
/// domain with it); <c>Disk</c> the one an attach or detach concerns; <c>Snapshot</c> the one a snapshot
/// operation concerns. The optional fields are absent in messages older than storage.
/// </summary>
public sealed record RunDomainOperation(
    Guid OperationId,
    string CommandId,
    Guid CorrelationId,
    Guid HostId,
    DomainOperationKind Kind,
    bool Force,
    DomainSpecification Domain,
    DomainPowerState DesiredPowerState,
    DateTimeOffset Deadline,
    IReadOnlyList<DiskAttachment>? Disks = null,
    DiskAttachment? Disk = null,
    SnapshotSpecification? Snapshot = null,
    CloudInitSeed? CloudInit = null);

/// <summary>Agent → control plane: it has begun to act on the hypervisor.</summary>
public sealed record DomainOperationStarted(
    Guid OperationId, string CommandId, Guid CorrelationId, Guid VmId, Guid HostId, DateTimeOffset StartedAt);

/// <summary>Agent → control plane: the operation's outcome and the domain's state read afterwards.</summary>
public sealed record DomainOperationFinished(
    Guid OperationId,
    string CommandId,
    Guid CorrelationId,
    Guid VmId,
    Guid HostId,
    bool Succeeded,
    DomainPowerState ObservedPowerState,
    string? ErrorCode,
    string? ErrorMessage,
    DateTimeOffset FinishedAt);
