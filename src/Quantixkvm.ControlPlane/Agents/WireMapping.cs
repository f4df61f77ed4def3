using Quantixkvm.Contracts;
using Quantixkvm.Domain.Storage;
using Quantixkvm.Domain.Vms;
using WireStorageKind = Quantixkvm.Contracts.StorageOperationKind;

namespace Quantixkvm.ControlPlane.Agents;

/// <summary>
/// The one translation between the domain's enums and the wire contract's. Explicit and exhaustive,
/// so renaming a member on either side fails here (and in its test), not at runtime on a host.
/// </summary>
public static class WireMapping
{
    public static DomainOperationKind ToWire(this OperationKind kind) => kind switch
    {
        OperationKind.Create => DomainOperationKind.Create,
        OperationKind.Start => DomainOperationKind.Start,
        OperationKind.Stop => DomainOperationKind.Stop,
        OperationKind.Reboot => DomainOperationKind.Reboot,
        OperationKind.Pause => DomainOperationKind.Pause,
        OperationKind.Resume => DomainOperationKind.Resume,
        OperationKind.Delete => DomainOperationKind.Delete,
        OperationKind.AttachDisk => DomainOperationKind.AttachDisk,
        OperationKind.DetachDisk => DomainOperationKind.DetachDisk,
        OperationKind.CreateSnapshot => DomainOperationKind.CreateSnapshot,
        OperationKind.RevertSnapshot => DomainOperationKind.RevertSnapshot,
        OperationKind.DeleteSnapshot => DomainOperationKind.DeleteSnapshot,
        OperationKind.Migrate => DomainOperationKind.Migrate,
        OperationKind.Recover => DomainOperationKind.Recover,
        OperationKind.AttachNic => DomainOperationKind.AttachNic,
        OperationKind.DetachNic => DomainOperationKind.DetachNic,
        _ => throw new ArgumentOutOfRangeException(nameof(kind), kind, "no wire name for this operation kind"),
    };

    public static string ToWire(this Domain.Networks.NetworkKind kind) => kind switch
    {
        Domain.Networks.NetworkKind.Bridge => NetworkKinds.Bridge,
        Domain.Networks.NetworkKind.Ovs => NetworkKinds.Ovs,
        Domain.Networks.NetworkKind.Overlay => NetworkKinds.Overlay,
        _ => throw new ArgumentOutOfRangeException(nameof(kind), kind, "no wire name for this network kind"),
    };

    public static string ToWire(this NicModel model) => model switch
    {
        NicModel.Virtio => "virtio",
        NicModel.E1000 => "e1000",
        NicModel.Rtl8139 => "rtl8139",
        _ => throw new ArgumentOutOfRangeException(nameof(model), model, "no wire name for this NIC model"),
    };

    /// <summary>How the host plugs the NIC: its network's kind, bridge, VLAN and MTU, and the port's id as OVN's interface id.</summary>
    public static NicAttachment ToWire(this VmNic nic, ReadModels.NetworkView network) => new(
        nic.PortId, nic.NetworkId, nic.Mac, nic.Model.ToWire(), network.Kind.ToWire(),
        network.Kind == Domain.Networks.NetworkKind.Overlay ? NetworkKinds.OvnIntegrationBridge : network.BridgeName ?? "",
        network.Kind == Domain.Networks.NetworkKind.Ovs ? network.Vlan : null,
        network.Kind == Domain.Networks.NetworkKind.Overlay ? NicAttachment.InterfaceIdFor(nic.PortId) : null,
        network.Mtu, nic.LinkUp);

    public static string ToWire(this Domain.Networks.RuleDirection direction) => direction switch
    {
        Domain.Networks.RuleDirection.Ingress => "ingress",
        Domain.Networks.RuleDirection.Egress => "egress",
        _ => throw new ArgumentOutOfRangeException(nameof(direction), direction, "no wire name for this direction"),
    };

    public static string ToWire(this Domain.Networks.RuleProtocol protocol) => protocol switch
    {
        Domain.Networks.RuleProtocol.Any => "any",
        Domain.Networks.RuleProtocol.Tcp => "tcp",
        Domain.Networks.RuleProtocol.Udp => "udp",
        Domain.Networks.RuleProtocol.Icmp => "icmp",
        Domain.Networks.RuleProtocol.Icmp6 => "icmp6",
        _ => throw new ArgumentOutOfRangeException(nameof(protocol), protocol, "no wire name for this protocol"),
    };

    public static string ToWire(this Domain.Networks.EtherType etherType) => etherType switch
    {
        Domain.Networks.EtherType.Ipv4 => "ipv4",
        Domain.Networks.EtherType.Ipv6 => "ipv6",
        _ => throw new ArgumentOutOfRangeException(nameof(etherType), etherType, "no wire name for this ether type"),
    };

    public static DomainPowerState ToWire(this PowerState state) => state switch
    {
        PowerState.Stopped => DomainPowerState.Stopped,
        PowerState.Running => DomainPowerState.Running,
        PowerState.Paused => DomainPowerState.Paused,
        PowerState.Unknown => DomainPowerState.Unknown,
        _ => throw new ArgumentOutOfRangeException(nameof(state), state, "no wire name for this power state"),
    };

    public static PowerState ToDomain(this DomainPowerState state) => state switch
    {
        DomainPowerState.Stopped => PowerState.Stopped,
        DomainPowerState.Running => PowerState.Running,
        DomainPowerState.Paused => PowerState.Paused,
        DomainPowerState.Unknown => PowerState.Unknown,
        _ => PowerState.Unknown, // a newer agent's state this control plane does not know yet
    };

    public static WireStorageKind ToWire(this Domain.Storage.StorageOperationKind kind) => kind switch
    {
        Domain.Storage.StorageOperationKind.CreatePool => WireStorageKind.CreatePool,
        Domain.Storage.StorageOperationKind.RefreshPool => WireStorageKind.RefreshPool,
        Domain.Storage.StorageOperationKind.DeletePool => WireStorageKind.DeletePool,
        Domain.Storage.StorageOperationKind.CreateVolume => WireStorageKind.CreateVolume,
        Domain.Storage.StorageOperationKind.ResizeVolume => WireStorageKind.ResizeVolume,
        Domain.Storage.StorageOperationKind.DeleteVolume => WireStorageKind.DeleteVolume,
        Domain.Storage.StorageOperationKind.SnapshotVolume => WireStorageKind.SnapshotVolume,
        Domain.Storage.StorageOperationKind.RevertVolume => WireStorageKind.RevertVolume,
        Domain.Storage.StorageOperationKind.DeleteVolumeSnapshot => WireStorageKind.DeleteVolumeSnapshot,
        _ => throw new ArgumentOutOfRangeException(nameof(kind), kind, "no wire name for this storage operation kind"),
    };

    public static string ToWire(this VolumeFormat format) => format == VolumeFormat.Qcow2 ? "qcow2" : "raw";

    public static string ToWire(this DiskBus bus) => bus switch
    {
        DiskBus.Virtio => "virtio",
        DiskBus.Sata => "sata",
        DiskBus.Scsi => "scsi",
        _ => throw new ArgumentOutOfRangeException(nameof(bus), bus, "no wire name for this bus"),
    };

    public static StoragePoolSpecification ToWire(this ReadModels.StoragePoolView pool) => new(
        pool.Id, StoragePoolSpecification.LibvirtNameFor(pool.Id), pool.Location.Kind == PoolKind.Rbd ? "rbd" : "dir", pool.Location.Path,
        pool.Location.CephPool, pool.Location.CephMonitors, pool.Location.CephUser);
}
