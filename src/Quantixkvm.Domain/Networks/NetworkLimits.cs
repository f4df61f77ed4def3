using System.Text.RegularExpressions;

namespace Quantixkvm.Domain.Networks;

/// <summary>
/// What a host can carry out, checked before anything is decided: a Linux interface name fits IFNAMSIZ (15 bytes) and
/// has no character `ip` or OVS would treat specially; a VLAN id is an 802.1Q id a switch accepts; an MTU is one every
/// guest and the underlay can use. Each check returns null, or a message naming the value and the rule.
/// </summary>
public static partial class NetworkLimits
{
    /// <summary>Linux's IFNAMSIZ is 16 including the terminating NUL.</summary>
    public const int MaxInterfaceName = 15;

    public const int MinVlan = 1;

    /// <summary>4095 is reserved by 802.1Q.</summary>
    public const int MaxVlan = 4094;

    /// <summary>IPv6 needs 1280; IPv4's minimum of 576 would break any IPv6 subnet on the network.</summary>
    public const int MinMtu = 1280;

    /// <summary>The largest jumbo frame common switches pass.</summary>
    public const int MaxMtu = 9216;

    public static string? CheckInterfaceName(string what, string? name)
    {
        if (string.IsNullOrEmpty(name))
        {
            return $"{what} must not be empty";
        }

        if (name.Length > MaxInterfaceName)
        {
            return $"{what} '{name}' is {name.Length} characters; Linux interface names have at most {MaxInterfaceName}";
        }

        return InterfaceName().IsMatch(name) && name is not ("." or "..")
            ? null
            : $"{what} '{name}' may contain only letters, digits, '.', '_' and '-', and must start with a letter or digit";
    }

    public static string? CheckVlan(int vlan) =>
        vlan is >= MinVlan and <= MaxVlan ? null : $"VLAN id {vlan} is out of range: it must be {MinVlan} to {MaxVlan}";

    public static string? CheckMtu(int mtu) =>
        mtu is >= MinMtu and <= MaxMtu ? null : $"MTU {mtu} is out of range: it must be {MinMtu} to {MaxMtu}";

    [GeneratedRegex("^[A-Za-z0-9][A-Za-z0-9._-]*$")]
    private static partial Regex InterfaceName();
}
