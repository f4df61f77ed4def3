using System.Globalization;
using System.Text.RegularExpressions;
using System.Xml;
using System.Xml.Linq;

namespace Quantixkvm.Libvirt;

/// <summary>
/// Builds and reads libvirt domain XML with System.Xml.Linq, so every name, title and metadata
/// value is escaped by the XML writer rather than pasted into a string.
/// </summary>
public static partial class DomainXml
{
    /// <summary>The namespace of the Quantixkvm metadata element inside a domain's <c>&lt;metadata&gt;</c>.</summary>
    public const string MetadataNamespace = "https://quantixkvm.dev/xmlns/vm/1";

    /// <summary>The prefix used for <see cref="MetadataNamespace"/>.</summary>
    public const string MetadataPrefix = "qkvm";

    /// <summary>The local name of the Quantixkvm metadata element.</summary>
    public const string MetadataElementName = "vm";

    private const string KvmDevice = "/dev/kvm";

    private static readonly XNamespace Qkvm = MetadataNamespace;

    /// <summary>
    /// A minimal x86_64 HVM domain: name, UUID, title, Quantixkvm metadata, memory, vCPUs, ACPI/APIC
    /// (so that a graceful shutdown can reach a QEMU guest), the spec's disks and NICs, a serial console (a
    /// pseudo-terminal, or the spec's log file) and a memory balloon. When any disk has a boot order
    /// the domain-wide <c>&lt;boot dev='hd'/&gt;</c> is left out, since libvirt refuses both together.
    /// Accepted by libvirt's test driver as well as by the QEMU driver (<c>qemu</c>/<c>kvm</c>).
    /// </summary>
    /// <exception cref="ArgumentException">A field is empty, out of range, or not representable in XML.</exception>
    public static string Build(DomainSpec spec)
    {
        ArgumentNullException.ThrowIfNull(spec);
        ArgumentException.ThrowIfNullOrWhiteSpace(spec.Name, nameof(spec) + "." + nameof(spec.Name));
        ArgumentException.ThrowIfNullOrWhiteSpace(spec.DomainType, nameof(spec) + "." + nameof(spec.DomainType));
        ArgumentNullException.ThrowIfNull(spec.Title, nameof(spec) + "." + nameof(spec.Title));
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(spec.Vcpus, nameof(spec) + "." + nameof(spec.Vcpus));
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(spec.MemoryMiB, nameof(spec) + "." + nameof(spec.MemoryMiB));
        if (spec.Uuid == Guid.Empty)
        {
            throw new ArgumentException("The domain UUID must not be empty.", nameof(spec));
        }

        RequireXmlText(spec.Name, "name");
        RequireXmlText(spec.Title, "title");
        RequireXmlText(spec.DomainType, "domain type");
        if (spec.Title.AsSpan().IndexOfAny('\r', '\n') >= 0)
        {
            // libvirt refuses multi-line titles; say so before the round trip.
            throw new ArgumentException("The domain title must be a single line.", nameof(spec));
        }

        List<XElement> disks = BuildDisks(spec.Disks);
        List<XElement> interfaces = BuildInterfaces(spec.Nics);
        bool perDeviceBoot = spec.Disks?.Any(disk => disk.BootOrder is not null) == true;
        string? serialLog = spec.SerialLogPath is null
            ? null
            : XmlInput.AbsolutePath(spec.SerialLogPath, nameof(spec) + "." + nameof(spec.SerialLogPath));

        string memory = spec.MemoryMiB.ToString(CultureInfo.InvariantCulture);
        var domain = new XElement(
            "domain",
            new XAttribute("type", spec.DomainType),
            new XElement("name", spec.Name),
            new XElement("uuid", spec.Uuid.ToString("D")),
            spec.Title.Length > 0 ? new XElement("title", spec.Title) : null,
            new XElement("metadata", BuildMetadataElement(spec.Metadata)),
            new XElement("memory", new XAttribute("unit", "MiB"), memory),
            new XElement("currentMemory", new XAttribute("unit", "MiB"), memory),
            new XElement(
                "vcpu",
                new XAttribute("placement", "static"),
                spec.Vcpus.ToString(CultureInfo.InvariantCulture)),
            new XElement(
                "os",
                new XElement("type", new XAttribute("arch", "x86_64"), "hvm"),
                perDeviceBoot ? null : new XElement("boot", new XAttribute("dev", "hd"))),
            new XElement("features", new XElement("acpi"), new XElement("apic")),
            new XElement("clock", new XAttribute("offset", "utc")),
            new XElement("on_poweroff", "destroy"),
            new XElement("on_reboot", "restart"),
            new XElement("on_crash", "destroy"),
            new XElement(
                "devices",
                disks,
                interfaces,
                new XElement(
                    "serial",
                    new XAttribute("type", serialLog is null ? "pty" : "file"),
                    SerialSource(serialLog),
                    new XElement("target", new XAttribute("port", "0"))),
                new XElement(
                    "console",
                    new XAttribute("type", serialLog is null ? "pty" : "file"),
                    SerialSource(serialLog),
                    new XElement("target", new XAttribute("type", "serial"), new XAttribute("port", "0"))),
                new XElement("memballoon", new XAttribute("model", "virtio"))));

        return new XDocument(domain).ToString();
    }

