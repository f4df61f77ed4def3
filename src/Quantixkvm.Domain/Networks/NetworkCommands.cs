namespace Quantixkvm.Domain.Networks;

/// <summary>
/// Commands on one network. Facts held elsewhere (whether a security group exists, a network name is free on the
/// platform) are checked by the control plane before it asks; the decider stays pure.
/// </summary>
public abstract record NetworkCommand(CommandContext Context);

/// <summary>
/// A new network (<c>NetworkId</c> from <see cref="NetworkDecider.NetworkIdForCreate"/>). <c>BridgeName</c> is the host
/// device for Bridge and Ovs networks; <c>Uplink</c> (Bridge only) the interface whose VLAN sub-interface the bridge
/// enslaves; <c>Mtu</c> defaults to 1500 (1442 for Overlay: Geneve's overhead).
/// </summary>
public sealed record CreateNetwork(
    CommandContext Context, Guid NetworkId, string Name, NetworkKind Kind, string? BridgeName = null, string? Uplink = null, int? Vlan = null,
    int? Mtu = null, string Description = "") : NetworkCommand(Context);

/// <summary>Changes the MTU and/or the description; a null field stays as it is.</summary>
public sealed record UpdateNetwork(CommandContext Context, int? Mtu = null, string? Description = null) : NetworkCommand(Context);

/// <summary>
/// Adds a subnet (its id from <see cref="NetworkDecider.SubnetIdFor"/>). Gateway: default the first host address.
/// AllocationPools: default the whole usable range. Ranges are given as start and end addresses, both included.
/// </summary>
public sealed record AddSubnet(
    CommandContext Context, string Cidr, string? Gateway = null, IReadOnlyList<string>? DnsServers = null,
    IReadOnlyList<AddressRange>? AllocationPools = null, IReadOnlyList<AddressRange>? ReservedRanges = null, bool DhcpEnabled = true)
    : NetworkCommand(Context);

/// <summary>Removes a subnet; refused while a port holds an address in it.</summary>
public sealed record RemoveSubnet(CommandContext Context, Guid SubnetId) : NetworkCommand(Context);

/// <summary>
/// A port for a NIC of VM <c>VmId</c> (<c>PortId</c> from <see cref="NetworkDecider.PortIdFor"/>). <c>Mac</c>: generated
/// when null. <c>FixedAddresses</c>: exactly these (at most one per subnet); when null, the first free address of each subnet.
/// </summary>
public sealed record AddPort(
    CommandContext Context, Guid PortId, Guid VmId, string? Mac = null, IReadOnlyList<string>? FixedAddresses = null,
    IReadOnlyList<Guid>? SecurityGroupIds = null) : NetworkCommand(Context);

/// <summary>Removes a port and releases its addresses.</summary>
public sealed record RemovePort(CommandContext Context, Guid PortId) : NetworkCommand(Context);

/// <summary>Replaces the security groups of a port (empty: the default policy, inbound denied, outbound allowed).</summary>
public sealed record SetPortSecurityGroups(CommandContext Context, Guid PortId, IReadOnlyList<Guid> SecurityGroupIds) : NetworkCommand(Context);

/// <summary>
/// A host's report on the network: it holds <c>Generation</c> (<c>Error</c> null, with a short <c>Summary</c> of what it
/// made), or it could not apply it (<c>Error</c>).
/// </summary>
public sealed record RecordNetworkRealization(CommandContext Context, Guid HostId, long Generation, string? Error = null, string Summary = "")
    : NetworkCommand(Context);

/// <summary>Deletes the network; refused while it has ports.</summary>
public sealed record DeleteNetwork(CommandContext Context) : NetworkCommand(Context);
