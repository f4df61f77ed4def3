using System.Globalization;
using System.Security.Cryptography;
using System.Text;

namespace Quantixkvm.Domain.Networks;

/// <summary>
/// A NIC's MAC address. Generated ones are derived from the VM and the NIC's index, so a retried command makes the
/// same address (stable), and are locally administered unicast (first octet x2/x6/xA/xE), so they never collide with a
/// vendor's burned-in address. Uniqueness across the platform is checked where NICs are decided, not assumed here.
/// </summary>
public static class MacAddress
{
    /// <summary>The address of NIC <paramref name="index"/> of VM <paramref name="vmId"/>, with <paramref name="attempt"/> to step past a taken one.</summary>
    public static string For(Guid vmId, int index, int attempt = 0) => Derive($"{vmId:N}/nic/{index}/{attempt}");

    /// <summary>
    /// The address of network port <paramref name="portId"/>: stable for the port (a retried add makes the same one),
    /// with <paramref name="attempt"/> to step past one already used in the network.
    /// </summary>
    public static string ForPort(Guid portId, int attempt = 0) => Derive($"{portId:N}/port/{attempt}");

    /// <summary>The address in canonical form (lower case, colons), or a message naming the problem.</summary>
    public static (string? Mac, string? Error) Normalize(string? text)
    {
        var parts = text?.Split(':', '-') ?? [];
        if (parts.Length != 6 || parts.Any(p => p.Length != 2 || !byte.TryParse(p, NumberStyles.HexNumber, CultureInfo.InvariantCulture, out _)))
        {
            return (null, $"'{text}' is not a MAC address (six hexadecimal octets, e.g. 02:00:00:aa:bb:cc)");
        }

        var first = byte.Parse(parts[0], NumberStyles.HexNumber, CultureInfo.InvariantCulture);
        if ((first & 1) == 1)
        {
            return (null, $"'{text}' is a multicast address; a NIC needs a unicast one (first octet even)");
        }

        return (string.Join(':', parts.Select(p => p.ToLowerInvariant())), null);
    }

    private static string Derive(string seed)
    {
        var hash = SHA256.HashData(Encoding.UTF8.GetBytes(seed));
        // Locally administered (bit 1 set), unicast (bit 0 clear).
        hash[0] = (byte)((hash[0] & 0b1111_1100) | 0b0000_0010);
        return string.Join(':', hash.Take(6).Select(b => b.ToString("x2", CultureInfo.InvariantCulture)));
    }
}
