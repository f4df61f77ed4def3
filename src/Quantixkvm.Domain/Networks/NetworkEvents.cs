namespace Quantixkvm.Domain.Networks;

/// <summary>
/// Facts about one network, in its own stream. Events that change what hosts must apply carry the network's new
/// <c>Generation</c> (1 at create, +1 each), which hosts report back once they hold it.
/// </summary>
public abstract record NetworkEvent(Guid NetworkId);

public sealed record NetworkCreated(
    Guid NetworkId, string Name, NetworkKind Kind, string? BridgeName, string? Uplink, int? Vlan, int Mtu, string Description,
    DateTimeOffset CreatedAt) : NetworkEvent(NetworkId);

/// <summary>The MTU and description as they now are.</summary>
public sealed record NetworkUpdated(Guid NetworkId, int Mtu, string Description, long Generation, DateTimeOffset UpdatedAt) : NetworkEvent(NetworkId);

public sealed record NetworkSubnetAdded(Guid NetworkId, Subnet Subnet, long Generation, DateTimeOffset AddedAt) : NetworkEvent(NetworkId);

public sealed record NetworkSubnetRemoved(Guid NetworkId, Guid SubnetId, long Generation, DateTimeOffset RemovedAt) : NetworkEvent(NetworkId);

/// <summary>A port with the MAC and the addresses allocated to it; <c>CommandId</c> makes a repeated add find it.</summary>
public sealed record NetworkPortAdded(Guid NetworkId, NetworkPort Port, string CommandId, long Generation, DateTimeOffset AddedAt)
    : NetworkEvent(NetworkId);

/// <summary>The port is gone; <c>ReleasedAddresses</c> are free again.</summary>
public sealed record NetworkPortRemoved(
    Guid NetworkId, Guid PortId, Guid VmId, IReadOnlyList<PortAddress> ReleasedAddresses, long Generation, DateTimeOffset RemovedAt)
    : NetworkEvent(NetworkId);

public sealed record NetworkPortSecurityGroupsSet(
    Guid NetworkId, Guid PortId, IReadOnlyList<Guid> SecurityGroupIds, long Generation, DateTimeOffset SetAt) : NetworkEvent(NetworkId);

/// <summary>A host holds this generation of the network (recorded when that is news).</summary>
public sealed record NetworkRealizedOnHost(Guid NetworkId, Guid HostId, long Generation, string Summary, DateTimeOffset RealizedAt)
    : NetworkEvent(NetworkId);

/// <summary>A host could not apply this generation of the network (recorded when the generation or the error is new).</summary>
public sealed record NetworkRealizationFailed(Guid NetworkId, Guid HostId, long Generation, string Error, DateTimeOffset FailedAt)
    : NetworkEvent(NetworkId);

public sealed record NetworkDeleted(Guid NetworkId, DateTimeOffset DeletedAt) : NetworkEvent(NetworkId);
