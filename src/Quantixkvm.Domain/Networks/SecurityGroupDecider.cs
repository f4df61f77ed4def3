using System.Net.Sockets;

namespace Quantixkvm.Domain.Networks;

using SecurityGroupDecision = Decision<SecurityGroupEvent>;

/// <summary>
/// The security group aggregate: a named set of allow rules that ports refer to. A port in no group gets the default
/// policy (inbound denied, outbound and the replies to it allowed); each group a port is in allows more.
/// </summary>
public static class SecurityGroupDecider
{
    /// <summary>Every rule becomes ACLs on every host with a member port: a bound keeps that cost in reach.</summary>
    public const int MaxRules = 200;

    public const int MinPort = 1;

    public const int MaxPort = 65535;

    public static Guid GroupIdForCreate(string commandId) => DeterministicId.From("security-group", commandId);

    public static Guid RuleIdFor(Guid groupId, string commandId) => DeterministicId.From("security-group-rule", groupId.ToString(), commandId);

    public static SecurityGroupDecision Decide(SecurityGroupCommand command, SecurityGroupState state)
    {
        if (command is CreateSecurityGroup create)
        {
            return DecideCreate(create, state);
        }

        var name = command switch
        {
            AddSecurityGroupRule => "add-security-group-rule",
            RemoveSecurityGroupRule => "remove-security-group-rule",
            DeleteSecurityGroup => "delete-security-group",
            _ => throw new ArgumentOutOfRangeException(nameof(command), command.GetType().Name, "not a security group command"),
        };
        if (!state.Exists)
        {
            return SecurityGroupDecision.Reject(RejectionCode.NotFound, "the security group does not exist", state.Describe(), name);
        }

        if (state.Deleted)
        {
            return command is DeleteSecurityGroup
                ? SecurityGroupDecision.Accept(null)
                : SecurityGroupDecision.Reject(RejectionCode.NotFound, $"security group '{state.Name}' was deleted", state.Describe(), name);
        }

        return command switch
        {
            AddSecurityGroupRule add => DecideAddRule(add, state, name),
            RemoveSecurityGroupRule remove => state.Rules.Exists(r => r.RuleId == remove.RuleId)
                ? SecurityGroupDecision.Accept(null, new SecurityGroupRuleRemoved(state.GroupId, remove.RuleId, remove.Context.Now))
                : state.KnownRules.Contains(remove.RuleId)
                    ? SecurityGroupDecision.Accept(null)
                    : SecurityGroupDecision.Reject(RejectionCode.NotFound, $"security group '{state.Name}' has no rule {remove.RuleId}", state.Describe(), name),
            DeleteSecurityGroup { PortCount: > 0 } delete => SecurityGroupDecision.Reject(RejectionCode.InvalidState,
                $"security group '{state.Name}' is used by {delete.PortCount} port(s); remove it from them first", state.Describe(), name),
            DeleteSecurityGroup delete => SecurityGroupDecision.Accept(null, new SecurityGroupDeleted(state.GroupId, delete.Context.Now)),
            _ => throw new ArgumentOutOfRangeException(nameof(command), command.GetType().Name, "not a security group command"),
        };
    }

    public static SecurityGroupState Evolve(SecurityGroupState state, SecurityGroupEvent @event) => @event switch
    {
        SecurityGroupCreated e => state with { GroupId = e.GroupId, Exists = true, Name = e.Name, Description = e.Description },
        SecurityGroupRuleAdded e => state with { Rules = state.Rules.Add(e.Rule), KnownRules = state.KnownRules.Add(e.Rule.RuleId) },
        SecurityGroupRuleRemoved e => state with { Rules = state.Rules.RemoveAll(r => r.RuleId == e.RuleId) },
        SecurityGroupDeleted => state with { Deleted = true },
        _ => state,
    };

    public static SecurityGroupState Fold(IEnumerable<SecurityGroupEvent> events) => events.Aggregate(SecurityGroupState.Initial, Evolve);