    /// <summary>
    /// One disk's <c>&lt;disk&gt;</c> element, as it goes into a domain's devices and as
    /// <see cref="LibvirtDomain.AttachDevice"/> and <see cref="LibvirtDomain.DetachDevice"/> take it
    /// (libvirt finds the disk to detach by its target device).
    /// </summary>
    /// <exception cref="ArgumentException">A field is empty, invalid, or the combination is impossible.</exception>
    public static string Disk(DiskSpec disk) => BuildDisk(disk, nameof(disk)).ToString();

    /// <summary>
    /// The disks (<c>&lt;devices&gt;&lt;disk&gt;</c>) of a domain's XML, in document order: target device,
    /// kind, source (pool volume, file, or a network disk's protocol and name) and serial. Disks without a
    /// target device are skipped.
    /// </summary>
    /// <exception cref="XmlException">The text is not well-formed XML.</exception>
    public static IReadOnlyList<DomainDisk> ReadDisks(string domainXml)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(domainXml);
        XElement? devices = XDocument.Parse(domainXml).Root?.Element("devices");
        var disks = new List<DomainDisk>();
        foreach (XElement disk in devices?.Elements("disk") ?? [])
        {
            string? target = disk.Element("target")?.Attribute("dev")?.Value;
            if (string.IsNullOrEmpty(target))
            {
                continue;
            }

            XElement? source = disk.Element("source");
            bool network = disk.Attribute("type")?.Value == "network";
            disks.Add(new DomainDisk(
                target,
                disk.Attribute("device")?.Value ?? "disk",
                source?.Attribute("pool")?.Value,
                source?.Attribute("volume")?.Value,
                source?.Attribute("file")?.Value,
                disk.Element("serial")?.Value,
                network ? source?.Attribute("protocol")?.Value : null,
                network ? source?.Attribute("name")?.Value : null));
        }

