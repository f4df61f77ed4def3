using System.Net;
using System.Net.Sockets;
using Quantixkvm.Contracts;
using Quantixkvm.Domain.Networks;
using Quantixkvm.Network.Ovn;
using Quantixkvm.Network.SecurityGroups;

namespace Quantixkvm.Agent.Networking;

/// <summary>
/// OVN's northbound database made to match the desired state (ADR 13), by the one agent the control plane chose: a
/// logical switch per overlay network with native DHCP per subnet and a port per VM NIC (named by the port's id, the
/// iface-id ovn-controller binds), a port group per security group with its ACLs, and the default group
/// <see cref="SecurityGroupAcls.ManagedPortGroup"/> holding every port. What the agent made and is no longer desired is
/// deleted. A remote group in a rule is matched through the address sets OVN itself keeps for each port group, so the
/// agent writes no Address_Set rows.
/// </summary>
internal sealed class NorthboundState(OvnNorthbound northbound, ILogger logger)
{
    private const int DhcpLeaseSeconds = 3600;

    public async Task WriteAsync(OvnNorthboundSpecification desired, IReadOnlyDictionary<Guid, NetworkOutcome> outcomes, CancellationToken cancellationToken)
    {
        var switchesBefore = await northbound.ListLogicalSwitchesAsync(cancellationToken);
        foreach (var network in desired.OverlayNetworks)
        {
            var outcome = outcomes[network.NetworkId];
            try
            {
                var heldBefore = switchesBefore.FirstOrDefault(s => s.NetworkId == network.NetworkId.ToString("D"))?.Ports ?? [];
                outcome.Note(await WriteSwitchAsync(network, heldBefore, cancellationToken));
            }
            catch (Exception e) when (!cancellationToken.IsCancellationRequested)
            {
                outcome.Fail("OVN northbound: " + NetworkOutcome.Describe(e));
            }
        }

        await RemoveStaleSwitchesAndDhcpAsync(desired, switchesBefore, cancellationToken);
        await WriteSecurityGroupsAsync(desired, outcomes, cancellationToken);
    }

    /// <summary>The server MAC of a subnet's DHCP: derived from its id as a port's would be, so stable and locally administered.</summary>
    public static string DhcpServerMac(Guid subnetId) => MacAddress.ForPort(subnetId);

    private async Task<string> WriteSwitchAsync(NetworkSpecification network, IReadOnlyList<OvnLogicalSwitchPort> heldBefore, CancellationToken cancellationToken)
    {
        var networkId = network.NetworkId.ToString("D");
        await northbound.EnsureLogicalSwitchAsync(new LogicalSwitchSpec(networkId, network.Mtu), cancellationToken);

        // Each subnet with DHCP gets its DHCP_Options row; a port gets the row of the subnet its address is in.
        var subnets = new List<(Cidr Cidr, Guid? Dhcp)>();
        foreach (var subnet in network.Subnets)
        {
            var cidr = Cidr.Parse(subnet.Cidr).Cidr ?? throw new NetworkRealizationException($"subnet {subnet.SubnetId}: '{subnet.Cidr}' is not a CIDR");
            Guid? dhcp = subnet.Dhcp ? (await northbound.EnsureDhcpOptionsAsync(DhcpOf(network, subnet, cidr), cancellationToken)).Uuid : null;
            subnets.Add((cidr, dhcp));
        }

        foreach (var port in network.Ports)
        {
            var addresses = port.Addresses.Select(a => Address(port, a)).ToList();
            var entry = OvnNames.AddressEntry(port.Mac, addresses);
            Guid? DhcpFor(AddressFamily family) =>
                addresses.Where(a => a.AddressFamily == family).Select(a => subnets.FirstOrDefault(s => s.Cidr.Contains(a)).Dhcp).FirstOrDefault(d => d is not null);

            await northbound.EnsureLogicalSwitchPortAsync(
                new LogicalSwitchPortSpec(
                    networkId,
                    NicAttachment.InterfaceIdFor(port.PortId),
                    [entry],
                    [entry],
                    DhcpFor(AddressFamily.InterNetwork),
                    DhcpFor(AddressFamily.InterNetworkV6),
                    new Dictionary<string, string> { ["qkvm-port-id"] = port.PortId.ToString("D"), ["qkvm-vm-id"] = port.VmId.ToString("D") }),
                cancellationToken);
        }

        var wanted = network.Ports.Select(p => NicAttachment.InterfaceIdFor(p.PortId)).ToHashSet(StringComparer.Ordinal);
        foreach (var stale in heldBefore.Where(p => !wanted.Contains(p.Name)))
        {
            await northbound.DeleteLogicalSwitchPortAsync(stale.Name, cancellationToken);
            logger.LogInformation("Deleted logical switch port {Port} of network {NetworkId}: the port is gone", stale.Name, network.NetworkId);
        }

        return $"OVN logical switch {OvnNames.LogicalSwitch(networkId)}: {network.Ports.Count} port(s), DHCP on {subnets.Count(s => s.Dhcp is not null)} subnet(s)";
    }

