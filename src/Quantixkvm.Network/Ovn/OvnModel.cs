using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text.RegularExpressions;
using Quantixkvm.Domain.Networks;

namespace Quantixkvm.Network.Ovn;

/// <summary>What an "Ensure" did: the row's uuid, and whether anything was written.</summary>
public sealed record OvnRowResult(Guid Uuid, bool Changed);

/// <summary>
/// A network's logical switch, named "qkvm-&lt;network id&gt;" and marked external_ids:qkvm-network-id.
/// <paramref name="Mtu"/> is recorded in other_config:mtu (guests learn it from the DHCP option); <paramref name="Subnet"/>
/// is OVN's other_config:subnet (addresses for ports whose addresses say "dynamic").
/// </summary>
public sealed record LogicalSwitchSpec(string NetworkId, int? Mtu = null, string? Subnet = null, IReadOnlyDictionary<string, string>? ExternalIds = null);

/// <summary>
/// A port of a network's logical switch. <paramref name="Addresses"/> and <paramref name="PortSecurity"/> hold entries of
/// the form "MAC IP [IP...]" (<see cref="OvnNames.AddressEntry"/> builds one). The DHCP options are uuids of DHCP_Options rows.
/// </summary>
public sealed record LogicalSwitchPortSpec(
    string NetworkId,
    string Name,
    IReadOnlyList<string> Addresses,
    IReadOnlyList<string>? PortSecurity = null,
    Guid? Dhcpv4Options = null,
    Guid? Dhcpv6Options = null,
    IReadOnlyDictionary<string, string>? ExternalIds = null);

/// <summary>A DHCP_Options row for one subnet, found again by external_ids:qkvm-subnet-id; <paramref name="Options"/> replace the row's.</summary>
public sealed record DhcpOptionsSpec(string SubnetId, string Cidr, IReadOnlyDictionary<string, string> Options, IReadOnlyDictionary<string, string>? ExternalIds = null)
{
    /// <summary>
    /// OVN native DHCPv4 for a subnet: the gateway answers (server_id) and is the router; lease time in seconds.
    /// </summary>
    public static DhcpOptionsSpec ForIpv4(
        string subnetId, Cidr cidr, IPAddress gateway, string serverMac, IEnumerable<IPAddress> dnsServers, int mtu, int leaseSeconds = 3600)
    {
        if (cidr.Family != AddressFamily.InterNetwork || !cidr.Contains(gateway))
        {
            throw new ArgumentException($"DHCPv4 needs an IPv4 subnet and a gateway inside it; got {cidr} and {gateway}", nameof(gateway));
        }

        var options = new Dictionary<string, string>(StringComparer.Ordinal)
        {
            ["server_id"] = gateway.ToString(),
            ["server_mac"] = serverMac,
            ["router"] = gateway.ToString(),
            ["lease_time"] = leaseSeconds.ToString(CultureInfo.InvariantCulture),
            ["mtu"] = mtu.ToString(CultureInfo.InvariantCulture),
        };
        var dns = dnsServers.ToList();
        if (dns.Count > 0)
        {
            options["dns_server"] = "{" + string.Join(", ", dns) + "}";
        }

        return new DhcpOptionsSpec(subnetId, cidr.ToString(), options);
    }

    /// <summary>OVN native DHCPv6 (stateful) for a subnet; the server is identified by its MAC.</summary>
    public static DhcpOptionsSpec ForIpv6(string subnetId, Cidr cidr, string serverMac, IEnumerable<IPAddress> dnsServers)
    {
        if (cidr.Family != AddressFamily.InterNetworkV6)
        {
            throw new ArgumentException($"DHCPv6 needs an IPv6 subnet; got {cidr}", nameof(cidr));
        }

        var options = new Dictionary<string, string>(StringComparer.Ordinal) { ["server_id"] = serverMac };
        var dns = dnsServers.ToList();
        if (dns.Count > 0)
        {
            options["dns_server"] = "{" + string.Join(", ", dns) + "}";
        }

        return new DhcpOptionsSpec(subnetId, cidr.ToString(), options);
    }
}

public enum AclDirection
{
    /// <summary>Traffic leaving a VM (entering the switch from its port): "from-lport".</summary>
    FromLport,

