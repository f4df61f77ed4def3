namespace Quantixkvm.Domain.Networks;

/// <summary>
/// <c>Bridge</c>: a Linux bridge on each host (optionally enslaving a VLAN sub-interface of an uplink).
/// <c>Ovs</c>: an Open vSwitch bridge on each host (netdev datapath), VLAN-tagging the VM ports.
/// <c>Overlay</c>: one OVN logical switch spanning the hosts over Geneve; its VM ports go on OVN's br-int.
/// </summary>
public enum NetworkKind
{
    Bridge,
    Ovs,
    Overlay,
}

/// <summary>Addresses from <c>Start</c> to <c>End</c>, both included, in canonical text form.</summary>
public sealed record AddressRange(string Start, string End);

/// <summary>
/// A subnet of a network, as recorded: addresses in canonical text form (IPv4 dotted quad, IPv6 compressed lower case).
/// <c>AllocationPools</c> are where automatic addresses come from; <c>ReservedRanges</c> are never given to a port.
/// </summary>
public sealed record Subnet(
    Guid SubnetId, string Cidr, string Gateway, IReadOnlyList<string> DnsServers, IReadOnlyList<AddressRange> AllocationPools,
    IReadOnlyList<AddressRange> ReservedRanges, bool DhcpEnabled);

/// <summary>One address of a port, in the subnet it was taken from.</summary>
public sealed record PortAddress(Guid SubnetId, string Address);

/// <summary>A VM NIC's place on a network: its MAC, the addresses allocated to it and the security groups that filter it.</summary>
public sealed record NetworkPort(Guid PortId, Guid VmId, string Mac, IReadOnlyList<PortAddress> Addresses, IReadOnlyList<Guid> SecurityGroupIds);

/// <summary>What a host last reported of a network: the generation it holds, or the error that kept it from applying one.</summary>
public sealed record HostRealization(long Generation, string? Error);
