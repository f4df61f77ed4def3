using System.Globalization;
using System.Xml.Linq;

namespace Quantixkvm.Libvirt;

/// <summary>Builds libvirt storage volume XML (<c>&lt;volume&gt;</c>) with System.Xml.Linq, from validated input.</summary>
public static class StorageVolumeXml
{
    /// <summary>
    /// A thin-provisioned volume (allocation 0, so libvirt does not write the whole capacity up front).
    /// With <paramref name="backingPath"/> it is a linked clone: a qcow2 overlay whose unwritten blocks
    /// are read from the backing image, which must then stay in place and unchanged.
    /// </summary>
    /// <param name="format"><c>raw</c> or <c>qcow2</c>; a linked clone must be <c>qcow2</c>.</param>
    /// <param name="backingPath">The backing image's path (a volume's <see cref="LibvirtStorageVolume.Path"/>), or null.</param>
    /// <param name="backingFormat">
    /// The backing image's format, required with a backing path: otherwise libvirt and QEMU would probe
    /// it, and a guest-written raw image could then pass itself off as qcow2.
    /// </param>
    /// <exception cref="ArgumentException">A field is empty or invalid, or the combination is impossible.</exception>
    public static string Build(
        string name,
        long capacityBytes,
        string format,
        string? backingPath = null,
        string? backingFormat = null)
    {
        XmlInput.Name(name, nameof(name));
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(capacityBytes);
        XmlInput.OneOf(format, nameof(format), "raw", "qcow2");

        var volume = new XElement(
            "volume",
            new XElement("name", name),
            new XElement("capacity", new XAttribute("unit", "bytes"), capacityBytes.ToString(CultureInfo.InvariantCulture)),
            new XElement("allocation", new XAttribute("unit", "bytes"), "0"),
            new XElement("target", new XElement("format", new XAttribute("type", format))));

        if (backingPath is not null)
        {
            XmlInput.AbsolutePath(backingPath, nameof(backingPath));
            if (format != "qcow2")
            {
                throw new ArgumentException("Only a qcow2 volume can have a backing store.", nameof(format));
            }

            if (backingFormat is null)
            {
                throw new ArgumentException("A backing store needs its format, so that nothing probes it.", nameof(backingFormat));
            }

            XmlInput.OneOf(backingFormat, nameof(backingFormat), "raw", "qcow2");
            volume.Add(new XElement(
                "backingStore",
                new XElement("path", backingPath),
                new XElement("format", new XAttribute("type", backingFormat))));
        }
        else if (backingFormat is not null)
        {
            throw new ArgumentException("A backing format without a backing path means nothing.", nameof(backingFormat));
        }

        return new XDocument(volume).ToString();
    }
}
