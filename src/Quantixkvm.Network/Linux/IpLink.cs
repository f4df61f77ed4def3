using System.Globalization;
using System.Text.Json.Nodes;
using Quantixkvm.Domain.Networks;

namespace Quantixkvm.Network.Linux;

/// <summary>A network device as `ip -j -d link show` reports it.</summary>
/// <param name="Kind">"bridge", "vlan", "veth", "tun", ...; null for a plain device (e.g. a physical NIC).</param>
/// <param name="Link">The device it sits on: a VLAN's parent, a veth's peer; null when none.</param>
/// <param name="VlanId">The 802.1Q id of a VLAN device.</param>
/// <param name="Alias">The device's ifalias (<see cref="IpLink.SetAliasAsync"/>), null when it has none: Linux devices have no external_ids, so this is where an owner marks one.</param>
/// <param name="BridgeCallsNetfilter">
/// For a bridge: whether the IPv4 and IPv6 frames it forwards go through netfilter's IP hooks (its nf_call_iptables and
/// nf_call_ip6tables options, <see cref="IpLink.EnsureBridgeNetfilterAsync"/>); null for other devices.
/// </param>
/// <param name="TunType">A TUN/TAP device's mode, <c>tap</c> or <c>tun</c>; null for other devices.</param>
/// <param name="TunOwner">The user a TUN/TAP device belongs to (who may open it), as `ip` names it; null when none or another kind.</param>
public sealed record LinkInfo(
    string Name, int Mtu, bool IsUp, string? Kind, string? Master, string? Link, int? VlanId, string? Alias = null, bool? BridgeCallsNetfilter = null,
    string? TunType = null, string? TunOwner = null);

/// <summary>`ip` exited with an error; <see cref="Exception.Message"/> holds the command and ip's own message.</summary>
public sealed class IpCommandException(IReadOnlyList<string> command, int exitCode, string error)
    : Exception($"'{string.Join(' ', command)}' failed (exit {exitCode}): {error.Trim()}")
{
    public IReadOnlyList<string> Command { get; } = command;

    public int ExitCode { get; } = exitCode;

    public string Error { get; } = error.Trim();
}

/// <summary>A device exists under the name but is not what was asked for (e.g. a veth where a bridge should be); it is left alone.</summary>
public sealed class LinkConflictException(string name, string message) : Exception(message)
{
    public string Name { get; } = name;
}

/// <summary>
/// Linux bridges and VLAN sub-interfaces through the `ip` tool, run with an argument list (never a shell string), every
/// name checked against <see cref="NetworkLimits"/> first. <paramref name="commandPrefix"/> runs `ip` through another
/// command: ["sudo", "-n"] for privileges, or <see cref="InNamespace"/>'s ["ip", "netns", "exec", NS] to act inside a
/// network namespace. "Ensure" methods change only what differs and say whether they changed something.
/// </summary>
public sealed class IpLink(IReadOnlyList<string>? commandPrefix = null)
{
    private readonly IReadOnlyList<string> _prefix = commandPrefix ?? [];

    /// <summary>Runs `ip` inside the named network namespace.</summary>
    public static IpLink InNamespace(string networkNamespace, IReadOnlyList<string>? privilegePrefix = null) =>
        new(HostTool.NamespacePrefix(networkNamespace, privilegePrefix));

    /// <summary>The name of <paramref name="uplink"/>'s sub-interface for <paramref name="vlan"/>: "eth0.100" (refused beyond 15 characters).</summary>
    public static string VlanInterfaceName(string uplink, int vlan)
    {
        Check("uplink", uplink);
        if (NetworkLimits.CheckVlan(vlan) is { } error)
        {
            throw new ArgumentException(error, nameof(vlan));
        }

        var name = string.Create(CultureInfo.InvariantCulture, $"{uplink}.{vlan}");
        Check("VLAN interface name", name);
        return name;
    }

