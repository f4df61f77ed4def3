using Quantixkvm.Domain.Networks;
using Quantixkvm.Domain.Tests.Support;

namespace Quantixkvm.Domain.Tests.Networks;

/// <summary>Security groups: named sets of allow rules, each rule checked (protocol, ports, remote, ether type), deleted once no port uses them.</summary>
public class ManagingSecurityGroups
{
    private const string CommandId = "create-sg-web";
    private static readonly Guid GroupId = Net.WebGroup;
    private static readonly Guid SshRule = SecurityGroupDecider.RuleIdFor(GroupId, "rule-ssh");

    private static SecurityGroupCreated Created() => new(GroupId, "web", "web servers", Fixed.Earlier);

    private static SecurityGroupRule Ssh() => new(SshRule, RuleDirection.Ingress, RuleProtocol.Tcp, EtherType.Ipv4, 22, 22, "10.0.0.0/8", null);

    private static SecurityGroupEvent[] WithSsh() => [Created(), new SecurityGroupRuleAdded(GroupId, Ssh(), Fixed.Earlier)];

    private static CreateSecurityGroup Create(string name = "web", string description = "web servers") =>
        new(Fixed.Context(CommandId), GroupId, name, description);

    private static AddSecurityGroupRule Rule(
        RuleProtocol protocol, int? portMin = null, int? portMax = null, string? cidr = null, Guid? group = null, EtherType? etherType = null,
        RuleDirection direction = RuleDirection.Ingress, string commandId = "rule-1") =>
        new(Fixed.Context(commandId), direction, protocol, etherType, portMin, portMax, cidr, group);

    private static SecurityGroupRule Added(Outcome<SecurityGroupState, SecurityGroupEvent> outcome) =>
        outcome.ThenAccepted().Events.ShouldHaveSingleItem().ShouldBeOfType<SecurityGroupRuleAdded>().Rule;

    [Fact]
    public void creating_a_group_records_it_without_rules_and_a_repeat_changes_nothing()
    {
        SecurityGroupSpec.Given().When(Create()).ThenEvents(new SecurityGroupCreated(GroupId, "web", "web servers", Fixed.Now))
            .ThenState().Rules.ShouldBeEmpty();
        SecurityGroupSpec.Given(Created()).When(Create()).ThenNothingChanges(null);
        SecurityGroupSpec.Given(Created()).When(Create(name: "db"))
            .ThenRejected(RejectionCode.Conflict, containing: $"security group {GroupId} already exists");
    }

    [Fact]
    public void a_group_with_an_unsafe_name_is_refused()
    {
        SecurityGroupSpec.Given().When(Create(name: "web servers"))
            .ThenRejected(RejectionCode.Validation, containing: "security group name 'web servers' may contain only");
    }

    [Fact]
    public void a_tcp_rule_from_a_cidr_takes_its_ether_type_from_the_cidr_and_a_single_port_as_a_range_of_one()
    {
        var outcome = SecurityGroupSpec.Given(Created()).When(Rule(RuleProtocol.Tcp, portMin: 22, cidr: "10.0.0.0/8", commandId: "rule-ssh"));

        outcome.ThenEvents(new SecurityGroupRuleAdded(GroupId, Ssh(), Fixed.Now));
        outcome.ThenState().Rules.ShouldBe([Ssh()]);
    }

    [Fact]
    public void an_ipv6_cidr_makes_an_ipv6_rule_and_so_does_icmp6()
    {
        Added(SecurityGroupSpec.Given(Created()).When(Rule(RuleProtocol.Udp, 53, 53, cidr: "FD00::/8"))).ShouldBe(
            new SecurityGroupRule(SecurityGroupDecider.RuleIdFor(GroupId, "rule-1"), RuleDirection.Ingress, RuleProtocol.Udp, EtherType.Ipv6, 53, 53, "fd00::/8", null));
        Added(SecurityGroupSpec.Given(Created()).When(Rule(RuleProtocol.Icmp6))).EtherType.ShouldBe(EtherType.Ipv6);
        Added(SecurityGroupSpec.Given(Created()).When(Rule(RuleProtocol.Any, direction: RuleDirection.Egress))).EtherType.ShouldBe(EtherType.Ipv4);
    }