        return disks;
    }

    /// <summary>
    /// The domain type for a libvirt URI: <c>test</c> for libvirt's test driver (<c>test://</c>,
    /// <c>test+unix://</c> and other <c>test+transport://</c> URIs), otherwise <c>kvm</c> when
    /// <c>/dev/kvm</c> can be opened for reading and writing on this machine, else <c>qemu</c>.
    /// </summary>
    public static string DomainTypeFor(string libvirtUri) => DomainTypeFor(libvirtUri, IsKvmUsable());

    /// <summary>As <see cref="DomainTypeFor(string)"/>, with the KVM check's answer given.</summary>
    public static string DomainTypeFor(string libvirtUri, bool kvmUsable)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(libvirtUri);
        int colon = libvirtUri.IndexOf(':', StringComparison.Ordinal);
        ReadOnlySpan<char> scheme = colon > 0 ? libvirtUri.AsSpan(0, colon) : [];
        int plus = scheme.IndexOf('+');
        ReadOnlySpan<char> driver = plus >= 0 ? scheme[..plus] : scheme;

        if (driver.Equals("test", StringComparison.OrdinalIgnoreCase))
        {
            return "test";
        }

        return kvmUsable ? "kvm" : "qemu";
    }

    /// <summary>
    /// The domain type to define x86_64 guests with, as the hypervisor's own capabilities XML (see
    /// <see cref="LibvirtConnection.GetCapabilities"/>) offers them: <c>kvm</c> when the driver can use KVM
    /// (which the daemon, not this process, must be able to: <c>/dev/kvm</c> may open here and still not
    /// work, or not be the daemon's to open), else <c>qemu</c> when it offers that, else the first type it
    /// offers (<c>test</c> for the test driver).
    /// </summary>
    /// <exception cref="XmlException">The text is not well-formed XML.</exception>
    /// <exception cref="ArgumentException">The capabilities offer no domain type for x86_64 or i686 guests.</exception>
    public static string DomainTypeFromCapabilities(string capabilitiesXml)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(capabilitiesXml);
        var arches = (XDocument.Parse(capabilitiesXml).Root?.Elements("guest") ?? [])
            .Where(guest => guest.Element("os_type")?.Value == "hvm")
            .SelectMany(guest => guest.Elements("arch"))
            .ToList();
        List<string> types =
        [
            .. arches.Where(arch => arch.Attribute("name")?.Value == "x86_64")
                .Concat(arches.Where(arch => arch.Attribute("name")?.Value == "i686"))
                .SelectMany(arch => arch.Elements("domain"))
                .Select(domain => domain.Attribute("type")?.Value)
                .OfType<string>(),
        ];
        return types.Contains("kvm") ? "kvm"
            : types.Contains("qemu") ? "qemu"
            : types.FirstOrDefault() ?? throw new ArgumentException("The capabilities offer no domain type for x86 guests.", nameof(capabilitiesXml));
    }

    /// <summary>Whether <c>/dev/kvm</c> exists and this process may open it for reading and writing.</summary>
    public static bool IsKvmUsable()
    {
        try
        {
            using var kvm = File.OpenHandle(KvmDevice, FileMode.Open, FileAccess.ReadWrite);
            return !kvm.IsInvalid;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or NotSupportedException)
        {
            return false;
        }
    }

    /// <summary>
    /// The attributes of the Quantixkvm metadata element (<c>&lt;metadata&gt;&lt;qkvm:vm …/&gt;</c>) in a
    /// domain's XML; empty when the domain has none.
    /// </summary>
    /// <exception cref="XmlException">The text is not well-formed XML.</exception>
    public static IReadOnlyDictionary<string, string> ReadMetadata(string domainXml)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(domainXml);
        XElement? root = XDocument.Parse(domainXml).Root;
        XElement? vm = root?.Element("metadata")?.Element(Qkvm + MetadataElementName);

        var metadata = new Dictionary<string, string>(StringComparer.Ordinal);
        if (vm is not null)
        {
            foreach (XAttribute attribute in vm.Attributes())
            {
                if (!attribute.IsNamespaceDeclaration && attribute.Name.Namespace == XNamespace.None)
                {
                    metadata[attribute.Name.LocalName] = attribute.Value;
                }
            }
        }

        return metadata;
    }

    private static XElement BuildMetadataElement(IReadOnlyDictionary<string, string>? metadata)
    {
        var vm = new XElement(
            Qkvm + MetadataElementName,
            new XAttribute(XNamespace.Xmlns + MetadataPrefix, MetadataNamespace));

        if (metadata is null)
        {
            return vm;
        }

        foreach ((string key, string value) in metadata.OrderBy(pair => pair.Key, StringComparer.Ordinal))
        {
            try
            {
                XmlConvert.VerifyNCName(key);
            }
            catch (Exception e) when (e is XmlException or ArgumentNullException)
            {
                throw new ArgumentException(
                    $"Metadata key '{key}' is not an XML name without a colon.", nameof(metadata), e);
            }

            ArgumentNullException.ThrowIfNull(value, nameof(metadata));
            RequireXmlText(value, $"metadata value for '{key}'");
            vm.Add(new XAttribute(key, value));
        }

        return vm;
    }

    private static List<XElement> BuildDisks(IReadOnlyList<DiskSpec>? disks)
    {
        var elements = new List<XElement>();
        if (disks is null)
        {
            return elements;
        }

        const string field = "spec." + nameof(DomainSpec.Disks);
        var targets = new HashSet<string>(StringComparer.Ordinal);
        var bootOrders = new HashSet<int>();
        for (int i = 0; i < disks.Count; i++)
        {
            DiskSpec disk = disks[i];
            elements.Add(BuildDisk(disk, $"{field}[{i}]"));
            if (!targets.Add(disk.TargetDev))
            {
                throw new ArgumentException($"The target device '{disk.TargetDev}' is used by two disks.", field);
            }

            if (disk.BootOrder is int order && !bootOrders.Add(order))
            {
                // libvirt refuses two devices with the same boot order.
                throw new ArgumentException($"The boot order {order} is given to two disks.", field);
            }
        }

        return elements;
    }

    private static XElement BuildDisk(DiskSpec disk, string field)
    {
        ArgumentNullException.ThrowIfNull(disk, field);
        string bus = XmlInput.OneOf(disk.Bus, field + "." + nameof(disk.Bus), "virtio", "sata", "scsi");
        string device = XmlInput.OneOf(disk.Device, field + "." + nameof(disk.Device), "disk", "cdrom");
        string format = XmlInput.OneOf(disk.DriverFormat, field + "." + nameof(disk.DriverFormat), "raw", "qcow2");

        string targetField = field + "." + nameof(disk.TargetDev);
        if (disk.TargetDev is null || !TargetDevPattern().IsMatch(disk.TargetDev))
        {
            throw new ArgumentException(
                $"The {targetField} '{disk.TargetDev}' is not a device name such as 'vdb' or 'sda'.", targetField);
        }

        // libvirt derives the disk's index on its bus from the name, so the prefix must fit the bus.
        string prefix = bus == "virtio" ? "vd" : "sd";
        if (!disk.TargetDev.StartsWith(prefix, StringComparison.Ordinal))
        {
            throw new ArgumentException(
                $"The {targetField} '{disk.TargetDev}' must start with '{prefix}' on the {bus} bus.", targetField);
        }

        if (device == "cdrom" && bus == "virtio")
        {
            throw new ArgumentException("A CD-ROM cannot be on the virtio bus, which has no removable media.", field + "." + nameof(disk.Bus));
        }

        bool volume = disk.SourcePool is not null || disk.SourceVolume is not null;
        int sources = (volume ? 1 : 0) + (disk.SourceFile is not null ? 1 : 0) + (disk.SourceRbd is not null ? 1 : 0);
        if (sources > 1)
        {
            throw new ArgumentException("A disk has one source: a pool volume, a file or an RBD image.", field);
        }

        string type = "file";
        XElement? source = null;
        if (volume)
        {
            type = "volume";
            source = new XElement(
                "source",
                new XAttribute("pool", XmlInput.Name(disk.SourcePool, field + "." + nameof(disk.SourcePool))),
                new XAttribute("volume", XmlInput.Name(disk.SourceVolume, field + "." + nameof(disk.SourceVolume))));
        }
        else if (disk.SourceFile is not null)
        {
            source = new XElement(
                "source", new XAttribute("file", XmlInput.AbsolutePath(disk.SourceFile, field + "." + nameof(disk.SourceFile))));
        }
        else if (disk.SourceRbd is not null)
        {
            type = "network";
            if (format != "raw")
            {
                // QEMU opens the RBD image itself; Ceph does the thin provisioning and cloning a qcow2 would.
                throw new ArgumentException("An RBD disk is raw.", field + "." + nameof(disk.DriverFormat));
            }

            source = RbdSource(disk.SourceRbd, field + "." + nameof(disk.SourceRbd));
        }
        else if (device != "cdrom")
        {
            throw new ArgumentException("A disk needs a source: a pool volume, a file or an RBD image (only a CD-ROM may be empty).", field);
        }

        if (disk.BootOrder is < 1)
        {
            throw new ArgumentOutOfRangeException(field + "." + nameof(disk.BootOrder), disk.BootOrder, "A boot order starts at 1.");
        }

        string serialField = field + "." + nameof(disk.Serial);
        if (disk.Serial is not null && !SerialPattern().IsMatch(disk.Serial))
        {
            throw new ArgumentException(
                $"The {serialField} '{disk.Serial}' must be 1 to 20 letters, digits or '_', '.', '+', '-'.", serialField);
        }

        return new XElement(
            "disk",
            new XAttribute("type", type),
            new XAttribute("device", device),
            new XElement(
                "driver",
                new XAttribute("name", "qemu"),
                new XAttribute("type", format),
                // Ceph keeps its own cache; QEMU's would only add a copy (and is what libvirt advises for rbd).
                type == "network" ? new XAttribute("cache", "none") : null),
            source,
            new XElement("target", new XAttribute("dev", disk.TargetDev), new XAttribute("bus", bus)),
            disk.BootOrder is int order ? new XElement("boot", new XAttribute("order", order.ToString(CultureInfo.InvariantCulture))) : null,
            disk.ReadOnly ? new XElement("readonly") : null,
            disk.Serial is null ? null : new XElement("serial", disk.Serial));
    }

    /// <summary>
    /// <c>&lt;source protocol='rbd' name='POOL/IMAGE'&gt;</c> with the monitors and the cephx user and secret;
    /// the key itself stays in the libvirt secret.
    /// </summary>
    private static XElement RbdSource(RbdDiskSource rbd, string field)
    {
        XmlInput.CephName(rbd.CephPool, field + "." + nameof(rbd.CephPool));
        XmlInput.CephName(rbd.Image, field + "." + nameof(rbd.Image));
        XmlInput.CephUser(rbd.AuthUser, field + "." + nameof(rbd.AuthUser));
        return new XElement(
            "source",
            new XAttribute("protocol", "rbd"),
            new XAttribute("name", rbd.Name),
            XmlInput.MonitorHosts(rbd.Monitors, field + "." + nameof(rbd.Monitors)),
            new XElement(
                "auth",
                new XAttribute("username", rbd.AuthUser),
                new XElement(
                    "secret",
                    new XAttribute("type", "ceph"),
                    new XAttribute("uuid", XmlInput.Uuid(rbd.SecretUuid, field + "." + nameof(rbd.SecretUuid))))));
    }

    /// <summary>Whether <paramref name="value"/> is a disk target device name, e.g. <c>vda</c> or <c>sdb</c>.</summary>
    public static bool IsTargetDev(string? value) => value is not null && TargetDevPattern().IsMatch(value);

    // append: QEMU restarts (a snapshot revert starts a new process) must not wipe the console history.
    private static XElement? SerialSource(string? logPath) =>
        logPath is null ? null : new XElement("source", new XAttribute("path", logPath), new XAttribute("append", "on"));

    [GeneratedRegex(@"^(vd|sd)[a-z]{1,3}\z", RegexOptions.CultureInvariant)]
    private static partial Regex TargetDevPattern();

    [GeneratedRegex(@"^[A-Za-z0-9_.+\-]{1,20}\z", RegexOptions.CultureInvariant)]
    private static partial Regex SerialPattern();

    private static void RequireXmlText(string text, string what)
    {
        try
        {
            XmlConvert.VerifyXmlChars(text);
        }
        catch (XmlException e)
        {
            throw new ArgumentException($"The {what} contains a character that XML cannot carry.", e);
        }
    }
}
