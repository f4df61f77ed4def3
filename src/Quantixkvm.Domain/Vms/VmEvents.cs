namespace Quantixkvm.Domain.Vms;

/// <summary>Facts about one VM, in its own stream. Stored names are in <see cref="EventCatalog"/>.</summary>
public abstract record VmEvent(Guid VmId);

public sealed record VmCreated(Guid VmId, string Name, int Vcpus, int MemoryMiB, Guid HostId, DateTimeOffset CreatedAt)
    : VmEvent(VmId);

public sealed record VmOperationRequested(
    Guid VmId, Guid OperationId, string CommandId, OperationKind Kind, bool Force, PowerState DesiredPowerState,
    Guid HostId, string Actor, DateTimeOffset RequestedAt, DateTimeOffset Deadline) : VmEvent(VmId);

public sealed record VmOperationStarted(Guid VmId, Guid OperationId, DateTimeOffset StartedAt) : VmEvent(VmId);

/// <summary>The operation finished; <c>HostReportedAt</c> is when the host read the state, by its own clock.</summary>
public sealed record VmOperationSucceeded(
    Guid VmId, Guid OperationId, PowerState ObservedPowerState, DateTimeOffset FinishedAt, DateTimeOffset? HostReportedAt = null)
    : VmEvent(VmId);

public sealed record VmOperationFailed(
    Guid VmId, Guid OperationId, string ErrorCode, string ErrorMessage, PowerState ObservedPowerState, DateTimeOffset FinishedAt,
    DateTimeOffset? HostReportedAt = null)
    : VmEvent(VmId);

public sealed record VmOperationTimedOut(Guid VmId, Guid OperationId, DateTimeOffset FinishedAt) : VmEvent(VmId);

/// <summary>The host reported a power state outside an operation: drift, or a late report after a timeout.</summary>
public sealed record VmPowerStateObserved(
    Guid VmId, PowerState ObservedPowerState, string Source, DateTimeOffset ObservedAt, DateTimeOffset? HostReportedAt = null)
    : VmEvent(VmId);

public sealed record VmDeleted(Guid VmId, DateTimeOffset DeletedAt) : VmEvent(VmId);