    [Fact]
    public void a_rule_may_admit_the_ports_of_a_group_including_its_own()
    {
        var rule = Added(SecurityGroupSpec.Given(Created()).When(Rule(RuleProtocol.Tcp, 5432, 5432, group: GroupId)));

        (rule.RemoteGroupId, rule.RemoteCidr).ShouldBe((GroupId, null));
    }

    public static TheoryData<string, AddSecurityGroupRule, string> InvalidRules => new()
    {
        { "ports on ICMP", Rule(RuleProtocol.Icmp, 1, 2), "a port range applies only to Tcp and Udp rules, not to Icmp" },
        { "ports on Any", Rule(RuleProtocol.Any, 80), "a port range applies only to Tcp and Udp rules, not to Any" },
        { "port 0", Rule(RuleProtocol.Tcp, 0, 10), "port 0 is out of range: it must be 1 to 65535" },
        { "port 65536", Rule(RuleProtocol.Udp, 1000, 65536), "port 65536 is out of range: it must be 1 to 65535" },
        { "range backwards", Rule(RuleProtocol.Tcp, 443, 80), "port range 443-80 starts after it ends" },
        { "end without start", Rule(RuleProtocol.Tcp, portMax: 80), "port range ends at 80 but has no first port" },
        { "CIDR and group", Rule(RuleProtocol.Tcp, cidr: "10.0.0.0/8", group: Net.DbGroup), "a rule's remote is a CIDR or a security group, not both" },
        { "empty group", Rule(RuleProtocol.Tcp, group: Guid.Empty), "a remote security group id must not be empty" },
        { "host bits", Rule(RuleProtocol.Tcp, cidr: "10.0.0.1/8"), "remote CIDR: '10.0.0.1/8' has host bits set: the subnet is 10.0.0.0/8" },
        { "ether type against CIDR", Rule(RuleProtocol.Tcp, cidr: "10.0.0.0/8", etherType: EtherType.Ipv6), "ether type Ipv6 does not match remote CIDR 10.0.0.0/8 (Ipv4)" },
        { "ICMP over IPv6", Rule(RuleProtocol.Icmp, cidr: "fd00::/8"), "protocol Icmp is ICMP for IPv4; an IPv6 rule uses Icmp6" },
        { "ICMPv6 over IPv4", Rule(RuleProtocol.Icmp6, etherType: EtherType.Ipv4), "protocol Icmp6 is ICMP for IPv6; an IPv4 rule uses Icmp" },
        { "unknown protocol", Rule((RuleProtocol)42), "protocol 42 is not one of Any, Tcp, Udp, Icmp, Icmp6" },
        { "unknown direction", Rule(RuleProtocol.Tcp, direction: (RuleDirection)7), "direction 7 is not one of Ingress, Egress" },
    };

    [Theory]
    [MemberData(nameof(InvalidRules))]
    public void an_invalid_rule_is_refused_naming_the_problem(string why, AddSecurityGroupRule command, string problem)
    {
        var rejection = SecurityGroupSpec.Given(Created()).When(command).ThenRejected(RejectionCode.Validation);

        rejection.Message.ShouldBe(problem, why);
        rejection.Command.ShouldBe("add-security-group-rule");
    }

    [Fact]
    public void a_rule_identical_to_one_the_group_has_is_a_conflict()
    {
        SecurityGroupSpec.Given(WithSsh())
            .When(Rule(RuleProtocol.Tcp, 22, 22, cidr: "10.0.0.0/8", commandId: "rule-ssh-again"))
            .ThenRejected(RejectionCode.Conflict).Message.ShouldBe($"security group 'web' already has this rule (rule {SshRule})");
    }