    /// <summary>The rule an add asks for, in canonical form (ether type settled, single port as a range of one), or why it is invalid.</summary>
    public static (SecurityGroupRule? Rule, string? Error) CheckRule(Guid ruleId, AddSecurityGroupRule command)
    {
        if (!Enum.IsDefined(command.Direction))
        {
            return (null, $"direction {command.Direction} is not one of {string.Join(", ", Enum.GetNames<RuleDirection>())}");
        }

        if (!Enum.IsDefined(command.Protocol))
        {
            return (null, $"protocol {command.Protocol} is not one of {string.Join(", ", Enum.GetNames<RuleProtocol>())}");
        }

        if (command.EtherType is { } given && !Enum.IsDefined(given))
        {
            return (null, $"ether type {given} is not one of {string.Join(", ", Enum.GetNames<EtherType>())}");
        }

        var (portMin, portMax, portError) = CheckPorts(command);
        if (portError is not null)
        {
            return (null, portError);
        }

        if (command.RemoteCidr is not null && command.RemoteGroupId is not null)
        {
            return (null, "a rule's remote is a CIDR or a security group, not both");
        }

        if (command.RemoteGroupId == Guid.Empty)
        {
            return (null, "a remote security group id must not be empty");
        }

        Cidr? remote = null;
        if (command.RemoteCidr is not null)
        {
            var (cidr, error) = Cidr.Parse(command.RemoteCidr);
            if (cidr is null)
            {
                return (null, $"remote CIDR: {error}");
            }

            remote = cidr;
        }

        var family = remote?.Family switch
        {
            AddressFamily.InterNetwork => EtherType.Ipv4,
            AddressFamily.InterNetworkV6 => EtherType.Ipv6,
            _ => (EtherType?)null,
        };
        var etherType = command.EtherType ?? family ?? (command.Protocol == RuleProtocol.Icmp6 ? EtherType.Ipv6 : EtherType.Ipv4);
        if (family is { } fromCidr && fromCidr != etherType)
        {
            return (null, $"ether type {etherType} does not match remote CIDR {remote} ({fromCidr})");
        }

        if (command.Protocol == RuleProtocol.Icmp && etherType == EtherType.Ipv6)
        {
            return (null, "protocol Icmp is ICMP for IPv4; an IPv6 rule uses Icmp6");
        }

        if (command.Protocol == RuleProtocol.Icmp6 && etherType == EtherType.Ipv4)
        {
            return (null, "protocol Icmp6 is ICMP for IPv6; an IPv4 rule uses Icmp");
        }

        return (new SecurityGroupRule(ruleId, command.Direction, command.Protocol, etherType, portMin, portMax, remote?.ToString(), command.RemoteGroupId), null);
    }

    private static (int? Min, int? Max, string? Error) CheckPorts(AddSecurityGroupRule command)
    {
        if (command.PortMin is null && command.PortMax is null)
        {
            return (null, null, null);
        }

        if (command.Protocol is not (RuleProtocol.Tcp or RuleProtocol.Udp))
        {
            return (null, null, $"a port range applies only to Tcp and Udp rules, not to {command.Protocol}");
        }

        if (command.PortMin is not { } min)
        {
            return (null, null, $"port range ends at {command.PortMax} but has no first port");
        }

        var max = command.PortMax ?? min;
        foreach (var port in new[] { min, max })
        {
            if (port is < MinPort or > MaxPort)
            {
                return (null, null, $"port {port} is out of range: it must be {MinPort} to {MaxPort}");
            }
        }

        return min > max ? (null, null, $"port range {min}-{max} starts after it ends") : (min, max, null);
    }

    private static SecurityGroupDecision DecideCreate(CreateSecurityGroup command, SecurityGroupState state)
    {
        if (state.Exists)
        {
            return (command.Name, command.Description) == (state.Name, state.Description)
                ? SecurityGroupDecision.Accept(null)
                : SecurityGroupDecision.Reject(RejectionCode.Conflict, $"security group {command.GroupId} already exists", state.Describe(), "create-security-group");
        }

        var problem = ResourceNames.Check("security group", command.Name)
            ?? (command.Description.Length > NetworkDecider.MaxDescriptionLength
                ? $"description must be at most {NetworkDecider.MaxDescriptionLength} characters (got {command.Description.Length})"
                : null);
        return problem is not null
            ? SecurityGroupDecision.Reject(RejectionCode.Validation, problem, command: "create-security-group")
            : SecurityGroupDecision.Accept(null, new SecurityGroupCreated(command.GroupId, command.Name, command.Description, command.Context.Now));
    }

    private static SecurityGroupDecision DecideAddRule(AddSecurityGroupRule command, SecurityGroupState state, string name)
    {
        var ruleId = RuleIdFor(state.GroupId, command.Context.CommandId);
        if (state.KnownRules.Contains(ruleId))
        {
            return SecurityGroupDecision.Accept(null);
        }

        var (rule, problem) = CheckRule(ruleId, command);
        if (rule is null)
        {
            return SecurityGroupDecision.Reject(RejectionCode.Validation, problem!, state.Describe(), name);
        }

        if (state.Rules.Find(rule.SameAs) is { } same)
        {
            return SecurityGroupDecision.Reject(RejectionCode.Conflict,
                $"security group '{state.Name}' already has this rule (rule {same.RuleId})", state.Describe(), name);
        }

        return state.Rules.Count >= MaxRules
            ? SecurityGroupDecision.Reject(RejectionCode.Validation, $"a security group has at most {MaxRules} rules", state.Describe(), name)
            : SecurityGroupDecision.Accept(null, new SecurityGroupRuleAdded(state.GroupId, rule, command.Context.Now));
    }
}
