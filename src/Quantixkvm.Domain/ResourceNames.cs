using System.Text.RegularExpressions;

namespace Quantixkvm.Domain;

/// <summary>
/// Names that end up as file names, libvirt object names or command arguments on a host (volumes,
/// pools, snapshots): letters, digits, '.', '_' and '-', starting with a letter or digit. So no
/// "../", no '/', no shell metacharacters and no leading '-' (never mistaken for an option).
/// </summary>
public static partial class ResourceNames
{
    public const int MaxLength = 64;

    /// <summary>Null when <paramref name="name"/> is acceptable; otherwise a message naming the problem.</summary>
    public static string? Check(string what, string? name)
    {
        if (string.IsNullOrEmpty(name))
        {
            return $"{what} name must not be empty";
        }

        if (name.Length > MaxLength)
        {
            return $"{what} name must be at most {MaxLength} characters (got {name.Length})";
        }

        return Allowed().IsMatch(name)
            ? null
            : $"{what} name '{Printable(name)}' may contain only letters, digits, '.', '_' and '-', and must start with a letter or digit";
    }

    private static string Printable(string name) => new(name.Select(c => char.IsControl(c) ? '?' : c).ToArray());

    [GeneratedRegex("^[A-Za-z0-9][A-Za-z0-9._-]*$")]
    private static partial Regex Allowed();
}
