using System.Diagnostics;
using Quantixkvm.Domain.Networks;
using Quantixkvm.Network.Ovn;
using Quantixkvm.Network.Ovsdb;
using Quantixkvm.Network.SecurityGroups;
using Quantixkvm.Testing;

namespace Quantixkvm.Network.Tests;

/// <summary>
/// The translated ACLs as OVN itself evaluates them: OvnNorthbound writes a switch, ports, port groups and ACLs to a
/// private NB database; a real ovn-northd compiles them into the SB database's logical flows; ovn-trace follows a packet
/// through those flows and says whether it reaches the destination port.
/// </summary>
public sealed class SecurityGroupTraceTests
{
    private const string Web = "web";
    private const string Client = "client";
    private const string Outsider = "outsider";

    [Fact]
    public async Task ports_without_a_group_refuse_inbound_and_reach_out_and_a_group_admits_what_its_rules_allow()
    {
        await using var nb = await OvsdbServer.StartAsync(OvsdbServer.NorthboundSchema);
        await using var sb = await OvsdbServer.StartAsync("/usr/share/ovn/ovn-sb.ovsschema");
        await nb.ToolAsync("ovn-nbctl", "init");
        using var northd = StartNorthd(nb, sb);
        try
        {
            await using var client = await OvsdbClient.ConnectAsync(nb.UnixEndpoint);
            var ovn = new OvnNorthbound(client);
            const string network = "trace";
            await ovn.EnsureLogicalSwitchAsync(new LogicalSwitchSpec(network));
            await ovn.EnsureLogicalSwitchPortAsync(new LogicalSwitchPortSpec(network, Web, ["02:00:00:00:00:01 10.0.0.11"]));
            await ovn.EnsureLogicalSwitchPortAsync(new LogicalSwitchPortSpec(network, Client, ["02:00:00:00:00:02 10.0.0.12"]));
            await ovn.EnsureLogicalSwitchPortAsync(new LogicalSwitchPortSpec(network, Outsider, ["02:00:00:00:00:03 10.0.0.13"]));

            // web's group admits TCP 80 from anywhere and ICMP from the clients' group, and allows nothing outbound; the
            // clients' group allows all outbound (as a new group does) and TCP 8080 inbound; the outsider has no group.
            var webGroup = Guid.NewGuid();
            var clientGroup = Guid.NewGuid();
            await ovn.EnsurePortGroupAsync(SecurityGroupAcls.ManagedPortGroup, [Web, Client, Outsider]);
            await ovn.EnsurePortGroupAsync(SecurityGroupAcls.OpenEgressPortGroup, [Outsider]);
            await ovn.EnsurePortGroupAsync(SecurityGroupAcls.PortGroupName(webGroup), [Web]);
            await ovn.EnsurePortGroupAsync(SecurityGroupAcls.PortGroupName(clientGroup), [Client]);
            await ovn.SetPortGroupAclsAsync(SecurityGroupAcls.ManagedPortGroup, SecurityGroupAcls.Defaults());
            await ovn.SetPortGroupAclsAsync(SecurityGroupAcls.OpenEgressPortGroup, SecurityGroupAcls.OpenEgress());
            await ovn.SetPortGroupAclsAsync(SecurityGroupAcls.PortGroupName(webGroup), SecurityGroupAcls.ForGroup(new SecurityGroup(webGroup,
            [
                new SecurityRule(Guid.NewGuid(), RuleDirection.Ingress, RuleProtocol.Tcp, 80, 80, Cidr.Parse("0.0.0.0/0").Cidr),
                new SecurityRule(Guid.NewGuid(), RuleDirection.Ingress, RuleProtocol.Icmp, RemoteGroupId: clientGroup),
            ])));
            await ovn.SetPortGroupAclsAsync(SecurityGroupAcls.PortGroupName(clientGroup), SecurityGroupAcls.ForGroup(new SecurityGroup(clientGroup,
            [
                new SecurityRule(Guid.NewGuid(), RuleDirection.Egress),
                new SecurityRule(Guid.NewGuid(), RuleDirection.Ingress, RuleProtocol.Tcp, 8080),
            ])));
            await nb.ToolAsync("ovn-nbctl", "--wait=sb", "sync");

            (await ReachesAsync(sb, Outsider, Web, "tcp.dst == 80")).ShouldBeTrue();
            (await ReachesAsync(sb, Outsider, Web, "tcp.dst == 22")).ShouldBeFalse();
            (await ReachesAsync(sb, Client, Web, "icmp4.type == 8")).ShouldBeTrue();
            (await ReachesAsync(sb, Outsider, Web, "icmp4.type == 8")).ShouldBeFalse();
            (await ReachesAsync(sb, Web, Client, "tcp.dst == 80")).ShouldBeFalse();
            (await ReachesAsync(sb, Outsider, Client, "tcp.dst == 8080")).ShouldBeTrue();
            (await ReachesAsync(sb, Web, Client, "tcp.dst == 8080")).ShouldBeFalse("web's group allows nothing outbound");
        }
        finally
        {
            northd.Kill(entireProcessTree: true);
            await northd.WaitForExitAsync();
        }
    }

    private static readonly Dictionary<string, (string Mac, string Ip)> Ports = new()
    {
        [Web] = ("02:00:00:00:00:01", "10.0.0.11"),
        [Client] = ("02:00:00:00:00:02", "10.0.0.12"),
        [Outsider] = ("02:00:00:00:00:03", "10.0.0.13"),
    };

    /// <summary>Whether ovn-trace sees a new IPv4 packet from one port delivered to the other.</summary>
    private static async Task<bool> ReachesAsync(OvsdbServer sb, string from, string to, string l4)
    {
        var (srcMac, srcIp) = Ports[from];
        var (dstMac, dstIp) = Ports[to];
        var flow = $"inport == \"{from}\" && eth.src == {srcMac} && eth.dst == {dstMac} && ip4.src == {srcIp} && ip4.dst == {dstIp} && ip.ttl == 64 && {l4}";
        var trace = await sb.ToolAsync("ovn-trace", "qkvm-trace", flow);
        return trace.Contains($"output to \"{to}\"", StringComparison.Ordinal);
    }

    private static Process StartNorthd(OvsdbServer nb, OvsdbServer sb)
    {
        var start = new ProcessStartInfo("ovn-northd")
        {
            ArgumentList =
            {
                "--ovnnb-db=" + nb.UnixEndpoint,
                "--ovnsb-db=" + sb.UnixEndpoint,
                "--unixctl=" + Path.Combine(nb.Root, "northd.ctl"),
                "--log-file=" + Path.Combine(nb.Root, "northd.log"),
                "--no-chdir",
                "-vconsole:off",
            },
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        start.Environment["OVN_RUNDIR"] = nb.Root;
        start.Environment["OVS_RUNDIR"] = nb.Root;
        var process = Process.Start(start) ?? throw new InvalidOperationException("ovn-northd did not start");
        process.OutputDataReceived += (_, _) => { };
        process.ErrorDataReceived += (_, _) => { };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return process;
    }
}