    private static DhcpOptionsSpec DhcpOf(NetworkSpecification network, SubnetSpecification subnet, Cidr cidr)
    {
        var subnetId = subnet.SubnetId.ToString("D");
        var serverMac = DhcpServerMac(subnet.SubnetId);
        var dns = subnet.DnsServers.Select(d => IPAddress.TryParse(d, out var a) ? a : null).OfType<IPAddress>().Where(a => a.AddressFamily == cidr.Family);
        if (cidr.Family == AddressFamily.InterNetworkV6)
        {
            return DhcpOptionsSpec.ForIpv6(subnetId, cidr, serverMac, dns);
        }

        // OVN's DHCPv4 answers from the gateway's address (server_id) and hands it out as the router.
        var gateway = subnet.Gateway is { } text && IPAddress.TryParse(text, out var address) && cidr.Contains(address)
            ? address
            : throw new NetworkRealizationException($"subnet {cidr} has DHCP but no gateway inside it ('{subnet.Gateway}'): OVN's DHCP server answers from the gateway");
        return DhcpOptionsSpec.ForIpv4(subnetId, cidr, gateway, serverMac, dns, network.Mtu, DhcpLeaseSeconds);
    }

    private static IPAddress Address(PortSpecification port, string text) =>
        IPAddress.TryParse(text, out var address) && !text.Contains('/', StringComparison.Ordinal)
            ? address
            : throw new NetworkRealizationException($"port {port.PortId}: '{text}' is not an IP address");

    private async Task RemoveStaleSwitchesAndDhcpAsync(OvnNorthboundSpecification desired, IReadOnlyList<OvnLogicalSwitch> switchesBefore, CancellationToken cancellationToken)
    {
        var networks = desired.OverlayNetworks.Select(n => n.NetworkId.ToString("D")).ToHashSet(StringComparer.Ordinal);
        var dhcpSubnets = desired.OverlayNetworks.SelectMany(n => n.Subnets).Where(s => s.Dhcp).Select(s => s.SubnetId.ToString("D")).ToHashSet(StringComparer.Ordinal);
        try
        {
            foreach (var stale in switchesBefore.Where(s => s.NetworkId is not null && !networks.Contains(s.NetworkId)))
            {
                await northbound.DeleteLogicalSwitchAsync(stale.NetworkId!, cancellationToken);
                logger.LogInformation("Deleted logical switch {Switch} with its {Count} port(s): its network is gone", stale.Name, stale.Ports.Count);
            }

            foreach (var stale in (await northbound.ListDhcpOptionsAsync(cancellationToken)).Where(d => d.SubnetId is not null && !dhcpSubnets.Contains(d.SubnetId)))
            {
                await northbound.DeleteDhcpOptionsAsync(stale.SubnetId!, cancellationToken);
                logger.LogInformation("Deleted the DHCP options of subnet {SubnetId} ({Cidr}): no longer wanted", stale.SubnetId, stale.Cidr);
            }
        }
        catch (Exception e) when (!cancellationToken.IsCancellationRequested)
        {
            // Leftovers of networks that are gone harm no desired one; the next round tries again.
            logger.LogWarning("Removing stale logical switches or DHCP options failed: {Error}; tried again next round", NetworkOutcome.Describe(e));
        }
    }

