using System.Globalization;
using System.Xml;
using System.Xml.Linq;

namespace Quantixkvm.Libvirt;

/// <summary>
/// Builds and reads libvirt domain XML with System.Xml.Linq, so every name, title and metadata
/// value is escaped by the XML writer rather than pasted into a string.
/// </summary>
public static class DomainXml
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
    /// (so that a graceful shutdown can reach a QEMU guest), a serial console and a memory balloon.
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
                new XElement("boot", new XAttribute("dev", "hd"))),
            new XElement("features", new XElement("acpi"), new XElement("apic")),
            new XElement("clock", new XAttribute("offset", "utc")),
            new XElement("on_poweroff", "destroy"),
            new XElement("on_reboot", "restart"),
            new XElement("on_crash", "destroy"),
            new XElement(
                "devices",
                new XElement(
                    "serial",
                    new XAttribute("type", "pty"),
                    new XElement("target", new XAttribute("port", "0"))),
                new XElement(
                    "console",
                    new XAttribute("type", "pty"),
                    new XElement("target", new XAttribute("type", "serial"), new XAttribute("port", "0"))),
                new XElement("memballoon", new XAttribute("model", "virtio"))));

        return new XDocument(domain).ToString();
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
