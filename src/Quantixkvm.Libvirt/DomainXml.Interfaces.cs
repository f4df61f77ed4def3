using System.Globalization;
using System.Xml.Linq;
using Quantixkvm.Domain.Networks;

namespace Quantixkvm.Libvirt;

/// <summary>NICs (<c>&lt;devices&gt;&lt;interface&gt;</c>): built from <see cref="NicSpec"/> and read back.</summary>
public static partial class DomainXml
{
    // libvirt treats target names with these prefixes as its own (generated) and drops them from a definition.
    private static readonly string[] LibvirtTapPrefixes = ["vnet", "macvtap", "macvlan"];

    /// <summary>
    /// One NIC's <c>&lt;interface type='bridge'&gt;</c> (or, on an existing TAP, <c>type='ethernet'</c>) element, as it goes into a domain's devices and as
    /// <see cref="LibvirtDomain.AttachInterface"/> attaches it.
    /// </summary>
    /// <exception cref="ArgumentException">A field is invalid, or the combination is impossible.</exception>
    public static string Interface(NicSpec nic) => BuildInterface(nic, nameof(nic)).ToString();

    /// <summary>
    /// The NICs (<c>&lt;devices&gt;&lt;interface&gt;</c>) of a domain's XML, in document order; interfaces without
    /// a MAC address (which libvirt always writes) are skipped.
    /// </summary>
    /// <exception cref="System.Xml.XmlException">The text is not well-formed XML.</exception>
    public static IReadOnlyList<DomainInterface> ReadInterfaces(string domainXml)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(domainXml);
        XElement? devices = XDocument.Parse(domainXml).Root?.Element("devices");
        var interfaces = new List<DomainInterface>();
        foreach (XElement element in devices?.Elements("interface") ?? [])
        {
            string? mac = MacOf(element);
            if (mac is null)
            {
                continue;
            }

            XElement? virtualPort = element.Element("virtualport");
            string? interfaceId = virtualPort?.Element("parameters")?.Attribute("interfaceid")?.Value;
            XElement? vlan = element.Element("vlan");
            var tags = vlan?.Elements("tag").ToList() ?? [];
            interfaces.Add(new DomainInterface(
                mac,
                element.Attribute("type")?.Value ?? "",
                element.Element("source")?.Attribute("bridge")?.Value,
                virtualPort?.Attribute("type")?.Value,
                Guid.TryParse(interfaceId, out Guid id) ? id : null,
                tags.Count == 1 && vlan?.Attribute("trunk")?.Value != "yes" ? IntOrNull(tags[0].Attribute("id")) : null,
                element.Element("model")?.Attribute("type")?.Value,
                element.Element("link")?.Attribute("state")?.Value != "down",
                element.Element("target")?.Attribute("dev")?.Value,
                IntOrNull(element.Element("mtu")?.Attribute("size"))));
        }

