namespace Quantixkvm.Contracts;

/// <summary>Network kinds on the wire: <c>bridge</c> (Linux bridge), <c>ovs</c> (Open vSwitch bridge), <c>overlay</c> (OVN logical switch).</summary>
public static class NetworkKinds
{
    public const string Bridge = "bridge";
    public const string Ovs = "ovs";
    public const string Overlay = "overlay";

    /// <summary>The OVS bridge ovn-controller owns on every host; overlay NICs are plugged into it.</summary>
    public const string OvnIntegrationBridge = "br-int";
}

/// <summary>
/// How a VM's NIC is plugged on its host. Linux bridge: <c>BridgeName</c>. OVS: <c>BridgeName</c> with the
/// network's <c>Vlan</c> as the port's tag. Overlay: the integration bridge, with <c>InterfaceId</c> (the OVN
/// logical switch port's name) as the TAP's iface-id, which ovn-controller binds.
/// </summary>
public sealed record NicAttachment(
    Guid PortId, Guid NetworkId, string Mac, string Model, string NetworkKind, string BridgeName, int? Vlan, string? InterfaceId, int Mtu,
    bool LinkUp = true)
{
    /// <summary>
    /// The OVN logical switch port (and OVS iface-id) of a port: the port's id itself, because libvirt accepts only a
    /// UUID as an openvswitch virtualport's interfaceid.
    /// </summary>
    public static string InterfaceIdFor(Guid portId) => portId.ToString("D");
}

/// <summary>
/// Control plane → a host's queue: the whole network state the host must hold (ADR 13). The agent makes the host match it
/// and removes what it manages and is no longer wanted. A lower <c>Revision</c> than one already applied is stale and ignored.
/// <c>Northbound</c> is sent to one host only: the one that writes OVN's northbound database. <c>SecurityGroups</c> (every
/// live group) goes to every host: bridge networks' groups are enforced on each host (nftables); null from a control
/// plane that predates it.
/// </summary>
public sealed record RealizeNetworks(
    Guid HostId, long Revision, IReadOnlyList<NetworkSpecification> Networks, OvnNorthboundSpecification? Northbound, DateTimeOffset SentAt,
    IReadOnlyList<SecurityGroupSpecification>? SecurityGroups = null);

public sealed record NetworkSpecification(
    Guid NetworkId, string Name, long Generation, string Kind, string? BridgeName, string? Uplink, int? Vlan, int Mtu,
    IReadOnlyList<SubnetSpecification> Subnets, IReadOnlyList<PortSpecification> Ports);

public sealed record SubnetSpecification(
    Guid SubnetId, string Cidr, string? Gateway, IReadOnlyList<string> DnsServers, bool Dhcp);

/// <summary>A VM's NIC as its network holds it: MAC, allocated addresses (plain, without prefix) and security groups.</summary>
public sealed record PortSpecification(Guid PortId, Guid VmId, string Mac, IReadOnlyList<string> Addresses, IReadOnlyList<Guid> SecurityGroupIds);

public sealed record SecurityGroupSpecification(Guid SecurityGroupId, string Name, IReadOnlyList<SecurityRuleSpecification> Rules);

/// <summary>
/// One rule: <c>Direction</c> ingress|egress, <c>Protocol</c> any|tcp|udp|icmp|icmp6, <c>EtherType</c> ipv4|ipv6,
/// ports only for tcp/udp, and the far side as a CIDR or as the members of another group.
/// </summary>
public sealed record SecurityRuleSpecification(
    Guid RuleId, string Direction, string Protocol, string EtherType, int? PortMin, int? PortMax, string? RemoteCidr, Guid? RemoteGroupId);

/// <summary>OVN's northbound state: a logical switch per overlay network (with its ports and DHCP), and every security group.</summary>
public sealed record OvnNorthboundSpecification(
    IReadOnlyList<NetworkSpecification> OverlayNetworks, IReadOnlyList<SecurityGroupSpecification> SecurityGroups);

/// <summary>
/// Agent → control plane: what the host holds after applying <c>Revision</c>, per network. <c>CanWriteNorthbound</c>: the
/// agent is configured with OVN's northbound database, so the control plane may choose it to write it.
/// </summary>
public sealed record NetworksRealized(
    Guid HostId, long Revision, IReadOnlyList<NetworkRealization> Networks, DateTimeOffset ReportedAt, bool CanWriteNorthbound = false);

/// <summary>One network on one host: realized at <c>Generation</c>, or why not (the agent retries on the next round).</summary>
public sealed record NetworkRealization(Guid NetworkId, long Generation, bool Succeeded, string? Error, string? Summary);
