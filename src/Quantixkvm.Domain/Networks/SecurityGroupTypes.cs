using System.Collections.Immutable;

namespace Quantixkvm.Domain.Networks;

public enum RuleDirection
{
    /// <summary>Traffic to the port (from the remote).</summary>
    Ingress,

    /// <summary>Traffic from the port (to the remote).</summary>
    Egress,
}

public enum RuleProtocol
{
    Any,
    Tcp,
    Udp,
    Icmp,
    Icmp6,
}

public enum EtherType
{
    Ipv4,
    Ipv6,
}

/// <summary>
/// One allow rule of a security group. <c>PortMin</c>/<c>PortMax</c> only for TCP and UDP (both null: every port).
/// The remote is a CIDR (<c>RemoteCidr</c>, canonical) or the ports of a group (<c>RemoteGroupId</c>), or anyone when neither.
/// </summary>
public sealed record SecurityGroupRule(
    Guid RuleId, RuleDirection Direction, RuleProtocol Protocol, EtherType EtherType, int? PortMin, int? PortMax, string? RemoteCidr,
    Guid? RemoteGroupId)
{
    /// <summary>Whether the two rules let the same traffic through (their ids aside).</summary>
    public bool SameAs(SecurityGroupRule other) => this == other with { RuleId = RuleId };
}

public sealed record SecurityGroupState(Guid GroupId, bool Exists, bool Deleted, string Name, string Description)
{
    public static SecurityGroupState Initial { get; } = new(Guid.Empty, false, false, "", "");

    /// <summary>The rules, in the order they were added.</summary>
    public ImmutableList<SecurityGroupRule> Rules { get; init; } = [];

    /// <summary>Every rule ever added (also removed ones), so a repeated add changes nothing.</summary>
    public ImmutableHashSet<Guid> KnownRules { get; init; } = [];

    public string Describe() => !Exists ? "NONEXISTENT" : Deleted ? "DELETED" : "ACTIVE";
}
