using System.Globalization;

namespace Quantixkvm.Domain.Vms;

/// <summary>Input rules for a VM's spec; each failure names the field and the rule.</summary>
public static class VmLimits
{
    public const int MaxNameLength = 64;
    public const int MinVcpus = 1;
    public const int MaxVcpus = 240;
    public const int MinMemoryMiB = 16;
    public const int MaxMemoryMiB = 4 * 1024 * 1024;

    public static string? CheckName(string? name)
    {
        if (string.IsNullOrWhiteSpace(name))
        {
            return "name must not be empty";
        }

        if (name.Length > MaxNameLength)
        {
            return $"name is {name.Length} characters long; at most {MaxNameLength} are allowed";
        }

        for (var i = 0; i < name.Length; i++)
        {
            var c = name[i];
            if (char.IsControl(c))
            {
                return $"name contains a control character (U+{(int)c:X4}) at position {i}";
            }

            if (char.IsHighSurrogate(c) && i + 1 < name.Length && char.IsLowSurrogate(name[i + 1]))
            {
                i++;
                continue;
            }

            // Characters that cannot travel in XML (libvirt's domain XML) or that hide or reorder text.
            if (char.IsSurrogate(c) || c is '\uFFFE' or '\uFFFF'
                || char.GetUnicodeCategory(c) is UnicodeCategory.Format or UnicodeCategory.LineSeparator or UnicodeCategory.ParagraphSeparator)
            {
                return $"name contains an invisible or invalid character (U+{(int)c:X4}) at position {i}";
            }
        }

        if (char.IsWhiteSpace(name[0]) || char.IsWhiteSpace(name[^1]))
        {
            return "name must not begin or end with whitespace";
        }

        return null;
    }

    public static string? CheckVcpus(int vcpus) =>
        vcpus is < MinVcpus or > MaxVcpus ? $"vcpus must be between {MinVcpus} and {MaxVcpus}, got {vcpus}" : null;

    public static string? CheckMemory(int memoryMiB) =>
        memoryMiB is < MinMemoryMiB or > MaxMemoryMiB
            ? $"memoryMiB must be between {MinMemoryMiB} and {MaxMemoryMiB}, got {memoryMiB}"
            : null;

    /// <summary>All problems with a VM's spec, empty when it is valid.</summary>
    public static IReadOnlyList<string> Check(string? name, int vcpus, int memoryMiB) =>
        new[] { CheckName(name), CheckVcpus(vcpus), CheckMemory(memoryMiB) }.OfType<string>().ToArray();
}
