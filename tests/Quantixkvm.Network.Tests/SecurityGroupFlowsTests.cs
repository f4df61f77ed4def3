using System.Net;
using Quantixkvm.Domain.Networks;
using Quantixkvm.Network.SecurityGroups;

namespace Quantixkvm.Network.Tests;

/// <summary>The translation of security groups to an OVS bridge's OpenFlow table, as text (real traffic: <see cref="SecurityGroupOvsTrafficTests"/>).</summary>
public sealed class SecurityGroupFlowsTests
{
    private const string Bridge = "br-q1";
    private const string MacA = "02:aa:00:00:00:01";
    private const string MacB = "02:bb:00:00:00:02";
    private static readonly Guid PortA = Guid.Parse("aaaaaaaa-0000-4000-8000-000000000001");
    private static readonly Guid PortB = Guid.Parse("bbbbbbbb-0000-4000-8000-000000000002");
    private static readonly Guid Web = Guid.Parse("0f5e3a5c-1111-4222-8333-944455556666");
    private static readonly Guid Admins = Guid.Parse("aaaaaaaa-bbbb-4ccc-8ddd-eeeeeeeeeeee");
    private static readonly ILookup<Guid, IPAddress> NoMembers = Array.Empty<(Guid, IPAddress)>().ToLookup(m => m.Item1, m => m.Item2);

    private static Cidr C(string text) => Cidr.Parse(text).Cidr!;

    private static string[] Lines(string text) => text.Split('\n', StringSplitOptions.RemoveEmptyEntries);

    [Fact]
    public void a_port_without_a_group_is_tracked_may_open_anything_and_accepts_only_dhcp_answers()
    {
        var text = SecurityGroupFlows.FlowTable(Bridge, 7, [new BridgePort(PortA, Bridge, "02:AA:00:00:00:01", [])], [], NoMembers);

        Lines(text).ShouldBe(
        [
            $"table=0,priority=110,icmp6,icmp_type=134,dl_src={MacA} actions=drop",
            "table=0,priority=100,icmp6,icmp_type=133 actions=NORMAL",
            "table=0,priority=100,icmp6,icmp_type=134 actions=NORMAL",
            "table=0,priority=100,icmp6,icmp_type=135 actions=NORMAL",
            "table=0,priority=100,icmp6,icmp_type=136 actions=NORMAL",
            $"table=0,priority=50,ip,dl_src={MacA} actions=ct(table=1,zone=7)",
            $"table=0,priority=50,ip,dl_dst={MacA} actions=ct(table=1,zone=7)",
            $"table=0,priority=50,ipv6,dl_src={MacA} actions=ct(table=1,zone=7)",
            $"table=0,priority=50,ipv6,dl_dst={MacA} actions=ct(table=1,zone=7)",
            "table=0,priority=0 actions=NORMAL",
            "table=1,priority=100,ct_state=+est+trk actions=NORMAL",
            "table=1,priority=100,ct_state=+rel+trk actions=NORMAL",
            "table=1,priority=90,ct_state=+inv+trk actions=drop",
            "table=1,priority=0 actions=resubmit(,2)",
            $"table=2,priority=100,dl_src={MacA} actions=resubmit(,3)",
            "table=2,priority=0 actions=resubmit(,3)",
            $"table=3,priority=100,udp,dl_dst={MacA},tp_src=67,tp_dst=68 actions=ct(commit,zone=7),NORMAL",
            $"table=3,priority=100,udp6,dl_dst={MacA},tp_src=547,tp_dst=546 actions=ct(commit,zone=7),NORMAL",
            $"table=3,priority=10,dl_dst={MacA} actions=drop",
            "table=3,priority=0,ip actions=ct(commit,zone=7),NORMAL",
            "table=3,priority=0,ipv6 actions=ct(commit,zone=7),NORMAL",
        ]);
    }

    [Fact]
    public void a_bridge_without_ports_switches_everything_as_usual()
    {
        Lines(SecurityGroupFlows.FlowTable(Bridge, 7, [], [], NoMembers)).ShouldBe(
        [
            "table=0,priority=100,icmp6,icmp_type=133 actions=NORMAL",
            "table=0,priority=100,icmp6,icmp_type=134 actions=NORMAL",
            "table=0,priority=100,icmp6,icmp_type=135 actions=NORMAL",
            "table=0,priority=100,icmp6,icmp_type=136 actions=NORMAL",
            "table=0,priority=0 actions=NORMAL",
            "table=1,priority=100,ct_state=+est+trk actions=NORMAL",
            "table=1,priority=100,ct_state=+rel+trk actions=NORMAL",
            "table=1,priority=90,ct_state=+inv+trk actions=drop",
            "table=1,priority=0 actions=resubmit(,2)",
        ]);
    }

