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
    /// <param name="excludedDisks">
    /// Target devices (e.g. <c>vdz</c>) left out of the snapshot (<c>&lt;disks&gt;&lt;disk name='vdz'
    /// snapshot='no'/&gt;&lt;/disks&gt;</c>): read-only disks such as a cloud-init seed, which cannot hold an
    /// internal snapshot and never change. Each must be a disk of the domain, or libvirt refuses the snapshot.
    /// </param>
    /// <exception cref="ArgumentException">
    /// The name is not a plain name, the description has a character XML cannot carry, or an excluded
    /// disk is not a device name or is named twice.
    /// </exception>
    public static string Build(string name, string description, bool diskOnly, IReadOnlyCollection<string>? excludedDisks = null)
    {
        ArgumentNullException.ThrowIfNull(description);
        var snapshot = new XElement(
            "domainsnapshot",
            new XElement("name", XmlInput.Name(name, nameof(name))),
            description.Length > 0 ? new XElement("description", XmlInput.MultiLineText(description, nameof(description))) : null,
            diskOnly ? new XElement("memory", new XAttribute("snapshot", "no")) : null);

        if (excludedDisks is { Count: > 0 })
        {
            var seen = new HashSet<string>(StringComparer.Ordinal);
            var disks = new XElement("disks");
            foreach (string disk in excludedDisks)
            {
                if (!DomainXml.IsTargetDev(disk))
                {
                    throw new ArgumentException($"The excluded disk '{disk}' is not a device name such as 'vdb' or 'sda'.", nameof(excludedDisks));
                }

                if (!seen.Add(disk))
                {
                    throw new ArgumentException($"The excluded disk '{disk}' is named twice.", nameof(excludedDisks));
                }

                disks.Add(new XElement("disk", new XAttribute("name", disk), new XAttribute("snapshot", "no")));
            }

            snapshot.Add(disks);
        }

        return new XDocument(snapshot).ToString();
    }
}
