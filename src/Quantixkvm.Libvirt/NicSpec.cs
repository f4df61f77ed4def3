namespace Quantixkvm.Libvirt;

/// <summary>The kind of host bridge a NIC's TAP device is plugged into.</summary>
public enum NicBridgeType
{
    /// <summary>A Linux bridge (<c>ip link add NAME type bridge</c>): libvirt enslaves the TAP itself.</summary>
    Linux,

    /// <summary>
    /// An Open vSwitch bridge (<c>&lt;virtualport type='openvswitch'&gt;</c>): libvirt adds the TAP as a port
    /// with <c>ovs-vsctl</c>, tagged with the VLAN and with <c>external_ids:iface-id</c> set to the interface id.
    /// </summary>
    OpenVSwitch,

    /// <summary>
    /// No bridge of libvirt's: the TAP device <see cref="NicSpec.TargetDev"/> already exists, made and plugged by someone
    /// else (the node agent, as OpenStack's os-vif does), and libvirt only hands it to QEMU
    /// (<c>&lt;interface type='ethernet'&gt;</c> with <c>&lt;target dev='…' managed='no'/&gt;</c>): it neither creates,
    /// plugs, nor deletes it. This lets an unprivileged libvirt (a session daemon) use TAPs on Open vSwitch, which it could
    /// not add itself; the TAP must belong to QEMU's user. See <see cref="NicSpec.ExistingTap"/>.
    /// </summary>
    None,
}

/// <summary>
/// What <see cref="DomainXml.Interface"/> needs to describe one NIC: a TAP device on a host bridge
/// (<c>&lt;interface type='bridge'&gt;</c>), or an existing TAP someone else plugged (<see cref="NicBridgeType.None"/>,
/// <c>&lt;interface type='ethernet'&gt;</c>; made with <see cref="ExistingTap"/>).
/// </summary>
/// <param name="Mac">The NIC's MAC address, e.g. <c>02:00:00:aa:bb:cc</c> (unicast); written in canonical lower case.</param>
/// <param name="Bridge">The host bridge's name, e.g. <c>br-vlan100</c> or <c>br-int</c>; empty with <see cref="NicBridgeType.None"/>.</param>
/// <param name="BridgeType">A Linux bridge, an Open vSwitch bridge, or none (an existing TAP).</param>
/// <param name="Model">What the guest sees: <c>virtio</c>, <c>e1000</c> or <c>rtl8139</c>.</param>
/// <param name="VlanTag">
/// The 802.1Q tag of the OVS port (an access port), 1-4094; Open vSwitch only: a Linux bridge network carries
/// its VLAN on the host's uplink instead.
/// </param>
/// <param name="OvsInterfaceId">
/// The OVS port's <c>external_ids:iface-id</c>; for OVN the logical switch port's name, so that ovn-controller binds
/// the TAP to it. libvirt accepts only a UUID here. Open vSwitch only; null lets libvirt pick a random one.
/// </param>
/// <param name="Mtu">The MTU of the TAP and of the guest's NIC (virtio tells the guest), 1280-9216; null for the bridge's.</param>
/// <param name="LinkUp">Whether the guest sees the link up (cable plugged in).</param>
/// <param name="TargetDev">
/// The host TAP device's name (at most 15 characters, IFNAMSIZ); null lets libvirt name it (<c>vnetN</c>). Names starting
/// with <c>vnet</c>, <c>macvtap</c> or <c>macvlan</c> are libvirt's own and refused. Required with <see cref="NicBridgeType.None"/>:
/// the existing TAP.
/// </param>
public sealed record NicSpec(
    string Mac,
    string Bridge,
    NicBridgeType BridgeType = NicBridgeType.Linux,
    string Model = "virtio",
    int? VlanTag = null,
    Guid? OvsInterfaceId = null,
    int? Mtu = null,
    bool LinkUp = true,
    string? TargetDev = null)
{
    /// <summary>
    /// A NIC on an existing TAP device <paramref name="tap"/> (<see cref="NicBridgeType.None"/>): libvirt opens it as it
    /// is, which an unprivileged QEMU can when the TAP belongs to its user (<c>ip tuntap add … user USER</c>).
    /// </summary>
    public static NicSpec ExistingTap(string mac, string tap, string model = "virtio", int? mtu = null, bool linkUp = true) =>
        new(mac, "", NicBridgeType.None, model, Mtu: mtu, LinkUp: linkUp, TargetDev: tap);
}

/// <summary>A NIC as a domain's XML describes it (see <see cref="LibvirtDomain.ListInterfaces"/>).</summary>
/// <param name="Mac">The MAC address, lower case, as libvirt writes it.</param>
/// <param name="Type">libvirt's interface type: <c>bridge</c> or (an existing TAP) <c>ethernet</c> for what <see cref="NicSpec"/> builds; <c>network</c>, ... otherwise.</param>
/// <param name="SourceBridge">The host bridge (<c>&lt;source bridge&gt;</c>); for a running domain on a libvirt network, the network's bridge.</param>
/// <param name="VirtualPortType">The virtual port's type, <c>openvswitch</c> for an OVS port; null for none.</param>
/// <param name="OvsInterfaceId">The OVS port's interface id (libvirt generates one when none was given).</param>
/// <param name="VlanTag">The VLAN tag when the interface has exactly one (an access port); null for none or a trunk.</param>
/// <param name="Model">The model the guest sees, e.g. <c>virtio</c>; null when libvirt's default.</param>
/// <param name="LinkUp">Whether the link is up (no <c>&lt;link&gt;</c> element means up).</param>
/// <param name="TargetDev">The host TAP device: the name given, or, on a running domain, the one libvirt made.</param>
/// <param name="Mtu">The MTU given, or null.</param>
public sealed record DomainInterface(
    string Mac,
    string Type,
    string? SourceBridge,
    string? VirtualPortType,
    Guid? OvsInterfaceId,
    int? VlanTag,
    string? Model,
    bool LinkUp,
    string? TargetDev,
    int? Mtu);