    [Fact]
    public void a_port_with_groups_sends_dhcp_and_what_its_egress_rules_allow_and_accepts_what_its_ingress_rules_allow()
    {
        var members = new[] { (Admins, "10.0.0.7"), (Admins, "fd00::7"), (Admins, "10.0.0.6"), (Admins, "10.0.0.6") }
            .ToLookup(m => m.Admins, m => IPAddress.Parse(m.Item2));
        SecurityGroup web = new(Web, [
            new SecurityRule(Guid.NewGuid(), RuleDirection.Ingress, RuleProtocol.Tcp, 80, 80, C("0.0.0.0/0")),
            new SecurityRule(Guid.NewGuid(), RuleDirection.Ingress, RuleProtocol.Tcp, 8000, 8010, C("192.168.0.0/16")),
            new SecurityRule(Guid.NewGuid(), RuleDirection.Ingress, RuleProtocol.Icmp, RemoteGroupId: Admins),
            new SecurityRule(Guid.NewGuid(), RuleDirection.Egress, RuleProtocol.Udp, 53, 53, C("fd00::/8"), EtherType: EtherType.Ipv6),
        ]);

        var lines = Lines(SecurityGroupFlows.FlowTable(Bridge, 7, [new BridgePort(PortA, Bridge, MacA, [Web])], [web], members));

        lines.Where(l => l.StartsWith("table=2,", StringComparison.Ordinal)).ShouldBe(
        [
            $"table=2,priority=100,udp,dl_src={MacA},tp_src=68,tp_dst=67 actions=resubmit(,3)",
            $"table=2,priority=100,udp6,dl_src={MacA},tp_src=546,tp_dst=547 actions=resubmit(,3)",
            $"table=2,priority=100,udp6,ipv6_dst=fd00::/8,tp_dst=53,dl_src={MacA} actions=resubmit(,3)",
            $"table=2,priority=10,dl_src={MacA} actions=drop",
            "table=2,priority=0 actions=resubmit(,3)",
        ]);
        var commit = "actions=ct(commit,zone=7),NORMAL";
        lines.Where(l => l.StartsWith("table=3,", StringComparison.Ordinal)).ShouldBe(
        [
            $"table=3,priority=100,udp,dl_dst={MacA},tp_src=67,tp_dst=68 {commit}",
            $"table=3,priority=100,udp6,dl_dst={MacA},tp_src=547,tp_dst=546 {commit}",
            $"table=3,priority=100,tcp,tp_dst=80,dl_dst={MacA} {commit}",
            $"table=3,priority=100,tcp,nw_src=192.168.0.0/16,tp_dst=0x1f40/0xfff8,dl_dst={MacA} {commit}",
            $"table=3,priority=100,tcp,nw_src=192.168.0.0/16,tp_dst=0x1f48/0xfffe,dl_dst={MacA} {commit}",
            $"table=3,priority=100,tcp,nw_src=192.168.0.0/16,tp_dst=8010,dl_dst={MacA} {commit}",
            $"table=3,priority=100,icmp,nw_src=10.0.0.6,dl_dst={MacA} {commit}",
            $"table=3,priority=100,icmp,nw_src=10.0.0.7,dl_dst={MacA} {commit}",
            $"table=3,priority=10,dl_dst={MacA} actions=drop",
            $"table=3,priority=0,ip {commit}",
            $"table=3,priority=0,ipv6 {commit}",
        ]);
    }

    [Fact]
    public void a_remote_group_without_members_admits_nobody_and_a_missing_group_opens_nothing()
    {
        SecurityGroup web = new(Web, [new SecurityRule(Guid.NewGuid(), RuleDirection.Ingress, RuleProtocol.Any, RemoteGroupId: Admins)]);
        BridgePort[] ports = [new BridgePort(PortA, Bridge, MacA, [Web]), new BridgePort(PortB, Bridge, MacB, [Admins])];

        var lines = Lines(SecurityGroupFlows.FlowTable(Bridge, 7, ports, [web], NoMembers));

        lines.Where(l => l.Contains("priority=100", StringComparison.Ordinal) && l.StartsWith("table=3,", StringComparison.Ordinal))
            .ShouldAllBe(l => l.Contains("tp_src=67") || l.Contains("tp_src=547"), "only the DHCP answers: the remote group has no addresses");
        lines.ShouldContain($"table=2,priority=10,dl_src={MacB} actions=drop", "B's group (not sent) contributes no rules: B may send nothing");
        lines.ShouldNotContain($"table=2,priority=100,dl_src={MacB} actions=resubmit(,3)");
    }

