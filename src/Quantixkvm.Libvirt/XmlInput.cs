using System.Globalization;
using System.Xml;
using System.Xml.Linq;

namespace Quantixkvm.Libvirt;

/// <summary>
/// Checks on the values the XML builders put into libvirt XML, so that a bad value fails here with
/// the name of the field instead of later inside libvirt, or worse, as a path on the host.
/// </summary>
internal static class XmlInput
{
    /// <summary>
    /// A libvirt object name (pool, volume, snapshot, Ceph pool or user): not empty, and no '/', "..",
    /// or control characters, because libvirt turns several of these names into file names.
    /// </summary>
    public static string Name(string? value, string field)
    {
        if (string.IsNullOrWhiteSpace(value))
        {
            throw new ArgumentException($"The {field} must not be empty.", field);
        }

        if (value.Contains('/', StringComparison.Ordinal) || value.Contains("..", StringComparison.Ordinal))
        {
            throw new ArgumentException($"The {field} '{value}' must not contain '/' or '..'.", field);
        }

        NoControlCharacters(value, field);
        return value;
    }

    /// <summary>
    /// A Ceph pool or RBD image name as a network disk names it (<c>POOL/IMAGE</c>): a plain <see cref="Name"/>
    /// without '@' (QEMU and libvirt read what follows as a snapshot) or white space.
    /// </summary>
    public static string CephName(string? value, string field)
    {
        Name(value, field);
        if (value!.Contains('@', StringComparison.Ordinal) || value.Any(char.IsWhiteSpace))
        {
            throw new ArgumentException($"The {field} '{value}' must not contain '@' or white space.", field);
        }

        return value;
    }

    /// <summary>A Ceph client id as libvirt wants it: a plain name without the <c>client.</c> prefix (librados adds it).</summary>
    public static string CephUser(string? value, string field)
    {
        Name(value, field);
        if (value!.StartsWith("client.", StringComparison.Ordinal))
        {
            throw new ArgumentException($"The {field} '{value}' must be given without the 'client.' prefix.", field);
        }

        return value;
    }

    /// <summary>The <c>&lt;host name port/&gt;</c> elements of Ceph monitors: at least one, each a host name or address and a port.</summary>
    public static List<XElement> MonitorHosts(IReadOnlyList<(string Host, int Port)>? monitors, string field)
    {
        if (monitors is null || monitors.Count == 0)
        {
            throw new ArgumentException("At least one Ceph monitor is needed.", field);
        }

        var hosts = new List<XElement>(monitors.Count);
        foreach ((string host, int port) in monitors)
        {
            Text(host, field + " host");
            if (host.Any(char.IsWhiteSpace) || host.Contains('/', StringComparison.Ordinal))
            {
                throw new ArgumentException($"The monitor host '{host}' is not a host name or address.", field);
            }

            if (port is < 1 or > 65535)
            {
                throw new ArgumentOutOfRangeException(field, port, "A monitor port must be between 1 and 65535.");
            }

            hosts.Add(new XElement(
                "host",
                new XAttribute("name", host),
                new XAttribute("port", port.ToString(CultureInfo.InvariantCulture))));
        }

        return hosts;
    }

    /// <summary>Free text for an element or attribute: any characters XML can carry, but no control characters.</summary>
    public static string Text(string? value, string field)
    {
        if (string.IsNullOrWhiteSpace(value))
        {
            throw new ArgumentException($"The {field} must not be empty.", field);
        }

        NoControlCharacters(value, field);
        return value;
    }

    /// <summary>Multi-line free text (a description): anything XML can carry, tabs and line breaks included.</summary>
    public static string MultiLineText(string value, string field)
    {
        try
        {
            XmlConvert.VerifyXmlChars(value);
        }
        catch (XmlException e)
        {
            throw new ArgumentException($"The {field} contains a character that XML cannot carry.", field, e);
        }

        return value;
    }

    /// <summary>
    /// An absolute host path without ".." segments and control characters: libvirt would take a
    /// relative path relative to the daemon's working directory, not the caller's.
    /// </summary>
    public static string AbsolutePath(string? value, string field)
    {
        if (string.IsNullOrWhiteSpace(value))
        {
            throw new ArgumentException($"The {field} must not be empty.", field);
        }

        if (!value.StartsWith('/'))
        {
            throw new ArgumentException($"The {field} '{value}' must be an absolute path.", field);
        }

        if (value.Split('/').Contains(".."))
        {
            throw new ArgumentException($"The {field} '{value}' must not contain '..' segments.", field);
        }

        NoControlCharacters(value, field);
        return value;
    }

    /// <summary>A UUID libvirt can identify the object by: the empty UUID would make libvirt pick one.</summary>
    public static string Uuid(Guid value, string field) =>
        value == Guid.Empty
            ? throw new ArgumentException($"The {field} must not be the empty UUID.", field)
            : value.ToString("D");

    /// <summary>One of a fixed set of values (compared ordinally, as libvirt does).</summary>
    public static string OneOf(string? value, string field, params string[] allowed)
    {
        if (value is null || !allowed.Contains(value, StringComparer.Ordinal))
        {
            throw new ArgumentException(
                $"The {field} '{value}' is not one of: {string.Join(", ", allowed)}.", field);
        }

        return value;
    }

    private static void NoControlCharacters(string value, string field)
    {
        if (value.Any(char.IsControl))
        {
            throw new ArgumentException($"The {field} must not contain control characters.", field);
        }

        try
        {
            XmlConvert.VerifyXmlChars(value);
        }
        catch (XmlException e)
        {
            throw new ArgumentException($"The {field} contains a character that XML cannot carry.", field, e);
        }
    }
}
