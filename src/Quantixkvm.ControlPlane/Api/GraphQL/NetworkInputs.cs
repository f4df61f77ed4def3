using GraphQL.Types;
using Quantixkvm.ControlPlane.Commands;
using Quantixkvm.Domain.Networks;

namespace Quantixkvm.ControlPlane.Api.GraphQL;

public sealed record CreateNetworkInput(CreateNetworkRequest Request, string? CommandId);

public sealed class CreateNetworkInputType : InputObjectGraphType<CreateNetworkInput>
{
    public CreateNetworkInputType()
    {
        Name = "CreateNetworkInput";
        Field<NonNullGraphType<StringGraphType>>("name").Description("Letters, digits, '.', '_' and '-'; up to 64; unique among networks.");
        Field<NonNullGraphType<NetworkKindType>>("kind");
        Field<StringGraphType>("bridgeName")
            .Description("BRIDGE and OVS (required): the bridge device on each host; up to 15 characters of letters, digits, '.', '_' and '-'; unique among networks.");
        Field<StringGraphType>("uplink").Description("BRIDGE: the interface whose VLAN sub-interface the bridge enslaves (required with vlan).");
        Field<IntGraphType>("vlan").Description("BRIDGE and OVS: a VLAN tag, 1-4094.");
        Field<IntGraphType>("mtu").Description("1280-9216; default 1500, 1442 for OVERLAY (Geneve's overhead).");
        Field<StringGraphType>("description");
        Field<IdGraphType>("commandId").Description("Idempotency key: repeating it returns the same network.");
    }

    public override object ParseDictionary(IDictionary<string, object?> value) => new CreateNetworkInput(
        new CreateNetworkRequest(
            (string)value["name"]!,
            (NetworkKind)value["kind"]!,
            value.Value("bridgeName") as string,
            value.Value("uplink") as string,
            value.Value("vlan") as int?,
            value.Value("mtu") as int?,
            value.Value("description") as string ?? ""),
        CreateStoragePoolInputType.Optional(value, "commandId"));
}

public sealed class AddressRangeInputType : InputObjectGraphType<AddressRange>
{
    public AddressRangeInputType()
    {
        Name = "AddressRangeInput";
        Description = "Addresses from start to end, both included, inside the subnet.";
        Field<NonNullGraphType<StringGraphType>>("start");
        Field<NonNullGraphType<StringGraphType>>("end");
    }

    public override object ParseDictionary(IDictionary<string, object?> value) => new AddressRange((string)value["start"]!, (string)value["end"]!);
}

public sealed class SubnetInputType : InputObjectGraphType<AddSubnetRequest>
{
    public SubnetInputType()
    {
        Name = "SubnetInput";
        Description = "A subnet: IPv4 or IPv6; it must not overlap another subnet of the network.";
        Field<NonNullGraphType<StringGraphType>>("cidr").Description("10.0.0.0/24, fd00:1::/64, …");
        Field<StringGraphType>("gateway").Description("Inside the subnet, not its network (or IPv4 broadcast) address; default the first host address.");
        Field<ListGraphType<NonNullGraphType<StringGraphType>>>("dnsServers");
        Field<ListGraphType<NonNullGraphType<AddressRangeInputType>>>("allocationPools").Description("Where automatic addresses come from; default the whole usable range.");
        Field<ListGraphType<NonNullGraphType<AddressRangeInputType>>>("reservedRanges").Description("Never given to a port.");
        Field<BooleanGraphType>("dhcpEnabled").Description("Default true.");
    }

    public override object ParseDictionary(IDictionary<string, object?> value) => new AddSubnetRequest(
        (string)value["cidr"]!,
        value.Value("gateway") as string,
        value.Value("dnsServers") is IEnumerable<object?> dns ? dns.Select(x => x?.ToString() ?? "").ToList() : null,
        value.Value("allocationPools") is IEnumerable<object?> pools ? pools.OfType<AddressRange>().ToList() : null,
        value.Value("reservedRanges") is IEnumerable<object?> reserved ? reserved.OfType<AddressRange>().ToList() : null,
        value.Value("dhcpEnabled") as bool? ?? true);
}

public sealed record CreateSecurityGroupInput(string Name, string Description, string? CommandId);

public sealed class CreateSecurityGroupInputType : InputObjectGraphType<CreateSecurityGroupInput>
{
    public CreateSecurityGroupInputType()
    {
        Name = "CreateSecurityGroupInput";
        Field<NonNullGraphType<StringGraphType>>("name").Description("Letters, digits, '.', '_' and '-'; up to 64; unique among security groups.");
        Field<StringGraphType>("description");
        Field<IdGraphType>("commandId").Description("Idempotency key: repeating it returns the same group.");
    }

    public override object ParseDictionary(IDictionary<string, object?> value) => new CreateSecurityGroupInput(
        (string)value["name"]!, value.Value("description") as string ?? "", CreateStoragePoolInputType.Optional(value, "commandId"));
}

public sealed class SecurityRuleInputType : InputObjectGraphType<AddSecurityRuleRequest>
{
    public SecurityRuleInputType()
    {
        Name = "SecurityRuleInput";
        Description = "An allow rule. Give remoteCidr or remoteGroupId, not both; neither means anyone.";
        Field<NonNullGraphType<RuleDirectionType>>("direction");
        Field<NonNullGraphType<RuleProtocolType>>("protocol");
        Field<EtherTypeType>("etherType").Description("Default: the remote CIDR's family (IPV6 for ICMP6), else IPV4.");
        Field<IntGraphType>("portMin").Description("TCP and UDP only: 1-65535; alone, that one port.");
        Field<IntGraphType>("portMax").Description("TCP and UDP only: not below portMin.");
        Field<StringGraphType>("remoteCidr");
        Field<IdGraphType>("remoteGroupId").Description("The ports of this security group (it may be the group itself).");
    }

    public override object ParseDictionary(IDictionary<string, object?> value) => new AddSecurityRuleRequest(
        (RuleDirection)value["direction"]!,
        (RuleProtocol)value["protocol"]!,
        value.Value("etherType") as EtherType?,
        value.Value("portMin") as int?,
        value.Value("portMax") as int?,
        value.Value("remoteCidr") as string,
        value.Value("remoteGroupId") is { } group ? RequestContext.ParseId(group.ToString(), "remoteGroupId") : null);
}
