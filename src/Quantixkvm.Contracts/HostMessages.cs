namespace Quantixkvm.Contracts;

/// <summary>
/// Agent → control plane when it starts: who the host is and what it can hold, read from libvirt. <c>CpuFeatures</c> are the
/// host CPU's feature names from libvirt's capabilities; <c>LiveMigration</c> whether its hypervisor driver can migrate
/// running domains (QEMU yes, libvirt's test driver no); <c>MigrateAddress</c> the address other hosts' QEMU should send
/// migration streams to (null: libvirt's choice); <c>PeerLibvirtUri</c> how other hosts' libvirt reaches this one for a migration. The optional fields are absent from agents older than the fleet.
/// </summary>
public sealed record HostRegistration(
    Guid HostId, string Name, int Cpus, long MemoryMiB, string CpuModel, string LibvirtUri, string AgentVersion, DateTimeOffset RegisteredAt,
    IReadOnlyList<string>? CpuFeatures = null, bool? LiveMigration = null, string? MigrateAddress = null, string? PeerLibvirtUri = null);

/// <summary>The agent's own liveness signal; telemetry, not stored as an event.</summary>
public sealed record HostHeartbeat(Guid HostId, string Name, int DomainCount, DateTimeOffset SentAt);

/// <summary>
/// Every domain the host has, sent at start and periodically, so the control plane can see drift. TakenAt is when the
/// listing began, so that an outcome stamped after it counts as newer.
/// </summary>
public sealed record HostInventory(
    Guid HostId, IReadOnlyList<InventoryDomain> Domains, DateTimeOffset TakenAt, IReadOnlyList<InventoryPool>? Pools = null);

/// <summary>A Quantixkvm storage pool as this host's libvirt sees it (refreshed when the inventory is taken).</summary>
public sealed record InventoryPool(Guid PoolId, long CapacityBytes, long AllocationBytes, long AvailableBytes);

/// <summary>
/// One domain on a host; <c>VmId</c> is set for domains Quantixkvm defined. <c>DiskSerials</c> are the serials of
/// its volume disks as libvirt holds them (see <see cref="DiskAttachment.SerialFor"/>); absent from older agents.
/// </summary>
public sealed record InventoryDomain(Guid Uuid, string Name, DomainPowerState PowerState, Guid? VmId, IReadOnlyList<string>? DiskSerials = null);

/// <summary>
/// Control plane → a host: destroy and undefine these VMs' domains (their volumes stay), because the VMs now live on
/// other hosts: moved away, or restarted elsewhere while this host was fenced. Idempotent.
/// </summary>
public sealed record ReleaseDomains(Guid HostId, IReadOnlyList<Guid> VmIds, string Reason, DateTimeOffset RequestedAt);

/// <summary>Control plane → a host it is about to declare fenced: power off every Quantixkvm domain now, then confirm.</summary>
public sealed record FenceHost(Guid HostId, Guid FenceId, string Reason, DateTimeOffset RequestedAt);

/// <summary>Agent → control plane: it obeyed <see cref="FenceHost"/>; no Quantixkvm domain runs on the host any more.</summary>
public sealed record HostFencedBySelf(Guid HostId, Guid FenceId, IReadOnlyList<Guid> StoppedVmIds, DateTimeOffset FencedAt);
