using Microsoft.Extensions.DependencyInjection;
using Quantixkvm.Agent.Consumers;
using Quantixkvm.Agent.Networking;
using Quantixkvm.Agent.Tests.Support;
using Quantixkvm.Contracts;
using Quantixkvm.Domain.Networks;

namespace Quantixkvm.Agent.Tests.Networking;

public sealed class NetworkWiringTests
{
    [Fact]
    public async Task the_host_has_one_realizer_which_its_realize_networks_consumer_uses()
    {
        var services = new ServiceCollection().AddLogging();
        AgentParts.AddOperations(services, "test:///default", new AgentOptions { Network = new NetworkOptions { OvnNorthboundDb = "unix:/nonexistent/nb.sock" } });
        await using var provider = services.BuildServiceProvider();

        var realizer = provider.GetRequiredService<NetworkRealizer>();

        provider.GetRequiredService<NetworkRealizer>().ShouldBeSameAs(realizer, "the last revision and the one-at-a-time rule are per host");
        provider.GetRequiredService<RealizeNetworksConsumer>().ShouldNotBeNull();
        realizer.CanWriteNorthbound.ShouldBeTrue();
    }

    [Theory]
    [InlineData("ingress", "tcp", "ipv4", RuleDirection.Ingress, RuleProtocol.Tcp, EtherType.Ipv4)]
    [InlineData("egress", "udp", "ipv6", RuleDirection.Egress, RuleProtocol.Udp, EtherType.Ipv6)]
    [InlineData("ingress", "icmp", "ipv4", RuleDirection.Ingress, RuleProtocol.Icmp, EtherType.Ipv4)]
    [InlineData("ingress", "icmp6", "ipv6", RuleDirection.Ingress, RuleProtocol.Icmp6, EtherType.Ipv6)]
    [InlineData("egress", "any", "ipv4", RuleDirection.Egress, RuleProtocol.Any, EtherType.Ipv4)]
    public void wire_rules_become_the_domains_rule_types(string direction, string protocol, string etherType, RuleDirection d, RuleProtocol p, EtherType e)
    {
        var rule = SecurityRuleWire.ToRule(new SecurityRuleSpecification(Guid.NewGuid(), direction, protocol, etherType, null, null, null, null));

        (rule.Direction, rule.Protocol, rule.EtherType).ShouldBe((d, p, e));
    }

    [Fact]
    public void a_wire_value_the_agent_does_not_know_is_refused_naming_the_rule_and_the_value()
    {
        var id = Guid.NewGuid();

        Should.Throw<NetworkRealizationException>(() => SecurityRuleWire.ToRule(new SecurityRuleSpecification(id, "inbound", "tcp", "ipv4", null, null, null, null)))
            .Message.ShouldBe($"security group rule {id}: direction 'inbound' is not ingress or egress");
        Should.Throw<NetworkRealizationException>(() => SecurityRuleWire.ToRule(new SecurityRuleSpecification(id, "ingress", "sctp", "ipv4", null, null, null, null)))
            .Message.ShouldContain("protocol 'sctp'");
        Should.Throw<NetworkRealizationException>(() => SecurityRuleWire.ToRule(new SecurityRuleSpecification(id, "ingress", "tcp", "ipv4", null, null, "10.0.0.0/33", null)))
            .Message.ShouldContain("remote CIDR");
    }
}
