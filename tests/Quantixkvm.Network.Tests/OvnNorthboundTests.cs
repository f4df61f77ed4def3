using System.Net;
using System.Text.RegularExpressions;
using Quantixkvm.Domain.Networks;
using Quantixkvm.Network.Ovn;
using Quantixkvm.Network.Ovsdb;
using Quantixkvm.Network.SecurityGroups;
using Quantixkvm.Testing;

namespace Quantixkvm.Network.Tests;

/// <summary>OvnNorthbound against a private OVN_Northbound database, checked with ovn-nbctl.</summary>
public sealed partial class OvnNorthboundTests(NorthboundDatabase database) : IClassFixture<NorthboundDatabase>
{
    private OvsdbServer Server => database.Server;

    private static string NewId() => Guid.NewGuid().ToString("N");

    private async Task<string> NbctlAsync(params string[] arguments) => (await Server.ToolAsync("ovn-nbctl", arguments)).Trim();

    private async Task<IReadOnlyList<string>> NbctlLinesAsync(params string[] arguments) =>
        [.. (await NbctlAsync(arguments)).Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => Spaces().Replace(l.Trim(), " "))];

    [Fact]
    public async Task a_logical_switch_is_created_once_and_brought_to_its_spec()
    {
        await using var client = await OvsdbClient.ConnectAsync(Server.UnixEndpoint);
        var ovn = new OvnNorthbound(client);
        var network = NewId();
        var name = "qkvm-" + network;

        var created = await ovn.EnsureLogicalSwitchAsync(new LogicalSwitchSpec(network, Mtu: 1442, Subnet: "10.9.0.0/24"));
        created.Changed.ShouldBeTrue();
        (await NbctlAsync("ls-list")).ShouldContain($"{created.Uuid} ({name})");
        // ovn-nbctl quotes a string only when it does not read as an identifier.
        (await NbctlLinesAsync("get", "Logical_Switch", name, "other_config:mtu", "other_config:subnet", "external_ids:qkvm-network-id"))
            .Select(v => v.Trim('"')).ShouldBe(["1442", "10.9.0.0/24", network]);

        (await ovn.EnsureLogicalSwitchAsync(new LogicalSwitchSpec(network, Mtu: 1442, Subnet: "10.9.0.0/24"))).ShouldBe(created with { Changed = false });

        (await ovn.EnsureLogicalSwitchAsync(new LogicalSwitchSpec(network, Mtu: 1400))).ShouldBe(created);
        (await NbctlAsync("get", "Logical_Switch", name, "other_config")).ShouldBe("{mtu=\"1400\"}");

        (await ovn.ListLogicalSwitchesAsync()).ShouldContain(ls => ls.Name == name && ls.NetworkId == network);
        (await ovn.DeleteLogicalSwitchAsync(network)).ShouldBeTrue();
        (await NbctlAsync("ls-list")).ShouldNotContain(name);
        (await ovn.DeleteLogicalSwitchAsync(network)).ShouldBeFalse();
    }

    [Fact]
    public async Task a_switch_someone_else_created_is_adopted_not_duplicated()
    {
        await using var client = await OvsdbClient.ConnectAsync(Server.UnixEndpoint);
        var network = NewId();
        await NbctlAsync("ls-add", "qkvm-" + network);
        var theirs = Guid.Parse(await NbctlAsync("--bare", "--columns=_uuid", "find", "Logical_Switch", $"name=qkvm-{network}"));

        var result = await new OvnNorthbound(client).EnsureLogicalSwitchAsync(new LogicalSwitchSpec(network));

        result.ShouldBe(new OvnRowResult(theirs, true));
        (await NbctlAsync("get", "Logical_Switch", theirs.ToString(), "external_ids:qkvm-managed")).ShouldBe("\"true\"");
    }

    [Fact]
    public async Task concurrent_writers_ensuring_one_switch_make_exactly_one()
    {
        var network = NewId();
        var clients = await Task.WhenAll(Enumerable.Range(0, 6).Select(_ => OvsdbClient.ConnectAsync(Server.UnixEndpoint)));
        try
        {
            var results = await Task.WhenAll(clients.Select(c => new OvnNorthbound(c).EnsureLogicalSwitchAsync(new LogicalSwitchSpec(network, Mtu: 1442))));

            results.Select(r => r.Uuid).Distinct().ShouldHaveSingleItem();
            (await NbctlLinesAsync("--bare", "--columns=_uuid", "find", "Logical_Switch", $"name=qkvm-{network}")).ShouldHaveSingleItem();
        }
        finally
        {
            foreach (var client in clients)
            {
                await client.DisposeAsync();
            }
        }
    }

    [Fact]
    public async Task ports_carry_addresses_port_security_and_dhcp_options_as_ovn_nbctl_reports()
    {
        await using var client = await OvsdbClient.ConnectAsync(Server.UnixEndpoint);
        var ovn = new OvnNorthbound(client);
        var network = NewId();
        var subnet = NewId();
        var port = "qkvm-port-" + NewId();
        await ovn.EnsureLogicalSwitchAsync(new LogicalSwitchSpec(network));
        var dhcp = await ovn.EnsureDhcpOptionsAsync(DhcpOptionsSpec.ForIpv4(
            subnet, Cidr.Parse("10.20.0.0/24").Cidr!, IPAddress.Parse("10.20.0.1"), "02:00:00:00:00:fe", [IPAddress.Parse("10.20.0.2"), IPAddress.Parse("9.9.9.9")], 1442));
        var entry = OvnNames.AddressEntry("02:00:00:aa:bb:cc", [IPAddress.Parse("10.20.0.5")]);
        var spec = new LogicalSwitchPortSpec(network, port, [entry], [entry], dhcp.Uuid,
            ExternalIds: new Dictionary<string, string> { ["qkvm-vm-id"] = "vm-1" });

        var created = await ovn.EnsureLogicalSwitchPortAsync(spec);

        created.Changed.ShouldBeTrue();
        (await NbctlAsync("lsp-list", "qkvm-" + network)).ShouldBe($"{created.Uuid} ({port})");
        (await NbctlAsync("lsp-get-addresses", port)).ShouldBe("02:00:00:aa:bb:cc 10.20.0.5");
        (await NbctlAsync("lsp-get-port-security", port)).ShouldBe("02:00:00:aa:bb:cc 10.20.0.5");
        (await NbctlAsync("lsp-get-dhcpv4-options", port)).ShouldStartWith(dhcp.Uuid.ToString());
        (await NbctlLinesAsync("dhcp-options-get-options", dhcp.Uuid.ToString())).ShouldBe(
            ["dns_server={10.20.0.2, 9.9.9.9}", "lease_time=3600", "mtu=1442", "router=10.20.0.1", "server_id=10.20.0.1", "server_mac=02:00:00:00:00:fe"],
            ignoreOrder: true);
        (await NbctlAsync("get", "DHCP_Options", dhcp.Uuid.ToString(), "cidr")).ShouldBe("\"10.20.0.0/24\"");

        (await ovn.EnsureLogicalSwitchPortAsync(spec)).Changed.ShouldBeFalse();
        var listed = (await ovn.ListLogicalSwitchesAsync()).Single(ls => ls.NetworkId == network).Ports.ShouldHaveSingleItem();
        (listed.Name, listed.Dhcpv4Options, listed.Dhcpv6Options, listed.ExternalIds["qkvm-vm-id"]).ShouldBe((port, (Guid?)dhcp.Uuid, (Guid?)null, "vm-1"));
        listed.Addresses.ShouldBe([entry]);
        listed.PortSecurity.ShouldBe([entry]);

        (await ovn.EnsureLogicalSwitchPortAsync(spec with { Addresses = ["02:00:00:aa:bb:cc 10.20.0.6"], PortSecurity = [], Dhcpv4Options = null })).Changed.ShouldBeTrue();
        (await NbctlAsync("lsp-get-addresses", port)).ShouldBe("02:00:00:aa:bb:cc 10.20.0.6");
        (await NbctlAsync("lsp-get-port-security", port)).ShouldBeEmpty();
        (await NbctlAsync("lsp-get-dhcpv4-options", port)).ShouldBeEmpty();

        (await ovn.DeleteLogicalSwitchPortAsync(port)).ShouldBeTrue();
        (await NbctlAsync("lsp-list", "qkvm-" + network)).ShouldBeEmpty();
        (await ovn.DeleteLogicalSwitchPortAsync(port)).ShouldBeFalse();
        (await ovn.DeleteDhcpOptionsAsync(subnet)).ShouldBeTrue();
        (await NbctlAsync("dhcp-options-list")).ShouldNotContain(dhcp.Uuid.ToString());
    }

    [Fact]
    public async Task dhcp_options_are_found_by_subnet_and_their_options_replaced()
    {
        await using var client = await OvsdbClient.ConnectAsync(Server.UnixEndpoint);
        var ovn = new OvnNorthbound(client);
        var subnet = NewId();
        var v6 = DhcpOptionsSpec.ForIpv6(subnet, Cidr.Parse("fd00:1::/64").Cidr!, "02:00:00:00:00:fe", []);

        var created = await ovn.EnsureDhcpOptionsAsync(v6);
        (await ovn.EnsureDhcpOptionsAsync(v6)).ShouldBe(created with { Changed = false });
        (await ovn.EnsureDhcpOptionsAsync(v6 with { Options = new Dictionary<string, string> { ["server_id"] = "02:00:00:00:00:fd" } })).ShouldBe(created);

        (await NbctlLinesAsync("dhcp-options-get-options", created.Uuid.ToString())).ShouldBe(["server_id=02:00:00:00:00:fd"]);
        (await ovn.ListDhcpOptionsAsync()).ShouldContain(d => d.SubnetId == subnet && d.Cidr == "fd00:1::/64");
        Should.Throw<ArgumentException>(() => DhcpOptionsSpec.ForIpv4(subnet, Cidr.Parse("10.0.0.0/24").Cidr!, IPAddress.Parse("10.0.1.1"), "02:00:00:00:00:fe", [], 1500))
            .Message.ShouldContain("10.0.1.1");
    }

    [Fact]
    public async Task security_groups_become_port_groups_with_acls_as_ovn_nbctl_lists_them()
    {
        await using var client = await OvsdbClient.ConnectAsync(Server.UnixEndpoint);
        var ovn = new OvnNorthbound(client);
        var network = NewId();
        var web = "qkvm-port-" + NewId();
        var db = "qkvm-port-" + NewId();
        await ovn.EnsureLogicalSwitchAsync(new LogicalSwitchSpec(network));
        await ovn.EnsureLogicalSwitchPortAsync(new LogicalSwitchPortSpec(network, web, ["02:00:00:00:01:01 10.30.0.11"]));
        await ovn.EnsureLogicalSwitchPortAsync(new LogicalSwitchPortSpec(network, db, ["02:00:00:00:01:02 10.30.0.12"]));

        var groupId = Guid.NewGuid();
        var pg = SecurityGroupAcls.PortGroupName(groupId);
        var ssh = new SecurityRule(Guid.NewGuid(), RuleDirection.Ingress, RuleProtocol.Tcp, 22, 22, Cidr.Parse("10.0.0.0/8").Cidr);
        var http = new SecurityRule(Guid.NewGuid(), RuleDirection.Ingress, RuleProtocol.Tcp, 80, 80);
        // The managed group is shared by every test of this class: its ports are this test's own.
        await ovn.EnsurePortGroupAsync(SecurityGroupAcls.ManagedPortGroup, [web, db]);
        await ovn.EnsurePortGroupAsync(pg, [web], new Dictionary<string, string> { [SecurityGroupAcls.GroupIdKey] = groupId.ToString() });

        (await ovn.SetPortGroupAclsAsync(SecurityGroupAcls.ManagedPortGroup, SecurityGroupAcls.Defaults())).ShouldBeTrue();
        (await ovn.SetPortGroupAclsAsync(pg, SecurityGroupAcls.ForGroup(new SecurityGroup(groupId, [ssh, http])))).ShouldBeTrue();

        (await NbctlLinesAsync("acl-list", SecurityGroupAcls.ManagedPortGroup)).ShouldBe(
            SecurityGroupAcls.Defaults().Select(a => a.ToString()), ignoreOrder: true);
        (await NbctlLinesAsync("acl-list", pg)).ShouldBe(
        [
            $"to-lport 1002 (outport == @{pg} && ip4 && ip4.src == 10.0.0.0/8 && tcp && tcp.dst == 22) allow-related",
            $"to-lport 1002 (outport == @{pg} && ip4 && tcp && tcp.dst == 80) allow-related",
        ]);
        (await NbctlAsync("--bare", "--columns=ports", "list", "Port_Group", pg)).ShouldBe(
            await NbctlAsync("--bare", "--columns=_uuid", "find", "Logical_Switch_Port", $"name={web}"));

        // Same again: nothing written. One rule dropped: only its ACL goes.
        (await ovn.SetPortGroupAclsAsync(pg, SecurityGroupAcls.ForGroup(new SecurityGroup(groupId, [ssh, http])))).ShouldBeFalse();
        var aclsBefore = await NbctlLinesAsync("--bare", "--columns=_uuid", "list", "ACL");
        (await ovn.SetPortGroupAclsAsync(pg, SecurityGroupAcls.ForGroup(new SecurityGroup(groupId, [ssh])))).ShouldBeTrue();
        (await NbctlLinesAsync("acl-list", pg)).ShouldBe([$"to-lport 1002 (outport == @{pg} && ip4 && ip4.src == 10.0.0.0/8 && tcp && tcp.dst == 22) allow-related"]);
        (await NbctlLinesAsync("--bare", "--columns=_uuid", "list", "ACL")).Count.ShouldBe(aclsBefore.Count - 1);

        var listed = (await ovn.ListPortGroupsAsync()).Single(g => g.Name == pg);
        listed.PortNames.ShouldBe([web]);
        listed.Acls.ShouldHaveSingleItem().Match.ShouldContain("tcp.dst == 22");

        // A port deleted leaves its groups (weak references); a group deleted takes its ACLs.
        await ovn.DeleteLogicalSwitchPortAsync(web);
        (await ovn.ListPortGroupsAsync()).Single(g => g.Name == pg).PortNames.ShouldBeEmpty();
        (await ovn.DeletePortGroupAsync(pg)).ShouldBeTrue();
        (await NbctlLinesAsync("--bare", "--columns=_uuid", "list", "ACL")).Count.ShouldBe(aclsBefore.Count - 2);
        await ovn.DeleteLogicalSwitchAsync(network);
    }

    [Fact]
    public async Task address_sets_hold_exactly_the_given_addresses()
    {
        await using var client = await OvsdbClient.ConnectAsync(Server.UnixEndpoint);
        var ovn = new OvnNorthbound(client);
        var name = "qkvm_as_" + NewId();

        var created = await ovn.EnsureAddressSetAsync(name, ["10.0.0.1", "10.0.0.2"]);
        (await ovn.EnsureAddressSetAsync(name, ["10.0.0.2", "10.0.0.1"])).Changed.ShouldBeFalse();
        (await ovn.EnsureAddressSetAsync(name, ["10.0.0.3"])).ShouldBe(created);

        (await NbctlAsync("get", "Address_Set", name, "addresses")).ShouldBe("[\"10.0.0.3\"]");
        (await ovn.ListAddressSetsAsync()).ShouldContain(a => a.Name == name && a.Addresses.SequenceEqual(new[] { "10.0.0.3" }));
        (await ovn.DeleteAddressSetAsync(name)).ShouldBeTrue();
        (await NbctlAsync("--bare", "--columns=name", "find", "Address_Set", $"name={name}")).ShouldBeEmpty();
    }

    [Fact]
    public async Task missing_parents_and_bad_names_are_refused_by_name()
    {
        await using var client = await OvsdbClient.ConnectAsync(Server.UnixEndpoint);
        var ovn = new OvnNorthbound(client);
        var network = NewId();

        (await Should.ThrowAsync<NetworkObjectMissingException>(() => ovn.EnsureLogicalSwitchPortAsync(new LogicalSwitchPortSpec(network, "p1", []))))
            .Message.ShouldBe($"logical switch 'qkvm-{network}' does not exist");
        (await Should.ThrowAsync<NetworkObjectMissingException>(() => ovn.EnsurePortGroupAsync("qkvm_pg_x", ["no-such-port"])))
            .Message.ShouldBe("logical switch port 'no-such-port' does not exist");
        (await Should.ThrowAsync<NetworkObjectMissingException>(() => ovn.SetPortGroupAclsAsync("qkvm_no_such_pg", SecurityGroupAcls.Defaults())))
            .Kind.ShouldBe("port group");
        (await Should.ThrowAsync<ArgumentException>(() => ovn.EnsurePortGroupAsync("qkvm-sg-1", []))).Message.ShouldContain("'qkvm-sg-1' may contain only letters, digits and '_'");
        (await Should.ThrowAsync<ArgumentException>(() => ovn.EnsureLogicalSwitchAsync(new LogicalSwitchSpec("a b")))).Message.ShouldContain("network id 'a b'");
    }

    [GeneratedRegex(" +")]
    private static partial Regex Spaces();
}
