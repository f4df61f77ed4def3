using System.Xml.Linq;
using Quantixkvm.Agent.Storage;
using Quantixkvm.Contracts;
using Quantixkvm.Libvirt;

namespace Quantixkvm.Agent.Hypervisor;

/// <summary>A VM's NICs as libvirt interfaces: which bridge each is plugged into, by network kind.</summary>
public static class DomainNics
{
    /// <summary>
    /// Linux bridge networks plug the TAP into their bridge; OVS networks into their bridge with the network's VLAN as the
    /// port's tag; overlay networks into OVN's integration bridge with the port's id as iface-id, which ovn-controller binds.
    /// </summary>
    /// <exception cref="OperationFailure">INVALID_SPEC: a network kind this agent does not know.</exception>
    public static NicSpec SpecOf(NicAttachment nic) => nic.NetworkKind switch
    {
        NetworkKinds.Bridge => new NicSpec(nic.Mac, nic.BridgeName, NicBridgeType.Linux, nic.Model, Mtu: nic.Mtu, LinkUp: nic.LinkUp),
        NetworkKinds.Ovs => new NicSpec(nic.Mac, nic.BridgeName, NicBridgeType.OpenVSwitch, nic.Model, nic.Vlan, nic.PortId, nic.Mtu, nic.LinkUp),
        NetworkKinds.Overlay => new NicSpec(
            nic.Mac, NetworkKinds.OvnIntegrationBridge, NicBridgeType.OpenVSwitch, nic.Model, OvsInterfaceId: nic.PortId, Mtu: nic.Mtu, LinkUp: nic.LinkUp),
        _ => throw new OperationFailure("INVALID_SPEC", $"NIC {nic.Mac} is on a network of kind '{nic.NetworkKind}', which this agent does not know"),
    };

    public static bool Holds(LibvirtDomain domain, NicAttachment nic) =>
        domain.ListInterfaces(inactive: true).Any(i => string.Equals(i.Mac, nic.Mac, StringComparison.OrdinalIgnoreCase));

    /// <summary>
    /// Plugs the NIC into the running domain (live hot-plug) and its definition; already there with that MAC is success.
    /// A stopped domain is redefined with the NIC added: every driver can do that, while some (the test driver) cannot
    /// attach a device to a definition.
    /// </summary>
    public static void Attach(LibvirtConnection connection, LibvirtDomain domain, NicAttachment nic, bool live)
    {
        if (Holds(domain, nic))
        {
            return;
        }

        if (live)
        {
            domain.AttachInterface(SpecOf(nic), live: true, config: true);
            return;
        }

        var definition = XDocument.Parse(domain.GetXml(inactive: true));
        var devices = definition.Root?.Element("devices") ?? throw new OperationFailure("INVALID_SPEC", "the domain's definition has no devices");
        devices.Add(XElement.Parse(DomainXml.Interface(SpecOf(nic))));
        connection.DefineDomain(definition.ToString()).Dispose();
    }

    /// <summary>Unplugs the NIC (found by its MAC) from the running domain and its definition; a NIC not there is success.</summary>
    public static void Detach(LibvirtConnection connection, LibvirtDomain domain, NicAttachment nic, bool live)
    {
        if (!Holds(domain, nic))
        {
            return;
        }

        if (live)
        {
            domain.DetachInterface(nic.Mac, live: true, config: true);
            return;
        }

        var definition = XDocument.Parse(domain.GetXml(inactive: true));
        definition.Root?.Element("devices")?.Elements("interface")
            .Where(i => string.Equals((string?)i.Element("mac")?.Attribute("address"), nic.Mac, StringComparison.OrdinalIgnoreCase))
            .Remove();
        connection.DefineDomain(definition.ToString()).Dispose();
    }
}
