namespace Quantixkvm.Network.Linux;

/// <summary>`nft` exited with an error; <see cref="Exception.Message"/> holds the command and nft's own message.</summary>
public sealed class NftCommandException(IReadOnlyList<string> command, int exitCode, string error)
    : Exception($"'{string.Join(' ', command)}' failed (exit {exitCode}): {error.Trim()}")
{
    public IReadOnlyList<string> Command { get; } = command;

    public int ExitCode { get; } = exitCode;

    public string Error { get; } = error.Trim();
}

/// <summary>
/// One nftables table owned by its caller, replaced whole: the ruleset text goes to `nft -f -` on standard input
/// (an argument list, never a shell string), which loads it as one transaction, so a ruleset the kernel refuses leaves
/// the previous one in force. <paramref name="commandPrefix"/> runs `nft` through another command: ["sudo", "-n"] for
/// privileges, or <see cref="InNamespace"/>'s ["ip", "netns", "exec", NS]. Writing the same text again is skipped as
/// long as the table still is what nft listed right after it was written, so a steady state runs one `nft list` per
/// round, and a table changed or deleted by hand is written again.
/// </summary>
public sealed class Nftables(IReadOnlyList<string>? commandPrefix = null)
{
    private static readonly HashSet<string> Families = ["ip", "ip6", "inet", "arp", "bridge", "netdev"];
    private readonly IReadOnlyList<string> _prefix = commandPrefix ?? [];
    private readonly SemaphoreSlim _serial = new(1, 1);
    private readonly Dictionary<(string Family, string Table), (string Ruleset, string Listing)> _applied = [];

    /// <summary>Runs `nft` inside the named network namespace.</summary>
    public static Nftables InNamespace(string networkNamespace, IReadOnlyList<string>? privilegePrefix = null) =>
        new(HostTool.NamespacePrefix(networkNamespace, privilegePrefix));

    /// <summary>The table as `nft -j list table` shows it (JSON), or null when there is none.</summary>
    public async Task<string?> ListTableAsync(string family, string table, CancellationToken cancellationToken = default)
    {
        Check(family, table);
        List<string> command = [.. _prefix, "nft", "-j", "list", "table", family, table];
        var result = await HostTool.RunAsync(command, input: null, cancellationToken);
        if (result.ExitCode != 0 && result.Error.Contains("No such file or directory", StringComparison.Ordinal))
        {
            return null;
        }

        return result.ExitCode == 0 ? result.Output : throw new NftCommandException(command, result.ExitCode, result.Error);
    }

    /// <summary>
    /// Loads <paramref name="ruleset"/>, which must replace the table <paramref name="family"/> <paramref name="table"/>
    /// whole (e.g. "table inet t" + "delete table inet t" + its definition), unless it is the text loaded last and the
    /// table is unchanged since. True when it was loaded.
    /// </summary>
    public async Task<bool> EnsureTableAsync(string family, string table, string ruleset, CancellationToken cancellationToken = default)
    {
        Check(family, table);
        ArgumentException.ThrowIfNullOrWhiteSpace(ruleset);
        await _serial.WaitAsync(cancellationToken);
        try
        {
            var listing = await ListTableAsync(family, table, cancellationToken);
            if (_applied.TryGetValue((family, table), out var last) && last.Ruleset == ruleset && last.Listing == listing)
            {
                return false;
            }

            _applied.Remove((family, table));
            await LoadAsync(ruleset, cancellationToken);
            _applied[(family, table)] = (ruleset, await ListTableAsync(family, table, cancellationToken) ?? "");
            return true;
        }
        finally
        {
            _serial.Release();
        }
    }

    /// <summary>Deletes the table; false when there was none.</summary>
    public async Task<bool> DeleteTableAsync(string family, string table, CancellationToken cancellationToken = default)
    {
        Check(family, table);
        await _serial.WaitAsync(cancellationToken);
        try
        {
            _applied.Remove((family, table));
            if (await ListTableAsync(family, table, cancellationToken) is null)
            {
                return false;
            }

            await LoadAsync($"delete table {family} {table}\n", cancellationToken);
            return true;
        }
        finally
        {
            _serial.Release();
        }
    }

    /// <summary>Loads a ruleset text as one transaction (`nft -f -`).</summary>
    public async Task LoadAsync(string ruleset, CancellationToken cancellationToken = default)
    {
        List<string> command = [.. _prefix, "nft", "-f", "-"];
        var result = await HostTool.RunAsync(command, ruleset, cancellationToken);
        if (result.ExitCode != 0)
        {
            throw new NftCommandException(command, result.ExitCode, result.Error);
        }
    }

    private static void Check(string family, string table)
    {
        if (!Families.Contains(family))
        {
            throw new ArgumentException($"'{family}' is not an nftables family ({string.Join(", ", Families)})", nameof(family));
        }

        if (string.IsNullOrEmpty(table) || table.Length > 64 || !char.IsAsciiLetter(table[0]) || !table.All(c => char.IsAsciiLetterOrDigit(c) || c == '_'))
        {
            throw new ArgumentException($"nftables table name '{table}' must be 1-64 letters, digits or '_', starting with a letter", nameof(table));
        }
    }
}