    public async Task<IReadOnlyList<LinkInfo>> ListAsync(CancellationToken cancellationToken = default)
    {
        var output = await RunAsync(["-j", "-d", "link", "show"], cancellationToken);
        return [.. (JsonNode.Parse(output)?.AsArray() ?? []).Select(device => Parse(device!.AsObject()))];
    }

    public async Task<LinkInfo?> GetAsync(string name, CancellationToken cancellationToken = default)
    {
        Check("interface name", name);
        return (await ListAsync(cancellationToken)).FirstOrDefault(l => l.Name == name);
    }

    /// <summary>A bridge with this name and MTU, up. A device of another kind under the name is refused.</summary>
    public async Task<bool> EnsureBridgeAsync(string name, int mtu, CancellationToken cancellationToken = default)
    {
        Check("bridge name", name);
        CheckMtu(mtu);
        var existing = await GetAsync(name, cancellationToken);
        if (existing is not null && existing.Kind != "bridge")
        {
            throw new LinkConflictException(name, $"'{name}' exists as a {existing.Kind ?? "plain"} device, not a bridge");
        }

        var changed = false;
        if (existing is null)
        {
            await RunAsync(["link", "add", "name", name, "mtu", Text(mtu), "type", "bridge"], cancellationToken);
            changed = true;
        }
        else if (existing.Mtu != mtu)
        {
            await RunAsync(["link", "set", "dev", name, "mtu", Text(mtu)], cancellationToken);
            changed = true;
        }

        if (existing is not { IsUp: true })
        {
            await RunAsync(["link", "set", "dev", name, "up"], cancellationToken);
            changed = true;
        }

        return changed;
    }

    /// <summary>
    /// The 802.1Q sub-interface "uplink.vlan" of <paramref name="uplink"/> (which must exist), with this MTU, enslaved
    /// to <paramref name="bridge"/> (which must exist), up. A device under that name with another parent or id is
    /// replaced. Returns the sub-interface's name and whether something changed.
    /// </summary>
    public async Task<(string Name, bool Changed)> EnsureVlanAsync(string uplink, int vlan, string bridge, int mtu, CancellationToken cancellationToken = default)
    {
        var name = VlanInterfaceName(uplink, vlan);
        Check("bridge name", bridge);
        CheckMtu(mtu);
        var links = await ListAsync(cancellationToken);
        if (links.All(l => l.Name != uplink))
        {
            throw new NetworkObjectMissingException("uplink interface", uplink);
        }

        var existing = links.FirstOrDefault(l => l.Name == name);
        var changed = false;
        if (existing is not null && (existing.Kind != "vlan" || existing.Link != uplink || existing.VlanId != vlan))
        {
            await RunAsync(["link", "delete", "dev", name], cancellationToken);
            existing = null;
        }

        if (existing is null)
        {
            await RunAsync(["link", "add", "link", uplink, "name", name, "mtu", Text(mtu), "type", "vlan", "id", Text(vlan)], cancellationToken);
            changed = true;
        }
        else if (existing.Mtu != mtu)
        {
            await RunAsync(["link", "set", "dev", name, "mtu", Text(mtu)], cancellationToken);
            changed = true;
        }

        changed |= await EnsureMasterAsync(name, bridge, cancellationToken);
        return (name, changed);
    }

    /// <summary>Enslaves the device to the bridge (if it is not already) and sets it up.</summary>
    public async Task<bool> EnsureMasterAsync(string name, string bridge, CancellationToken cancellationToken = default)
    {
        Check("interface name", name);
        Check("bridge name", bridge);
        var links = await ListAsync(cancellationToken);
        var device = links.FirstOrDefault(l => l.Name == name) ?? throw new NetworkObjectMissingException("interface", name);
        if (!links.Any(l => l.Name == bridge && l.Kind == "bridge"))
        {
            throw new NetworkObjectMissingException("bridge", bridge);
        }

        var changed = false;
        if (device.Master != bridge)
        {
            await RunAsync(["link", "set", "dev", name, "master", bridge], cancellationToken);
            changed = true;
        }

        if (!device.IsUp)
        {
            await RunAsync(["link", "set", "dev", name, "up"], cancellationToken);
            changed = true;
        }

        return changed;
    }