    [Fact]
    public void the_same_port_in_two_groups_with_the_same_rule_gets_one_flow()
    {
        var rule = new SecurityRule(Guid.NewGuid(), RuleDirection.Ingress, RuleProtocol.Icmp);
        var lines = Lines(SecurityGroupFlows.FlowTable(
            Bridge, 7, [new BridgePort(PortA, Bridge, MacA, [Web, Admins, Web])], [new SecurityGroup(Web, [rule]), new SecurityGroup(Admins, [rule with { RuleId = Guid.NewGuid() }])], NoMembers));

        lines.Count(l => l.Contains("icmp,dl_dst", StringComparison.Ordinal)).ShouldBe(1);
        lines.Distinct().Count().ShouldBe(lines.Length);
    }

    [Theory]
    [InlineData(80, 80, "80/ffff")]
    [InlineData(8000, 8010, "8000/fff8 8008/fffe 8010/ffff")]
    [InlineData(1, 65535, "1/ffff 2/fffe 4/fffc 8/fff8 16/fff0 32/ffe0 64/ffc0 128/ff80 256/ff00 512/fe00 1024/fc00 2048/f800 4096/f000 8192/e000 16384/c000 32768/8000")]
    [InlineData(0, 65535, "0/0")]
    [InlineData(1024, 2047, "1024/fc00")]
    [InlineData(65535, 65535, "65535/ffff")]
    public void a_port_range_is_the_fewest_aligned_blocks_that_cover_it(int min, int max, string blocks)
    {
        var covered = SecurityGroupFlows.PortBlocks(min, max);

        string.Join(' ', covered.Select(b => $"{b.Value}/{b.Mask:x}")).ShouldBe(blocks);
        Enumerable.Range(0, 65536).Where(port => covered.Any(b => (port & b.Mask) == b.Value)).ShouldBe(Enumerable.Range(min, max - min + 1), "exactly the range");
    }

    [Fact]
    public void what_cannot_be_written_is_refused_by_name()
    {
        BridgePort[] ports = [new BridgePort(PortA, Bridge, MacA, [Web])];

        Should.Throw<ArgumentOutOfRangeException>(() => SecurityGroupFlows.FlowTable(Bridge, 0, ports, [], NoMembers)).Message.ShouldContain("conntrack zone 0 is not 1-65535");
        Should.Throw<ArgumentException>(() => SecurityGroupFlows.FlowTable("br q1", 7, [], [], NoMembers)).Message.ShouldContain("bridge name");
        Should.Throw<ArgumentException>(() => SecurityGroupFlows.FlowTable("br-q2", 7, ports, [], NoMembers))
            .Message.ShouldStartWith($"port {PortA} is on bridge br-q1, not br-q2");
        Should.Throw<ArgumentException>(() => SecurityGroupFlows.FlowTable(Bridge, 7, [new BridgePort(PortA, Bridge, "02:aa:00:00:00:01,actions=drop", [])], [], NoMembers))
            .Message.ShouldContain("is not a MAC address");
        Should.Throw<ArgumentException>(() => SecurityGroupFlows.FlowTable(
                Bridge, 7, [new BridgePort(PortA, Bridge, MacA, []), new BridgePort(PortB, Bridge, MacA.ToUpperInvariant(), [])], [], NoMembers))
            .Message.ShouldContain($"both have MAC {MacA} on bridge {Bridge}");
        var broken = new SecurityRule(Guid.NewGuid(), RuleDirection.Ingress, RuleProtocol.Icmp, 22, 22);
        Should.Throw<ArgumentException>(() => SecurityGroupFlows.FlowTable(Bridge, 7, ports, [new SecurityGroup(Web, [broken])], NoMembers))
            .Message.ShouldContain($"security group rule {broken.RuleId}: ports apply only to TCP and UDP");
        Should.Throw<ArgumentOutOfRangeException>(() => SecurityGroupFlows.PortBlocks(10, 9));
    }
}
