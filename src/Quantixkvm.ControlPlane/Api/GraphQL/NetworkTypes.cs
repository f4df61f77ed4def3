using System.Net.Sockets;
using GraphQL;
using GraphQL.Types;
using Marten;
using Quantixkvm.ControlPlane.ReadModels;
using Quantixkvm.Domain.Hosts;
using Quantixkvm.Domain.Networks;

namespace Quantixkvm.ControlPlane.Api.GraphQL;

public sealed class NetworkKindType : EnumerationGraphType<NetworkKind>
{
    public NetworkKindType() => Description = "BRIDGE: a Linux bridge on each host (optionally on a VLAN of an uplink). OVS: an Open vSwitch bridge on each host, "
        + "VLAN-tagging its ports. OVERLAY: one OVN logical switch spanning the hosts over Geneve tunnels.";
}

/// <summary>A network's state across the hosts, derived from their reports (see <see cref="NetworkStatusType"/>).</summary>
public enum NetworkStatus
{
    Ready,
    Pending,
    Degraded,
}

public sealed class NetworkStatusType : EnumerationGraphType<NetworkStatus>
{
    public NetworkStatusType() => Description = "Over the ONLINE hosts: DEGRADED if one of them reports an error applying the network; "
        + "READY if every one holds the network's current generation; PENDING otherwise (a change not yet applied everywhere, or no ONLINE host).";
}

public sealed class RuleDirectionType : EnumerationGraphType<RuleDirection>
{
    public RuleDirectionType() => Description = "INGRESS: traffic to the port, from the remote. EGRESS: traffic from the port, to the remote.";
}

public sealed class RuleProtocolType : EnumerationGraphType<RuleProtocol>
{
    // The default constant case would split "Icmp6" into ICMP_6.
    protected override string ChangeEnumCase(string val) => val.ToUpperInvariant();
}

public sealed class EtherTypeType : EnumerationGraphType<EtherType>
{
    public EtherTypeType()
    {
        Name = "EtherType";
        Description = "IPV4 or IPV6.";
    }

    // The default constant case would split "Ipv4" into IPV_4.
    protected override string ChangeEnumCase(string val) => val.ToUpperInvariant();
}

public sealed class NetworkType : ObjectGraphType<NetworkView>
{
    public NetworkType()
    {
        Name = "Network";
        Description = "A network the hosts realize (desired state, ADR 13): its definition, subnets, ports (a VM NIC each, with its addresses) "
            + "and, per host, the generation it holds.";
        Field<NonNullGraphType<IdGraphType>>("id").Resolve(c => c.Source.Id);
        Field(n => n.Name);
        Field<NonNullGraphType<NetworkKindType>>("kind").Resolve(c => c.Source.Kind);
        Field<StringGraphType>("bridgeName").Description("BRIDGE and OVS: the bridge device on each host.").Resolve(c => c.Source.BridgeName);
        Field<StringGraphType>("uplink").Description("BRIDGE: the interface whose VLAN sub-interface the bridge enslaves.").Resolve(c => c.Source.Uplink);
        Field<IntGraphType>("vlan").Description("BRIDGE and OVS: the VLAN tag (1-4094).").Resolve(c => c.Source.Vlan);
        Field<NonNullGraphType<IntGraphType>>("mtu").Resolve(c => c.Source.Mtu);
        Field(n => n.Description);
        Field<NonNullGraphType<LongGraphType>>("generation")
            .Description("Counts the changes hosts must apply (definition, subnets, ports, their security groups); a host holding it is up to date.")
            .Resolve(c => c.Source.Generation);
        Field<NonNullGraphType<ListGraphType<NonNullGraphType<SubnetType>>>>("subnets").Resolve(c => c.Source.Subnets).WithComplexityImpact(1, FewItems);
        Field<NonNullGraphType<ListGraphType<NonNullGraphType<NetworkPortType>>>>("ports").Resolve(c => c.Source.Ports);
        Field<NonNullGraphType<ListGraphType<NonNullGraphType<NetworkHostType>>>>("hosts")
            .Description("What each host last reported of this network.")
            .Resolve(c => c.Source.Hosts.OrderBy(h => h.HostId).Select(h => new NetworkOnHost(h, c.Source.Generation)).ToList());
        Field<NonNullGraphType<NetworkStatusType>>("status")
            .ResolveAsync(async c => StatusOf(c.Source, await c.RequestServices!.GetRequiredService<HostDirectory>().AllAsync(c.CancellationToken)));
        Field<NonNullGraphType<IntGraphType>>("version").Description("The network's stream version; pass it as expectedVersion to act only on this state.")
            .Resolve(c => (int)c.Source.Version);
        Field<NonNullGraphType<DateTimeOffsetGraphType>>("createdAt").Resolve(c => c.Source.CreatedAt);
        Field<DateTimeOffsetGraphType>("deletedAt").Description("Set once deleted (only deleteNetwork's answer and networkChanged show a deleted network).")
            .Resolve(c => c.Source.DeletedAt);
    }