    /// <summary>Traffic going to a VM (leaving the switch to its port): "to-lport".</summary>
    ToLport,
}

public enum AclAction
{
    Allow,

    /// <summary>Allow and track the connection, so its replies pass too.</summary>
    AllowRelated,
    AllowStateless,
    Drop,
    Reject,
}

/// <summary>An ACL row of a port group.</summary>
public sealed record OvnAcl(AclDirection Direction, int Priority, string Match, AclAction Action, IReadOnlyDictionary<string, string>? ExternalIds = null)
{
    public static string DirectionText(AclDirection direction) => direction == AclDirection.FromLport ? "from-lport" : "to-lport";

    public static string ActionText(AclAction action) => action switch
    {
        AclAction.Allow => "allow",
        AclAction.AllowRelated => "allow-related",
        AclAction.AllowStateless => "allow-stateless",
        AclAction.Drop => "drop",
        AclAction.Reject => "reject",
        _ => throw new ArgumentOutOfRangeException(nameof(action), action, null),
    };

    public override string ToString() => $"{DirectionText(Direction)} {Priority} ({Match}) {ActionText(Action)}";
}

public sealed record OvnLogicalSwitchPort(
    Guid Uuid,
    string Name,
    IReadOnlyList<string> Addresses,
    IReadOnlyList<string> PortSecurity,
    Guid? Dhcpv4Options,
    Guid? Dhcpv6Options,
    IReadOnlyDictionary<string, string> ExternalIds);

public sealed record OvnLogicalSwitch(
    Guid Uuid,
    string Name,
    string? NetworkId,
    IReadOnlyDictionary<string, string> OtherConfig,
    IReadOnlyDictionary<string, string> ExternalIds,
    IReadOnlyList<OvnLogicalSwitchPort> Ports);

public sealed record OvnDhcpOptions(Guid Uuid, string? SubnetId, string Cidr, IReadOnlyDictionary<string, string> Options, IReadOnlyDictionary<string, string> ExternalIds);

public sealed record OvnPortGroup(Guid Uuid, string Name, IReadOnlyList<string> PortNames, IReadOnlyDictionary<string, string> ExternalIds, IReadOnlyList<OvnAcl> Acls);

public sealed record OvnAddressSet(Guid Uuid, string Name, IReadOnlyList<string> Addresses, IReadOnlyDictionary<string, string> ExternalIds);

/// <summary>Names and keys Quantixkvm uses in the northbound database, and the checks on them.</summary>
public static partial class OvnNames
{
    public const string ManagedKey = "qkvm-managed";
    public const string ManagedValue = "true";
    public const string NetworkIdKey = "qkvm-network-id";
    public const string SubnetIdKey = "qkvm-subnet-id";

    public static string LogicalSwitch(string networkId)
    {
        CheckId("network id", networkId);
        return "qkvm-" + networkId;
    }

    /// <summary>An "addresses" / "port_security" entry: "MAC IP [IP...]".</summary>
    public static string AddressEntry(string mac, IEnumerable<IPAddress> addresses) =>
        string.Join(' ', new[] { mac }.Concat(addresses.Select(a => a.ToString())));

    /// <summary>Port group and address set names appear in ACL matches as @name / $name: letters, digits and '_', not starting with a digit.</summary>
    public static void CheckGroupName(string what, string name)
    {
        if (string.IsNullOrEmpty(name) || !GroupName().IsMatch(name))
        {
            throw new ArgumentException($"{what} '{name}' may contain only letters, digits and '_', and must not start with a digit", nameof(name));
        }
    }

    /// <summary>Ids and logical port names: letters, digits, '-', '_', '.', ':' (they travel into external_ids and iface-id).</summary>
    public static void CheckId(string what, string value)
    {
        if (string.IsNullOrEmpty(value) || value.Length > 200 || !Id().IsMatch(value))
        {
            throw new ArgumentException($"{what} '{value}' must be 1-200 letters, digits, '-', '_', '.' or ':'", nameof(value));
        }
    }

    [GeneratedRegex("^[A-Za-z_][A-Za-z0-9_]*$")]
    private static partial Regex GroupName();

    [GeneratedRegex("^[A-Za-z0-9_.:-]+$")]
    private static partial Regex Id();
}
