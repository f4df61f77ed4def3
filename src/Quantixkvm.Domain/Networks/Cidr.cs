using System.Net;
using System.Net.Sockets;
using System.Numerics;

namespace Quantixkvm.Domain.Networks;

/// <summary>
/// An IPv4 or IPv6 subnet in CIDR notation, normalised to its network address ("10.0.0.7/24" is refused: the host
/// bits must be zero, so a typo never silently becomes another subnet). Addresses are handled as unsigned integers of
/// the family's width, which makes containment, overlap and offsets plain arithmetic.
/// </summary>
public sealed record Cidr
{
    private Cidr(IPAddress network, int prefixLength)
    {
        Network = network;
        PrefixLength = prefixLength;
    }

    public IPAddress Network { get; }

    public int PrefixLength { get; }

    public AddressFamily Family => Network.AddressFamily;

    /// <summary>Bits in an address of this family: 32 or 128.</summary>
    public int Width => Family == AddressFamily.InterNetwork ? 32 : 128;

    /// <summary>How many addresses the subnet spans (2^(width − prefix)).</summary>
    public BigInteger Size => BigInteger.One << (Width - PrefixLength);

    public BigInteger First => ToNumber(Network);

    public BigInteger Last => First + Size - 1;

    /// <summary>Parses "a.b.c.d/n" or "x::y/n"; null and a message naming the problem when it is not a subnet.</summary>
    public static (Cidr? Cidr, string? Error) Parse(string? text)
    {
        if (string.IsNullOrWhiteSpace(text))
        {
            return (null, "a subnet must be given in CIDR notation, e.g. 10.0.0.0/24 or fd00::/64");
        }

        var slash = text.IndexOf('/', StringComparison.Ordinal);
        if (slash < 0 || !IPAddress.TryParse(text[..slash], out var address)
            || address.AddressFamily is not (AddressFamily.InterNetwork or AddressFamily.InterNetworkV6)
            || text[..slash].Contains('%', StringComparison.Ordinal))
        {
            return (null, $"'{text}' is not in CIDR notation (address/prefix length, e.g. 10.0.0.0/24 or fd00::/64)");
        }

        var width = address.AddressFamily == AddressFamily.InterNetwork ? 32 : 128;
        if (!int.TryParse(text[(slash + 1)..], System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var prefix)
            || prefix < 0 || prefix > width)
        {
            return (null, $"'{text}' has an invalid prefix length: it must be 0 to {width}");
        }

        var number = ToNumber(address);
        var hostBits = (BigInteger.One << (width - prefix)) - 1;
        if ((number & hostBits) != 0)
        {
            var network = FromNumber(number & ~hostBits & Mask(width), address.AddressFamily);
            return (null, $"'{text}' has host bits set: the subnet is {network}/{prefix}");
        }

        return (new Cidr(address, prefix), null);
    }

    /// <summary>
    /// Parses one IPv4 or IPv6 address strictly: IPv4 as four decimal octets without leading zeros (IPAddress.Parse
    /// would read "10.1" as 10.0.0.1 and "010.0.0.1" as octal), no IPv6 zone ("%eth0"). Null and a message naming <paramref name="what"/> when it is not an address.
    /// </summary>
    public static (IPAddress? Address, string? Error) ParseAddress(string what, string? text)
    {
        if (string.IsNullOrWhiteSpace(text))
        {
            return (null, $"{what} must be an IP address, e.g. 10.0.0.1 or fd00::1");
        }

        var ipv4Shaped = !text.Contains(':', StringComparison.Ordinal);
        if (!IPAddress.TryParse(text, out var address) || text.Contains('%', StringComparison.Ordinal)
            || (ipv4Shaped && (address.AddressFamily != AddressFamily.InterNetwork || text.Split('.').Length != 4
                || text.Split('.').Any(part => part.Length is 0 or > 3 || !part.All(char.IsAsciiDigit) || (part.Length > 1 && part[0] == '0')))))
        {
            return (null, $"{what} '{text}' is not an IP address (IPv4 as four decimal octets, e.g. 10.0.0.1, or IPv6, e.g. fd00::1)");
        }

        return (address, null);
    }

    public bool Contains(IPAddress address) =>
        address.AddressFamily == Family && ToNumber(address) >= First && ToNumber(address) <= Last;

    public bool Overlaps(Cidr other) => other.Family == Family && other.First <= Last && First <= other.Last;

    /// <summary>The address <paramref name="offset"/> places after the network address (0 is the network address itself).</summary>
    public IPAddress At(BigInteger offset) =>
        offset < 0 || offset >= Size
            ? throw new ArgumentOutOfRangeException(nameof(offset), $"{this} has {Size} addresses")
            : FromNumber(First + offset, Family);

    /// <summary>The last address of an IPv4 subnet of /30 or wider: its broadcast address, never given to a host.</summary>
    public IPAddress? Broadcast => Family == AddressFamily.InterNetwork && PrefixLength <= 30 ? FromNumber(Last, Family) : null;

    /// <summary>How far <paramref name="address"/> lies past the network address (0 for the network address itself).</summary>
    public BigInteger OffsetOf(IPAddress address) =>
        Contains(address) ? ToNumber(address) - First : throw new ArgumentOutOfRangeException(nameof(address), $"{address} is not in {this}");

    public override string ToString() => $"{Network}/{PrefixLength}";

    public static BigInteger ToNumber(IPAddress address) => new(address.GetAddressBytes(), isUnsigned: true, isBigEndian: true);

    public static IPAddress FromNumber(BigInteger number, AddressFamily family)
    {
        var bytes = new byte[family == AddressFamily.InterNetwork ? 4 : 16];
        var raw = number.ToByteArray(isUnsigned: true, isBigEndian: true);
        raw.CopyTo(bytes, bytes.Length - raw.Length);
        return new IPAddress(bytes);
    }

    private static BigInteger Mask(int width) => (BigInteger.One << width) - 1;
}