    private async Task WriteSecurityGroupsAsync(OvnNorthboundSpecification desired, IReadOnlyDictionary<Guid, NetworkOutcome> outcomes, CancellationToken cancellationToken)
    {
        // Ports are put in groups only once they exist; every existing desired port is in the default group, failed network or not.
        var existing = (await northbound.ListLogicalSwitchesAsync(cancellationToken)).SelectMany(s => s.Ports).Select(p => p.Name).ToHashSet(StringComparer.Ordinal);
        var ports = desired.OverlayNetworks
            .SelectMany(n => n.Ports.Select(p => (NetworkId: n.NetworkId, Name: NicAttachment.InterfaceIdFor(p.PortId), p.SecurityGroupIds)))
            .Where(p => existing.Contains(p.Name))
            .ToList();

        try
        {
            await northbound.EnsurePortGroupAsync(SecurityGroupAcls.ManagedPortGroup, ports.Select(p => p.Name), cancellationToken: cancellationToken);
            await northbound.SetPortGroupAclsAsync(SecurityGroupAcls.ManagedPortGroup, SecurityGroupAcls.Defaults(), cancellationToken);
            await northbound.EnsurePortGroupAsync(
                SecurityGroupAcls.OpenEgressPortGroup, ports.Where(p => p.SecurityGroupIds.Count == 0).Select(p => p.Name), cancellationToken: cancellationToken);
            await northbound.SetPortGroupAclsAsync(SecurityGroupAcls.OpenEgressPortGroup, SecurityGroupAcls.OpenEgress(), cancellationToken);
        }
        catch (Exception e) when (!cancellationToken.IsCancellationRequested)
        {
            foreach (var network in desired.OverlayNetworks)
            {
                outcomes[network.NetworkId].Fail($"security groups: the default port groups: {NetworkOutcome.Describe(e)}");
            }
        }

        var groups = desired.SecurityGroups.Select(g => g.SecurityGroupId).ToHashSet();
        foreach (var group in desired.SecurityGroups)
        {
            var members = ports.Where(p => p.SecurityGroupIds.Contains(group.SecurityGroupId)).ToList();
            try
            {
                // A rule naming a group that no longer exists admits nobody: left out, rather than an ACL naming an address set OVN does not have.
                var rules = group.Rules.Select(SecurityRuleWire.ToRule).Where(r => r.RemoteGroupId is not { } remote || groups.Contains(remote)).ToList();
                var acls = SecurityGroupAcls.ForGroup(new SecurityGroup(group.SecurityGroupId, rules));
                var name = SecurityGroupAcls.PortGroupName(group.SecurityGroupId);
                await northbound.EnsurePortGroupAsync(
                    name, members.Select(p => p.Name), new Dictionary<string, string> { [SecurityGroupAcls.GroupIdKey] = group.SecurityGroupId.ToString("D") }, cancellationToken);
                await northbound.SetPortGroupAclsAsync(name, acls, cancellationToken);
            }
            catch (Exception e) when (!cancellationToken.IsCancellationRequested)
            {
                var error = $"security group {group.Name} ({group.SecurityGroupId}): {NetworkOutcome.Describe(e)}";
                logger.LogWarning("OVN northbound: writing {Error}", error);
                foreach (var networkId in members.Select(p => p.NetworkId).Distinct())
                {
                    outcomes[networkId].Fail(error);
                }
            }
        }

        var wantedGroups = desired.SecurityGroups.Select(g => SecurityGroupAcls.PortGroupName(g.SecurityGroupId)).Append(SecurityGroupAcls.ManagedPortGroup).Append(SecurityGroupAcls.OpenEgressPortGroup).ToHashSet(StringComparer.Ordinal);
        try
        {
            foreach (var stale in (await northbound.ListPortGroupsAsync(cancellationToken)).Where(g => !wantedGroups.Contains(g.Name)))
            {
                await northbound.DeletePortGroupAsync(stale.Name, cancellationToken);
                logger.LogInformation("Deleted port group {PortGroup} with its {Count} ACL(s): its security group is gone", stale.Name, stale.Acls.Count);
            }
        }
        catch (Exception e) when (!cancellationToken.IsCancellationRequested)
        {
            logger.LogWarning("Removing stale port groups failed: {Error}; tried again next round", NetworkOutcome.Describe(e));
        }
    }
}
