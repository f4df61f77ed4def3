using Quantixkvm.ControlPlane.Agents;
using Quantixkvm.ControlPlane.ReadModels;
using Quantixkvm.Contracts;
using Quantixkvm.Domain.Networks;

namespace Quantixkvm.ControlPlane.Networks;

/// <summary>The network state hosts must hold, as the wire carries it: built from the read models (ADR 13).</summary>
public static class DesiredNetworks
{
    public static NetworkSpecification SpecificationOf(NetworkView network) => new(
        network.Id, network.Name, network.Generation, network.Kind.ToWire(), network.BridgeName, network.Uplink, network.Vlan, network.Mtu,
        [.. network.Subnets.Select(s => new SubnetSpecification(s.SubnetId, s.Cidr, s.Gateway, s.DnsServers, s.DhcpEnabled))],
        [.. network.Ports.OrderBy(p => p.PortId).Select(p => new PortSpecification(
            p.PortId, p.VmId, p.Mac, [.. p.Addresses.Select(a => a.Address)], [.. p.SecurityGroupIds.Order()]))]);

    public static SecurityGroupSpecification SpecificationOf(SecurityGroupView group) => new(
        group.Id, group.Name,
        [.. group.Rules.Select(r => new SecurityRuleSpecification(
            r.RuleId, r.Direction.ToWire(), r.Protocol.ToWire(), r.EtherType.ToWire(), r.PortMin, r.PortMax, r.RemoteCidr, r.RemoteGroupId))]);

    /// <summary>
    /// Every live network and security group for every host (bridge networks' groups are enforced on each host); the
    /// northbound part (overlays and groups) only for its writer.
    /// </summary>
    public static (IReadOnlyList<NetworkSpecification> Networks, IReadOnlyList<SecurityGroupSpecification> SecurityGroups, OvnNorthboundSpecification Northbound) Build(
        IEnumerable<NetworkView> networks, IEnumerable<SecurityGroupView> groups)
    {
        var specs = networks.Where(n => n.DeletedAt is null).OrderBy(n => n.Id).Select(SpecificationOf).ToList();
        List<SecurityGroupSpecification> groupSpecs = [.. groups.Where(g => g.DeletedAt is null).OrderBy(g => g.Id).Select(SpecificationOf)];
        var northbound = new OvnNorthboundSpecification([.. specs.Where(n => n.Kind == NetworkKinds.Overlay)], groupSpecs);
        return (specs, groupSpecs, northbound);
    }
}