    /// <summary>
    /// Makes the bridge pass the IPv4 and IPv6 frames it forwards through netfilter's IP hooks (br_netfilter), where
    /// connection tracking works: its own nf_call_iptables / nf_call_ip6tables options, so other bridges are left as the
    /// host's sysctls say. False when they were already on.
    /// </summary>
    public async Task<bool> EnsureBridgeNetfilterAsync(string bridge, CancellationToken cancellationToken = default)
    {
        Check("bridge name", bridge);
        var device = await GetAsync(bridge, cancellationToken);
        if (device is not { Kind: "bridge" })
        {
            throw new NetworkObjectMissingException("bridge", bridge);
        }

        if (device.BridgeCallsNetfilter == true)
        {
            return false;
        }

        await RunAsync(["link", "set", "dev", bridge, "type", "bridge", "nf_call_iptables", "1", "nf_call_ip6tables", "1"], cancellationToken);
        return true;
    }

    /// <summary>
    /// Sets the device's alias (ifalias), e.g. an owner's mark: 1-255 letters, digits, '-', '_', '.' or ':'. False when it
    /// already had it.
    /// </summary>
    public async Task<bool> SetAliasAsync(string name, string alias, CancellationToken cancellationToken = default)
    {
        Check("interface name", name);
        CheckAlias(alias);
        var device = await GetAsync(name, cancellationToken) ?? throw new NetworkObjectMissingException("interface", name);
        if (device.Alias == alias)
        {
            return false;
        }

        await RunAsync(["link", "set", "dev", name, "alias", alias], cancellationToken);
        return true;
    }

    /// <summary>
    /// A persistent TAP device (<c>ip tuntap add dev NAME mode tap user OWNER</c>) that <paramref name="owner"/> may open
    /// without privileges (an unprivileged QEMU), with this MTU, up, and with <paramref name="alias"/> as its ifalias when
    /// given (see <see cref="SetAliasAsync"/>). A device of another kind, or a TAP of another owner, under the name is
    /// refused: it may be in use. True when something changed.
    /// </summary>
    public async Task<bool> EnsureTapAsync(string name, string owner, int mtu, string? alias = null, CancellationToken cancellationToken = default)
    {
        Check("TAP device name", name);
        CheckUser(owner);
        CheckMtu(mtu);
        if (alias is not null)
        {
            CheckAlias(alias);
        }

        var existing = await GetAsync(name, cancellationToken);
        if (existing is not null && (existing.Kind != "tun" || existing.TunType != "tap"))
        {
            throw new LinkConflictException(name, $"'{name}' exists as a {existing.TunType ?? existing.Kind ?? "plain"} device, not a TAP");
        }

        if (existing is not null && existing.TunOwner != owner)
        {
            throw new LinkConflictException(name, $"TAP '{name}' belongs to '{existing.TunOwner ?? "nobody"}', not to '{owner}'");
        }

        var changed = false;
        if (existing is null)
        {
            await RunAsync(["tuntap", "add", "dev", name, "mode", "tap", "user", owner], cancellationToken);
            changed = true;
        }

        if (existing?.Mtu != mtu)
        {
            await RunAsync(["link", "set", "dev", name, "mtu", Text(mtu)], cancellationToken);
            changed = true;
        }

        if (alias is not null && existing?.Alias != alias)
        {
            await RunAsync(["link", "set", "dev", name, "alias", alias], cancellationToken);
            changed = true;
        }

        if (existing is not { IsUp: true })
        {
            await RunAsync(["link", "set", "dev", name, "up"], cancellationToken);
            changed = true;
        }

        return changed;
    }