    /// <summary>Only ONLINE hosts count: they are the ones the control plane sends the network to (an offline host catches up when back).</summary>
    public static NetworkStatus StatusOf(NetworkView network, IEnumerable<HostSnapshot> hosts)
    {
        var online = hosts.Where(h => h.Status == HostStatus.Online).Select(h => h.Host.Id).ToList();
        var reports = network.Hosts.Where(h => online.Contains(h.HostId)).ToList();
        if (reports.Any(r => r.Error is not null))
        {
            return NetworkStatus.Degraded;
        }

        return online.Count > 0 && online.All(id => reports.Any(r => r.HostId == id && r.Generation == network.Generation))
            ? NetworkStatus.Ready
            : NetworkStatus.Pending;
    }

    /// <summary>
    /// The complexity analyzer's estimate for lists that hold a few items (a network's subnets, a subnet's ranges, a
    /// port's addresses and groups); its default (a long list) would refuse a plain query of every network's subnets.
    /// </summary>
    internal const double FewItems = 2;

    internal static IQuerySession Session(IResolveFieldContext c) => c.RequestServices!.GetRequiredService<IQuerySession>();
}

public sealed class SubnetType : ObjectGraphType<Subnet>
{
    public SubnetType()
    {
        Name = "Subnet";
        Description = "A subnet of a network. Ports get one address from each subnet (the first free one in its allocation pools) unless given fixed ones.";
        Field<NonNullGraphType<IdGraphType>>("id").Resolve(c => c.Source.SubnetId);
        Field<NonNullGraphType<StringGraphType>>("cidr").Description("Canonical: the network address and prefix length (10.0.0.0/24, fd00::/64).")
            .Resolve(c => c.Source.Cidr);
        Field<NonNullGraphType<StringGraphType>>("gateway").Resolve(c => c.Source.Gateway);
        Field<NonNullGraphType<ListGraphType<NonNullGraphType<StringGraphType>>>>("dnsServers").Resolve(c => c.Source.DnsServers);
        Field<NonNullGraphType<ListGraphType<NonNullGraphType<AddressRangeType>>>>("allocationPools")
            .Description("Where automatic addresses come from.").Resolve(c => c.Source.AllocationPools).WithComplexityImpact(1, NetworkType.FewItems);
        Field<NonNullGraphType<ListGraphType<NonNullGraphType<AddressRangeType>>>>("reservedRanges")
            .Description("Never given to a port.").Resolve(c => c.Source.ReservedRanges).WithComplexityImpact(1, NetworkType.FewItems);
        Field<NonNullGraphType<BooleanGraphType>>("dhcpEnabled").Resolve(c => c.Source.DhcpEnabled);
        Field<NonNullGraphType<IntGraphType>>("ipVersion").Description("4 or 6.")
            .Resolve(c => Cidr.Parse(c.Source.Cidr).Cidr?.Family == AddressFamily.InterNetworkV6 ? 6 : 4);
    }
}

public sealed class AddressRangeType : ObjectGraphType<AddressRange>
{
    public AddressRangeType()
    {
        Name = "AddressRange";
        Description = "Addresses from start to end, both included.";
        Field(r => r.Start);
        Field(r => r.End);
    }
}

public sealed class PortAddressType : ObjectGraphType<PortAddress>
{
    public PortAddressType()
    {
        Name = "PortAddress";
        Field<NonNullGraphType<IdGraphType>>("subnetId").Resolve(c => c.Source.SubnetId);
        Field(a => a.Address);
    }
}

public sealed class NetworkPortType : ObjectGraphType<NetworkPortView>
{
    public NetworkPortType()
    {
        Name = "NetworkPort";
        Description = "A VM NIC's place on a network: its MAC, its addresses and the security groups filtering it (none: inbound denied, outbound allowed). "
            + "Security groups are enforced on every kind of network: OVN ACLs (OVERLAY), nftables (BRIDGE), OpenFlow conntrack flows (OVS).";
        Field<NonNullGraphType<IdGraphType>>("id").Resolve(c => c.Source.PortId);
        Field<NonNullGraphType<IdGraphType>>("vmId").Resolve(c => c.Source.VmId);
        Field<VmType>("vm").ResolveAsync(async c => await NetworkType.Session(c).LoadAsync<VmView>(c.Source.VmId, c.CancellationToken));
        Field<NonNullGraphType<StringGraphType>>("mac").Resolve(c => c.Source.Mac);
        Field<NonNullGraphType<ListGraphType<NonNullGraphType<PortAddressType>>>>("addresses").Resolve(c => c.Source.Addresses)
            .WithComplexityImpact(1, NetworkType.FewItems);
        Field<NonNullGraphType<ListGraphType<NonNullGraphType<SecurityGroupType>>>>("securityGroups").ResolveAsync(async c =>
        {
            var groups = await NetworkType.Session(c).LoadManyAsync<SecurityGroupView>(c.CancellationToken, c.Source.SecurityGroupIds);
            return c.Source.SecurityGroupIds.Select(id => groups.FirstOrDefault(g => g.Id == id)).OfType<SecurityGroupView>().ToList();
        }).WithComplexityImpact(1, NetworkType.FewItems);
        Field<NonNullGraphType<DateTimeOffsetGraphType>>("addedAt").Resolve(c => c.Source.AddedAt);
    }
}

