using System.Xml.Linq;

namespace Quantixkvm.Libvirt;

/// <summary>Facts about the host read from libvirt's capabilities XML (<see cref="LibvirtConnection.GetCapabilities"/>).</summary>
public static class HostCapabilities
{
    /// <summary>
    /// The host CPU's feature names (<c>/capabilities/host/cpu/feature/@name</c>), sorted and without repeats; empty when
    /// the driver names none (libvirt's test driver).
    /// </summary>
    public static IReadOnlyList<string> CpuFeatures(string capabilitiesXml)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(capabilitiesXml);
        var cpu = XDocument.Parse(capabilitiesXml).Root?.Element("host")?.Element("cpu");
        return
        [
            .. (cpu?.Elements("feature") ?? [])
                .Select(f => f.Attribute("name")?.Value)
                .OfType<string>()
                .Where(name => name.Length > 0)
                .Distinct(StringComparer.Ordinal)
                .Order(StringComparer.Ordinal),
        ];
    }
}
