using Quantixkvm.Domain.Networks;
using Quantixkvm.Domain.Vms;

namespace Quantixkvm.Domain.Tests.Support;

/// <summary>
/// The fixed network of the network tests ("prod-lan": bridge br-prod on VLAN 100 of eth0), its subnets and ports, and
/// histories built from the events themselves.
/// </summary>
internal static class Net
{
    public const string CommandId = "create-net-1";
    public const string Name = "prod-lan";
    public const string Bridge = "br-prod";

    public static readonly Guid Id = NetworkDecider.NetworkIdForCreate(CommandId);

    public const string V4Command = "add-subnet-v4";
    public const string V6Command = "add-subnet-v6";

    public static readonly Guid V4 = NetworkDecider.SubnetIdFor(Id, V4Command);
    public static readonly Guid V6 = NetworkDecider.SubnetIdFor(Id, V6Command);

    /// <summary>Another VM a port can belong to.</summary>
    public static readonly Guid OtherVm = new("0000000b-0000-4000-8000-000000000002");

    public static readonly Guid WebGroup = SecurityGroupDecider.GroupIdForCreate("create-sg-web");
    public static readonly Guid DbGroup = SecurityGroupDecider.GroupIdForCreate("create-sg-db");

    /// <summary>The port an attach with this command id makes for the fixed VM.</summary>
    public static Guid Port(string key) => NetworkDecider.PortIdFor(Fixed.VmId, key);

    public static NetworkCreated Created() => new(Id, Name, NetworkKind.Bridge, Bridge, "eth0", 100, 1500, "", Fixed.Earlier);

    /// <summary>10.0.0.0/24 as a plain add makes it: gateway .1, the whole usable range as its pool.</summary>
    public static Subnet V4Subnet(IReadOnlyList<AddressRange>? reserved = null) =>
        new(V4, "10.0.0.0/24", "10.0.0.1", [], [new("10.0.0.1", "10.0.0.254")], reserved ?? [], DhcpEnabled: true);

    public static Subnet V6Subnet() =>
        new(V6, "fd00:1::/64", "fd00:1::1", [], [new("fd00:1::1", "fd00:1::ffff:ffff:ffff:ffff")], [], DhcpEnabled: true);

    public static NetworkSubnetAdded SubnetAdded(Subnet subnet, long generation) => new(Id, subnet, generation, Fixed.Earlier);

    public static NetworkPortAdded PortAdded(string key, long generation, string? address = null, Guid? vmId = null, string? mac = null) =>
        new(Id, new NetworkPort(
                NetworkDecider.PortIdFor(vmId ?? Fixed.VmId, key), vmId ?? Fixed.VmId, mac ?? MacAddress.ForPort(NetworkDecider.PortIdFor(vmId ?? Fixed.VmId, key)),
                address is null ? [] : [new PortAddress(V4, address)], []),
            key, generation, Fixed.Earlier);

    /// <summary>The network as created: generation 1, no subnets.</summary>
    public static NetworkEvent[] Active() => [Created()];

    /// <summary>The network with 10.0.0.0/24 (generation 2).</summary>
    public static NetworkEvent[] WithV4(IReadOnlyList<AddressRange>? reserved = null) => [Created(), SubnetAdded(V4Subnet(reserved), 2)];

    /// <summary>The network with 10.0.0.0/24 and fd00:1::/64 (generation 3).</summary>
    public static NetworkEvent[] DualStack() => [.. WithV4(), SubnetAdded(V6Subnet(), 3)];

    /// <summary>The network with 10.0.0.0/24 and the fixed VM's port "attach-1" on 10.0.0.2 (generation 3).</summary>
    public static NetworkEvent[] WithPort() => [.. WithV4(), PortAdded("attach-1", 3, "10.0.0.2")];

    public static NetworkEvent[] Deleted() => [Created(), new NetworkDeleted(Id, Fixed.Earlier)];
}

