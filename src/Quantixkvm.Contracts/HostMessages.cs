namespace Quantixkvm.Contracts;

/// <summary>Agent → control plane when it starts: who the host is and what it can hold, read from libvirt.</summary>
public sealed record HostRegistration(
    Guid HostId, string Name, int Cpus, long MemoryMiB, string CpuModel, string LibvirtUri, string AgentVersion, DateTimeOffset RegisteredAt);

/// <summary>The agent's own liveness signal; telemetry, not stored as an event.</summary>
public sealed record HostHeartbeat(Guid HostId, string Name, int DomainCount, DateTimeOffset SentAt);

/// <summary>Every domain the host has, sent at start and periodically, so the control plane can see drift.</summary>
public sealed record HostInventory(
    Guid HostId, IReadOnlyList<InventoryDomain> Domains, DateTimeOffset TakenAt, IReadOnlyList<InventoryPool>? Pools = null);

/// <summary>A Quantixkvm storage pool as this host's libvirt sees it (refreshed when the inventory is taken).</summary>
public sealed record InventoryPool(Guid PoolId, long CapacityBytes, long AllocationBytes, long AvailableBytes);

/// <summary>
/// One domain on a host; <c>VmId</c> is set for domains Quantixkvm defined. <c>DiskSerials</c> are the serials of
/// its volume disks as libvirt holds them (see <see cref="DiskAttachment.SerialFor"/>); absent from older agents.
/// </summary>
public sealed record InventoryDomain(Guid Uuid, string Name, DomainPowerState PowerState, Guid? VmId, IReadOnlyList<string>? DiskSerials = null);