    [Fact]
    public void a_rule_differing_in_one_field_is_another_rule()
    {
        SecurityGroupSpec.Given(WithSsh())
            .When(Rule(RuleProtocol.Tcp, 22, 22, cidr: "10.0.0.0/8", direction: RuleDirection.Egress, commandId: "rule-ssh-out"))
            .ThenAccepted().Events.Count.ShouldBe(1);
    }

    [Fact]
    public void repeating_an_add_with_its_command_id_changes_nothing_even_after_the_rule_was_removed()
    {
        var again = Rule(RuleProtocol.Tcp, 22, cidr: "10.0.0.0/8", commandId: "rule-ssh");

        SecurityGroupSpec.Given(WithSsh()).When(again).ThenNothingChanges(null);
        SecurityGroupSpec.Given([.. WithSsh(), new SecurityGroupRuleRemoved(GroupId, SshRule, Fixed.Earlier)]).When(again).ThenNothingChanges(null);
    }

    [Fact]
    public void a_group_holds_at_most_two_hundred_rules()
    {
        SecurityGroupEvent[] full =
        [
            Created(),
            .. Enumerable.Range(1, SecurityGroupDecider.MaxRules).Select(port => new SecurityGroupRuleAdded(GroupId,
                new SecurityGroupRule(SecurityGroupDecider.RuleIdFor(GroupId, $"r{port}"), RuleDirection.Ingress, RuleProtocol.Tcp, EtherType.Ipv4, port, port, null, null),
                Fixed.Earlier)),
        ];

        SecurityGroupSpec.Given(full).When(Rule(RuleProtocol.Tcp, 8080)).ThenRejected(RejectionCode.Validation, containing: "at most 200 rules");
    }

    [Fact]
    public void removing_a_rule_drops_it_and_removing_it_again_changes_nothing()
    {
        var remove = new RemoveSecurityGroupRule(Fixed.Context("remove-rule-1"), SshRule);

        SecurityGroupSpec.Given(WithSsh()).When(remove).ThenEvents(new SecurityGroupRuleRemoved(GroupId, SshRule, Fixed.Now))
            .ThenState().Rules.ShouldBeEmpty();
        SecurityGroupSpec.Given([.. WithSsh(), new SecurityGroupRuleRemoved(GroupId, SshRule, Fixed.Earlier)]).When(remove).ThenNothingChanges(null);
        SecurityGroupSpec.Given(Created()).When(remove)
            .ThenRejected(RejectionCode.NotFound, containing: $"security group 'web' has no rule {SshRule}");
    }

    [Fact]
    public void a_group_ports_still_use_cannot_be_deleted()
    {
        var rejection = SecurityGroupSpec.Given(WithSsh())
            .When(new DeleteSecurityGroup(Fixed.Context("delete-sg-1"), PortCount: 3))
            .ThenRejected(RejectionCode.InvalidState, containing: "security group 'web' is used by 3 port(s); remove it from them first");

        rejection.Command.ShouldBe("delete-security-group");
    }

    [Fact]
    public void an_unused_group_is_deleted_once_and_then_takes_no_rules()
    {
        var delete = new DeleteSecurityGroup(Fixed.Context("delete-sg-1"), PortCount: 0);
        SecurityGroupEvent[] deleted = [.. WithSsh(), new SecurityGroupDeleted(GroupId, Fixed.Earlier)];

        SecurityGroupSpec.Given(WithSsh()).When(delete).ThenEvents(new SecurityGroupDeleted(GroupId, Fixed.Now))
            .ThenState().Describe().ShouldBe("DELETED");
        SecurityGroupSpec.Given(deleted).When(delete).ThenNothingChanges(null);
        SecurityGroupSpec.Given(deleted).When(Rule(RuleProtocol.Tcp, 80)).ThenRejected(RejectionCode.NotFound, containing: "security group 'web' was deleted");
    }

    [Fact]
    public void rules_for_a_group_that_does_not_exist_are_not_found()
    {
        SecurityGroupSpec.Given().When(Rule(RuleProtocol.Tcp, 80)).ThenRejected(RejectionCode.NotFound, containing: "the security group does not exist");
    }
}
