using System.Xml.Linq;

namespace Quantixkvm.Libvirt;

/// <summary>Builds libvirt storage pool XML (<c>&lt;pool&gt;</c>) with System.Xml.Linq, from validated input.</summary>
public static class StoragePoolXml
{
    /// <summary>A pool of image files in one host folder (<c>&lt;pool type='dir'&gt;</c>).</summary>
    /// <exception cref="ArgumentException">A field is empty, not a plain name, or the path is not absolute.</exception>
    public static string Dir(string name, Guid uuid, string targetPath)
    {
        var pool = new XElement(
            "pool",
            new XAttribute("type", "dir"),
            new XElement("name", XmlInput.Name(name, nameof(name))),
            new XElement("uuid", XmlInput.Uuid(uuid, nameof(uuid))),
            new XElement("target", new XElement("path", XmlInput.AbsolutePath(targetPath, nameof(targetPath)))));

        return new XDocument(pool).ToString();
    }

    /// <summary>
    /// A pool backed by a Ceph RBD pool (<c>&lt;pool type='rbd'&gt;</c>): the Ceph pool's name, its
    /// monitors, and cephx authentication as <paramref name="authUser"/> with the key held in the
    /// libvirt secret <paramref name="secretUuid"/> (see <see cref="SecretXml.Ceph"/>).
    /// </summary>
    /// <param name="authUser">The Ceph client id without the <c>client.</c> prefix (libvirt adds it).</param>
    /// <exception cref="ArgumentException">A field is empty or invalid, or there is no monitor.</exception>
    public static string Rbd(
        string name,
        Guid uuid,
        string cephPoolName,
        IReadOnlyList<(string Host, int Port)> monitors,
        string authUser,
        Guid secretUuid)
    {
        ArgumentNullException.ThrowIfNull(monitors);
        XmlInput.Name(name, nameof(name));
        XmlInput.Name(cephPoolName, nameof(cephPoolName));
        XmlInput.CephUser(authUser, nameof(authUser));
        var source = new XElement(
            "source",
            new XElement("name", cephPoolName),
            XmlInput.MonitorHosts(monitors, nameof(monitors)));

        source.Add(new XElement(
            "auth",
            new XAttribute("type", "ceph"),
            new XAttribute("username", authUser),
            new XElement("secret", new XAttribute("uuid", XmlInput.Uuid(secretUuid, nameof(secretUuid))))));

        var pool = new XElement(
            "pool",
            new XAttribute("type", "rbd"),
            new XElement("name", name),
            new XElement("uuid", XmlInput.Uuid(uuid, nameof(uuid))),
            source);

        return new XDocument(pool).ToString();
    }
}