        return interfaces;
    }

    /// <summary>
    /// What <c>virDomainDetachDeviceFlags</c> needs to find a NIC: only its MAC. libvirt matches a NIC by the
    /// address given (not by type or source), and <c>ethernet</c> is the one interface type that needs no source.
    /// </summary>
    internal static string InterfaceByMac(string mac) =>
        new XElement("interface", new XAttribute("type", "ethernet"), MacElement(mac)).ToString();

    /// <summary>
    /// The NIC with <paramref name="mac"/> from a domain's XML with its link state set, for <c>virDomainUpdateDeviceFlags</c>
    /// (which refuses any other change, so the element must be the domain's own); when the domain has no such NIC, only the
    /// MAC, so that libvirt reports it missing.
    /// </summary>
    internal static string InterfaceWithLinkState(string domainXml, string mac, bool up)
    {
        string wanted = CanonicalMac(mac, nameof(mac));
        XElement? devices = XDocument.Parse(domainXml).Root?.Element("devices");
        XElement element = devices?.Elements("interface").FirstOrDefault(e => MacOf(e) == wanted) is { } own
            ? new XElement(own)
            : XElement.Parse(InterfaceByMac(wanted));
        element.Element("link")?.Remove();
        element.Add(LinkElement(up));
        return element.ToString();
    }

    /// <summary>The MAC in libvirt's form (lower case, colons).</summary>
    /// <exception cref="ArgumentException">It is not a unicast MAC address.</exception>
    internal static string CanonicalMac(string? mac, string field)
    {
        (string? canonical, string? error) = MacAddress.Normalize(mac);
        return canonical ?? throw new ArgumentException($"The {field}: {error}.", field);
    }

    private static List<XElement> BuildInterfaces(IReadOnlyList<NicSpec>? nics)
    {
        var elements = new List<XElement>();
        const string field = "spec." + nameof(DomainSpec.Nics);
        var macs = new HashSet<string>(StringComparer.Ordinal);
        var targets = new HashSet<string>(StringComparer.Ordinal);
        for (int i = 0; i < (nics?.Count ?? 0); i++)
        {
            NicSpec nic = nics![i];
            XElement element = BuildInterface(nic, $"{field}[{i}]");
            elements.Add(element);
            if (!macs.Add(MacOf(element)!))
            {
                throw new ArgumentException($"The MAC address '{nic.Mac}' is given to two NICs.", field);
            }

            if (nic.TargetDev is not null && !targets.Add(nic.TargetDev))
            {
                throw new ArgumentException($"The target device '{nic.TargetDev}' is given to two NICs.", field);
            }
        }

        return elements;
    }

    private static XElement BuildInterface(NicSpec nic, string field)
    {
        ArgumentNullException.ThrowIfNull(nic, field);
        string mac = CanonicalMac(nic.Mac, field + "." + nameof(nic.Mac));
        string model = XmlInput.OneOf(nic.Model, field + "." + nameof(nic.Model), "virtio", "e1000", "rtl8139");
        if (!Enum.IsDefined(nic.BridgeType))
        {
            throw new ArgumentException($"The {field}.{nameof(nic.BridgeType)} {nic.BridgeType} is not a bridge type.", field + "." + nameof(nic.BridgeType));
        }

        bool ovs = nic.BridgeType == NicBridgeType.OpenVSwitch;
        bool existingTap = nic.BridgeType == NicBridgeType.None;
        if (existingTap)
        {
            if (!string.IsNullOrEmpty(nic.Bridge))
            {
                throw new ArgumentException(
                    $"The {field}.{nameof(nic.Bridge)} must be empty for a NIC on an existing TAP: whoever made the TAP plugged it.",
                    field + "." + nameof(nic.Bridge));
            }

            if (nic.TargetDev is null)
            {
                throw new ArgumentException(
                    $"The {field}.{nameof(nic.TargetDev)} is required for a NIC on an existing TAP: it names that TAP.", field + "." + nameof(nic.TargetDev));
            }
        }
        else
        {
            RequireInterfaceName(nic.Bridge, field + "." + nameof(nic.Bridge));
        }

        if (nic.VlanTag is int tag)
        {
            if (!ovs)
            {
                throw new ArgumentException(
                    $"The {field}.{nameof(nic.VlanTag)} needs an Open vSwitch bridge: a Linux bridge carries its VLAN on the host's uplink.",
                    field + "." + nameof(nic.VlanTag));
            }

            Require(NetworkLimits.CheckVlan(tag), field + "." + nameof(nic.VlanTag));
        }

        if (nic.OvsInterfaceId is Guid interfaceId)
        {
            if (!ovs)
            {
                throw new ArgumentException(
                    $"The {field}.{nameof(nic.OvsInterfaceId)} needs an Open vSwitch bridge.", field + "." + nameof(nic.OvsInterfaceId));
            }

            XmlInput.Uuid(interfaceId, field + "." + nameof(nic.OvsInterfaceId));
        }

        if (nic.Mtu is int mtu)
        {
            Require(NetworkLimits.CheckMtu(mtu), field + "." + nameof(nic.Mtu));
        }

        if (nic.TargetDev is not null)
        {
            string targetField = field + "." + nameof(nic.TargetDev);
            RequireInterfaceName(nic.TargetDev, targetField);
            if (LibvirtTapPrefixes.FirstOrDefault(p => nic.TargetDev.StartsWith(p, StringComparison.Ordinal)) is { } prefix)
            {
                throw new ArgumentException(
                    $"The {targetField} '{nic.TargetDev}' starts with '{prefix}', which libvirt keeps for the names it makes itself.", targetField);
            }
        }

        if (existingTap)
        {
            // managed='no': libvirt opens the TAP as it is (QEMU's user owns it) and leaves it in place when the NIC goes.
            return new XElement(
                "interface",
                new XAttribute("type", "ethernet"),
                MacElement(mac),
                new XElement("target", new XAttribute("dev", nic.TargetDev!), new XAttribute("managed", "no")),
                new XElement("model", new XAttribute("type", model)),
                LinkElement(nic.LinkUp),
                nic.Mtu is int tapMtu ? new XElement("mtu", new XAttribute("size", tapMtu.ToString(CultureInfo.InvariantCulture))) : null);
        }

        return new XElement(
            "interface",
            new XAttribute("type", "bridge"),
            MacElement(mac),
            new XElement("source", new XAttribute("bridge", nic.Bridge)),
            nic.VlanTag is int vlan
                ? new XElement("vlan", new XElement("tag", new XAttribute("id", vlan.ToString(CultureInfo.InvariantCulture))))
                : null,
            ovs
                ? new XElement(
                    "virtualport",
                    new XAttribute("type", "openvswitch"),
                    nic.OvsInterfaceId is Guid id ? new XElement("parameters", new XAttribute("interfaceid", id.ToString("D"))) : null)
                : null,
            nic.TargetDev is null ? null : new XElement("target", new XAttribute("dev", nic.TargetDev)),
            new XElement("model", new XAttribute("type", model)),
            LinkElement(nic.LinkUp),
            nic.Mtu is int size ? new XElement("mtu", new XAttribute("size", size.ToString(CultureInfo.InvariantCulture))) : null);
    }

    private static XElement MacElement(string mac) => new("mac", new XAttribute("address", mac));

    private static XElement LinkElement(bool up) => new("link", new XAttribute("state", up ? "up" : "down"));

    private static string? MacOf(XElement element) =>
        element.Element("mac")?.Attribute("address")?.Value is { Length: > 0 } mac ? mac.ToLowerInvariant() : null;

    private static int? IntOrNull(XAttribute? attribute) =>
        int.TryParse(attribute?.Value, NumberStyles.None, CultureInfo.InvariantCulture, out int value) ? value : null;

    private static void RequireInterfaceName(string? name, string field) =>
        Require(NetworkLimits.CheckInterfaceName($"The {field}", name), field);

    private static void Require(string? error, string field)
    {
        if (error is not null)
        {
            throw new ArgumentException(error + ".", field);
        }
    }
}