/// <summary>One host's report on a network, beside the generation the network is at.</summary>
public sealed record NetworkOnHost(NetworkHostView Report, long NetworkGeneration);

public sealed class NetworkHostType : ObjectGraphType<NetworkOnHost>
{
    public NetworkHostType()
    {
        Name = "NetworkOnHost";
        Description = "What one host last reported of a network: the generation it holds, or the error that kept it from applying the current one.";
        Field<NonNullGraphType<IdGraphType>>("hostId").Resolve(c => c.Source.Report.HostId);
        Field<StringGraphType>("hostName").ResolveAsync(async c =>
            (await NetworkType.Session(c).LoadAsync<HostView>(c.Source.Report.HostId, c.CancellationToken))?.Name);
        Field<NonNullGraphType<LongGraphType>>("realizedGeneration").Resolve(c => c.Source.Report.Generation);
        Field<StringGraphType>("error").Resolve(c => c.Source.Report.Error);
        Field<NonNullGraphType<StringGraphType>>("summary").Description("The host's short account of what it made.").Resolve(c => c.Source.Report.Summary);
        Field<NonNullGraphType<BooleanGraphType>>("upToDate").Description("It holds the network's current generation and reports no error.")
            .Resolve(c => c.Source.Report.Generation == c.Source.NetworkGeneration && c.Source.Report.Error is null);
        Field<NonNullGraphType<DateTimeOffsetGraphType>>("reportedAt").Resolve(c => c.Source.Report.ReportedAt);
    }
}

public sealed class SecurityGroupType : ObjectGraphType<SecurityGroupView>
{
    public SecurityGroupType()
    {
        Name = "SecurityGroup";
        Description = "Allow rules for the ports that use the group; a port's traffic passes when a rule of one of its groups allows it (replies always pass).";
        Field<NonNullGraphType<IdGraphType>>("id").Resolve(c => c.Source.Id);
        Field(g => g.Name);
        Field(g => g.Description);
        Field<NonNullGraphType<ListGraphType<NonNullGraphType<SecurityRuleType>>>>("rules").Resolve(c => c.Source.Rules);
        Field<NonNullGraphType<IntGraphType>>("version").Description("The group's stream version; pass it as expectedVersion to act only on this state.")
            .Resolve(c => (int)c.Source.Version);
        Field<NonNullGraphType<DateTimeOffsetGraphType>>("createdAt").Resolve(c => c.Source.CreatedAt);
        Field<DateTimeOffsetGraphType>("deletedAt").Description("Set once deleted (only deleteSecurityGroup's answer and securityGroupChanged show a deleted group).")
            .Resolve(c => c.Source.DeletedAt);
    }
}

public sealed class SecurityRuleType : ObjectGraphType<SecurityGroupRule>
{
    public SecurityRuleType()
    {
        Name = "SecurityRule";
        Description = "One allow rule. The remote is remoteCidr, or the ports of remoteGroupId, or anyone when both are null.";
        Field<NonNullGraphType<IdGraphType>>("id").Resolve(c => c.Source.RuleId);
        Field<NonNullGraphType<RuleDirectionType>>("direction").Resolve(c => c.Source.Direction);
        Field<NonNullGraphType<RuleProtocolType>>("protocol").Resolve(c => c.Source.Protocol);
        Field<NonNullGraphType<EtherTypeType>>("etherType").Resolve(c => c.Source.EtherType);
        Field<IntGraphType>("portMin").Description("TCP and UDP: the first port; null with portMax null: every port.").Resolve(c => c.Source.PortMin);
        Field<IntGraphType>("portMax").Resolve(c => c.Source.PortMax);
        Field<StringGraphType>("remoteCidr").Resolve(c => c.Source.RemoteCidr);
        Field<IdGraphType>("remoteGroupId").Resolve(c => c.Source.RemoteGroupId);
    }
}

/// <summary>A network command's answer: the network as it is after it, and its stream version.</summary>
public sealed record NetworkPayload(NetworkView Network, long Version);

public sealed class NetworkPayloadType : ObjectGraphType<NetworkPayload>
{
    public NetworkPayloadType()
    {
        Name = "NetworkPayload";
        Field<NonNullGraphType<NetworkType>>("network").Resolve(c => c.Source.Network);
        Field<NonNullGraphType<IntGraphType>>("version").Resolve(c => (int)c.Source.Version);
    }
}

/// <summary>A security group command's answer: the group as it is after it, and its stream version.</summary>
public sealed record SecurityGroupPayload(SecurityGroupView SecurityGroup, long Version);

public sealed class SecurityGroupPayloadType : ObjectGraphType<SecurityGroupPayload>
{
    public SecurityGroupPayloadType()
    {
        Name = "SecurityGroupPayload";
        Field<NonNullGraphType<SecurityGroupType>>("securityGroup").Resolve(c => c.Source.SecurityGroup);
        Field<NonNullGraphType<IntGraphType>>("version").Resolve(c => (int)c.Source.Version);
    }
}
