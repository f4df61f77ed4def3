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

    /// <summary>Live migration of a running domain from this (the source) host to <see cref="RunDomainOperation.Migration"/>'s host.</summary>
    Migrate,

    /// <summary>Define the domain on this host if missing (from the spec and disks) and bring it to the desired state: cold moves and HA restarts.</summary>
    Recover,

    /// <summary>Plug <see cref="RunDomainOperation.Nic"/> into the domain: live when it runs, and in its definition.</summary>
    AttachNic,
    DetachNic,
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
/// operation concerns; <c>Nics</c> and <c>Nic</c> likewise for network interfaces. <c>Sequence</c> numbers the VM's
/// operations in the order they were requested, so the agent can refuse a late copy of one that a later operation has
/// overtaken (0: unknown). The optional fields are absent in older messages.
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
    CloudInitSeed? CloudInit = null,
    MigrationTarget? Migration = null,
    IReadOnlyList<NicAttachment>? Nics = null,
    NicAttachment? Nic = null,
    long Sequence = 0);

/// <summary>
/// Where a live migration goes: the target host's libvirt URI as its agent registered it (the source's libvirt
/// connects to it), and the address QEMU's migration stream should use on the target (null: libvirt's choice).
/// </summary>
public sealed record MigrationTarget(Guid HostId, string LibvirtUri, string? MigrateAddress, int? MaxDowntimeMs = null, long? BandwidthMiBs = null);

/// <summary>Agent → control plane, about once a second while a migration runs: libvirt's job figures. Telemetry, not history.</summary>
public sealed record DomainOperationProgress(
    Guid OperationId, Guid VmId, Guid HostId, long DataTotalBytes, long DataProcessedBytes, long DataRemainingBytes,
    double ElapsedSeconds, DateTimeOffset SentAt);

/// <summary>Control plane → the host running an operation: abort it if it is still under way (a live migration's job).</summary>
public sealed record CancelDomainOperation(Guid OperationId, Guid VmId, Guid HostId, Guid CorrelationId, DateTimeOffset RequestedAt);

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
