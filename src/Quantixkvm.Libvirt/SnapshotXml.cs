using System.Xml.Linq;

namespace Quantixkvm.Libvirt;

/// <summary>Builds libvirt domain snapshot XML (<c>&lt;domainsnapshot&gt;</c>) with System.Xml.Linq.</summary>
public static class SnapshotXml
{
    /// <summary>
    /// A snapshot with a name and an optional description. <paramref name="diskOnly"/> leaves the memory
    /// out (<c>&lt;memory snapshot='no'/&gt;</c>); create such a snapshot with
    /// <see cref="SnapshotCreateFlags.DiskOnly"/> as well, which is what makes libvirt take external
    /// disk snapshots.
    /// </summary>
    /// <param name="description">Free text, line breaks allowed; empty for none.</param>
    /// <exception cref="ArgumentException">The name is not a plain name, or the description has a character XML cannot carry.</exception>
    public static string Build(string name, string description, bool diskOnly)
    {
        ArgumentNullException.ThrowIfNull(description);
        var snapshot = new XElement(
            "domainsnapshot",
            new XElement("name", XmlInput.Name(name, nameof(name))),
            description.Length > 0 ? new XElement("description", XmlInput.MultiLineText(description, nameof(description))) : null,
            diskOnly ? new XElement("memory", new XAttribute("snapshot", "no")) : null);

        return new XDocument(snapshot).ToString();
    }
}