    /// <summary>Deletes the device (a bridge's ports are released, not deleted); false when there was none.</summary>
    public async Task<bool> DeleteAsync(string name, CancellationToken cancellationToken = default)
    {
        if (await GetAsync(name, cancellationToken) is null)
        {
            return false;
        }

        await RunAsync(["link", "delete", "dev", name], cancellationToken);
        return true;
    }

    private static LinkInfo Parse(JsonObject device)
    {
        var info = device["linkinfo"] as JsonObject;
        var flags = device["flags"] as JsonArray ?? [];
        return new LinkInfo(
            device["ifname"]!.GetValue<string>(),
            device["mtu"]?.GetValue<int>() ?? 0,
            flags.Any(f => f?.GetValue<string>() == "UP"),
            info?["info_kind"]?.GetValue<string>(),
            device["master"]?.GetValue<string>(),
            device["link"]?.GetValue<string>(),
            info?["info_kind"]?.GetValue<string>() == "vlan" ? info["info_data"]?["id"]?.GetValue<int>() : null,
            device["ifalias"]?.GetValue<string>() is { Length: > 0 } alias ? alias : null,
            info?["info_kind"]?.GetValue<string>() == "bridge"
                ? info["info_data"]?["nf_call_iptables"]?.GetValue<int>() == 1 && info["info_data"]?["nf_call_ip6tables"]?.GetValue<int>() == 1
                : null,
            info?["info_kind"]?.GetValue<string>() == "tun" ? info["info_data"]?["type"]?.GetValue<string>() : null,
            info?["info_kind"]?.GetValue<string>() == "tun" ? OwnerOf(info["info_data"]?["user"]) : null);
    }

    // `ip` names the owner when the user exists, else gives the number.
    private static string? OwnerOf(JsonNode? user) => user switch
    {
        JsonValue value when value.TryGetValue(out string? name) => name,
        JsonValue value when value.TryGetValue(out long uid) => uid.ToString(CultureInfo.InvariantCulture),
        _ => null,
    };

    private async Task<string> RunAsync(IReadOnlyList<string> arguments, CancellationToken cancellationToken)
    {
        List<string> command = [.. _prefix, "ip", .. arguments];
        var result = await HostTool.RunAsync(command, input: null, cancellationToken);
        return result.ExitCode == 0 ? result.Output : throw new IpCommandException(command, result.ExitCode, result.Error);
    }

    private static string Text(int value) => value.ToString(CultureInfo.InvariantCulture);

    private static void Check(string what, string name)
    {
        if (NetworkLimits.CheckInterfaceName(what, name) is { } error)
        {
            throw new ArgumentException(error, nameof(name));
        }
    }

    private static void CheckAlias(string alias)
    {
        if (string.IsNullOrEmpty(alias) || alias.Length > 255 || !alias.All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '.' or ':'))
        {
            throw new ArgumentException($"alias '{alias}' must be 1-255 letters, digits, '-', '_', '.' or ':'", nameof(alias));
        }
    }

    /// <summary>A user name as useradd allows it (or a numeric uid): never an option, never a shell word.</summary>
    private static void CheckUser(string user)
    {
        if (string.IsNullOrEmpty(user) || user.Length > 32
            || !(char.IsAsciiLetterLower(user[0]) || user[0] == '_' || char.IsAsciiDigit(user[0]))
            || !user.All(c => char.IsAsciiLetterLower(c) || char.IsAsciiDigit(c) || c is '_' or '-' or '.')
            || (char.IsAsciiDigit(user[0]) && !user.All(char.IsAsciiDigit)))
        {
            throw new ArgumentException($"TAP owner '{user}' must be a user name (lower-case letters, digits, '_', '-', '.'; at most 32) or a uid", nameof(user));
        }
    }

    private static void CheckMtu(int mtu)
    {
        if (NetworkLimits.CheckMtu(mtu) is { } error)
        {
            throw new ArgumentException(error, nameof(mtu));
        }
    }
}
