namespace Quantixkvm.Domain.Networks;

public abstract record SecurityGroupCommand(CommandContext Context);

/// <summary>A new security group (<c>GroupId</c> from <see cref="SecurityGroupDecider.GroupIdForCreate"/>), with no rules yet.</summary>
public sealed record CreateSecurityGroup(CommandContext Context, Guid GroupId, string Name, string Description = "") : SecurityGroupCommand(Context);

/// <summary>
/// Adds an allow rule (its id from <see cref="SecurityGroupDecider.RuleIdFor"/>). <c>EtherType</c> follows the remote CIDR
/// (or ICMPv6) when null, else IPv4. <c>PortMin</c> alone means that one port.
/// </summary>
public sealed record AddSecurityGroupRule(
    CommandContext Context, RuleDirection Direction, RuleProtocol Protocol, EtherType? EtherType = null, int? PortMin = null, int? PortMax = null,
    string? RemoteCidr = null, Guid? RemoteGroupId = null) : SecurityGroupCommand(Context);

public sealed record RemoveSecurityGroupRule(CommandContext Context, Guid RuleId) : SecurityGroupCommand(Context);

/// <summary>Deletes the group; <c>PortCount</c> is how many ports use it, read by the control plane (refused unless 0).</summary>
public sealed record DeleteSecurityGroup(CommandContext Context, int PortCount) : SecurityGroupCommand(Context);
