using System.Xml.Linq;

namespace Quantixkvm.Libvirt;

/// <summary>Builds libvirt secret XML (<c>&lt;secret&gt;</c>) with System.Xml.Linq.</summary>
public static class SecretXml
{
    /// <summary>
    /// A persistent, private secret for a cephx key (<c>&lt;usage type='ceph'&gt;</c>): persistent so
    /// that guests still start after a daemon restart, private so that libvirt never hands the value
    /// back through its API. The value itself is set afterwards with <see cref="LibvirtSecret.SetValue"/>.
    /// </summary>
    /// <param name="usageName">The usage name, unique per host among Ceph secrets (e.g. <c>client.libvirt secret</c>).</param>
    /// <exception cref="ArgumentException">The UUID is empty or the usage name is empty or has control characters.</exception>
    public static string Ceph(Guid uuid, string usageName)
    {
        var secret = new XElement(
            "secret",
            new XAttribute("ephemeral", "no"),
            new XAttribute("private", "yes"),
            new XElement("uuid", XmlInput.Uuid(uuid, nameof(uuid))),
            new XElement(
                "usage",
                new XAttribute("type", "ceph"),
                new XElement("name", XmlInput.Text(usageName, nameof(usageName)))));

        return new XDocument(secret).ToString();
    }
}