/// <summary>Network commands, issued at <see cref="Fixed.Now"/> by <see cref="Fixed.Actor"/>.</summary>
internal static class NetCmd
{
    public static CreateNetwork Create(
        NetworkKind kind = NetworkKind.Bridge, string? bridge = Net.Bridge, string? uplink = "eth0", int? vlan = 100, int? mtu = null,
        string name = Net.Name, string commandId = Net.CommandId, string description = "") =>
        new(Fixed.Context(commandId), NetworkDecider.NetworkIdForCreate(commandId), name, kind, bridge, uplink, vlan, mtu, description);

    public static CreateNetwork Overlay(int? mtu = null) => Create(NetworkKind.Overlay, bridge: null, uplink: null, vlan: null, mtu: mtu);

    public static UpdateNetwork Update(int? mtu = null, string? description = null, string commandId = "update-net-1") =>
        new(Fixed.Context(commandId), mtu, description);

    public static AddSubnet AddSubnet(
        string cidr = "10.0.0.0/24", string? gateway = null, string[]? dns = null, AddressRange[]? pools = null, AddressRange[]? reserved = null,
        bool dhcp = true, string commandId = Net.V4Command) =>
        new(Fixed.Context(commandId), cidr, gateway, dns, pools, reserved, dhcp);

    public static RemoveSubnet RemoveSubnet(Guid? subnetId = null, string commandId = "remove-subnet-1") =>
        new(Fixed.Context(commandId), subnetId ?? Net.V4);

    /// <summary>A port for the fixed VM (or <paramref name="vmId"/>) whose id and command id are both <paramref name="key"/>'s.</summary>
    public static AddPort AddPort(string key = "attach-2", string? mac = null, string[]? fixedAddresses = null, Guid[]? groups = null, Guid? vmId = null) =>
        new(Fixed.Context(key), NetworkDecider.PortIdFor(vmId ?? Fixed.VmId, key), vmId ?? Fixed.VmId, mac, fixedAddresses, groups);

    public static RemovePort RemovePort(Guid? portId = null, string commandId = "remove-port-1") =>
        new(Fixed.Context(commandId), portId ?? Net.Port("attach-1"));

    public static SetPortSecurityGroups SetGroups(Guid[] groups, Guid? portId = null, string commandId = "set-groups-1") =>
        new(Fixed.Context(commandId), portId ?? Net.Port("attach-1"), groups);

    public static RecordNetworkRealization Realized(long generation, Guid? hostId = null, string summary = "bridge br-prod on eth0.100") =>
        new(Fixed.Context($"realized-{generation}"), hostId ?? Fixed.HostId, generation, null, summary);

    public static RecordNetworkRealization Failed(long generation, string error, Guid? hostId = null) =>
        new(Fixed.Context($"failed-{generation}"), hostId ?? Fixed.HostId, generation, error);

    public static DeleteNetwork Delete(string commandId = "delete-net-1") => new(Fixed.Context(commandId));
}

/// <summary>NICs of the fixed VM on the fixed network: each on its own port, with that port's generated MAC.</summary>
internal static class Nic
{
    public static VmNic Of(string key, string address, NicModel model = NicModel.Virtio) =>
        new(Net.Port(key), Net.Id, MacAddress.ForPort(Net.Port(key)), model, [address]);

    /// <summary>The NIC the VM was created with.</summary>
    public static readonly VmNic Primary = Of("nic-0", "10.0.0.2");

    /// <summary>The NIC "attach-nic-1" adds.</summary>
    public static readonly VmNic Spare = Of("attach-nic-1", "10.0.0.3", NicModel.E1000);

    /// <summary>A NIC that became the VM's when it was created (so under the create's operation id).</summary>
    public static VmNicAttached Attached(VmNic nic) => new(Fixed.VmId, Fixed.OperationId(Fixed.CreateCommandId), nic, Fixed.Earlier);
}
