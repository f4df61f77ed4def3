using System.Text.Json.Nodes;
using Quantixkvm.ControlPlane.Tests.Support;
using Quantixkvm.Testing;

namespace Quantixkvm.ControlPlane.Tests.Networks;

/// <summary>GraphQL calls on networks and security groups that the network tests repeat.</summary>
public static class NetworkApi
{
    public const string SubnetFields = "id cidr gateway dnsServers allocationPools { start end } reservedRanges { start end } dhcpEnabled ipVersion";

    public const string RuleFields = "id direction protocol etherType portMin portMax remoteCidr remoteGroupId";

    public const string GroupFields = $"id name description version createdAt deletedAt rules {{ {RuleFields} }}";

    public const string NetworkFields =
        $"id name kind bridgeName uplink vlan mtu description generation status version createdAt deletedAt subnets {{ {SubnetFields} }} "
        + "ports { id vmId mac addresses { subnetId address } securityGroups { id name } } "
        + "hosts { hostId hostName realizedGeneration error summary upToDate reportedAt }";

    public const string NetworkPayload = $"network {{ {NetworkFields} }} version";

    public const string GroupPayload = $"securityGroup {{ {GroupFields} }} version";

    public const string CreateNetwork = $"mutation($input: CreateNetworkInput!) {{ createNetwork(input: $input) {{ {NetworkPayload} }} }}";

    public const string UpdateNetwork =
        "mutation($id: ID!, $mtu: Int, $description: String, $expectedVersion: Int, $commandId: ID) { "
        + $"updateNetwork(id: $id, mtu: $mtu, description: $description, expectedVersion: $expectedVersion, commandId: $commandId) {{ {NetworkPayload} }} }}";

    public const string DeleteNetwork =
        $"mutation($id: ID!, $expectedVersion: Int) {{ deleteNetwork(id: $id, expectedVersion: $expectedVersion) {{ {NetworkPayload} }} }}";

    public const string AddSubnet =
        "mutation($networkId: ID!, $input: SubnetInput!, $expectedVersion: Int, $commandId: ID) { "
        + $"addSubnet(networkId: $networkId, input: $input, expectedVersion: $expectedVersion, commandId: $commandId) {{ {NetworkPayload} }} }}";

    public const string RemoveSubnet =
        $"mutation($networkId: ID!, $subnetId: ID!) {{ removeSubnet(networkId: $networkId, subnetId: $subnetId) {{ {NetworkPayload} }} }}";

    public const string SetPortSecurityGroups =
        "mutation($networkId: ID!, $portId: ID!, $securityGroupIds: [ID!]!) { "
        + $"setPortSecurityGroups(networkId: $networkId, portId: $portId, securityGroupIds: $securityGroupIds) {{ {NetworkPayload} }} }}";

    public const string CreateGroup = $"mutation($input: CreateSecurityGroupInput!) {{ createSecurityGroup(input: $input) {{ {GroupPayload} }} }}";

    public const string AddRule =
        "mutation($securityGroupId: ID!, $input: SecurityRuleInput!, $expectedVersion: Int, $commandId: ID) { "
        + $"addSecurityGroupRule(securityGroupId: $securityGroupId, input: $input, expectedVersion: $expectedVersion, commandId: $commandId) {{ {GroupPayload} }} }}";

    public const string RemoveRule =
        $"mutation($securityGroupId: ID!, $ruleId: ID!) {{ removeSecurityGroupRule(securityGroupId: $securityGroupId, ruleId: $ruleId) {{ {GroupPayload} }} }}";

    public const string DeleteGroup = $"mutation($id: ID!) {{ deleteSecurityGroup(id: $id) {{ {GroupPayload} }} }}";

    /// <summary>A name no other test uses (networks and groups of a test class share one database schema).</summary>
    public static string Unique(string prefix) => $"{prefix}-{Guid.NewGuid():N}"[..(prefix.Length + 9)];

    /// <summary>A bridge name no other test uses, within Linux's 15 characters.</summary>
    public static string UniqueBridge() => $"qb{Guid.NewGuid():N}"[..12];

    public static async Task<JsonNode> CreateNetworkAsync(this GraphQLClient api, object input) =>
        (await api.DataAsync(CreateNetwork, new { input }))["createNetwork"]!;

    /// <summary>An OVERLAY network; returns its payload.</summary>
    public static Task<JsonNode> CreateOverlayAsync(this GraphQLClient api, string name, string? commandId = null) =>
        api.CreateNetworkAsync(new { name, kind = "OVERLAY", commandId });

    public static async Task<JsonNode> AddSubnetAsync(this GraphQLClient api, string networkId, object input, string? commandId = null) =>
        (await api.DataAsync(AddSubnet, new { networkId, input, commandId }))["addSubnet"]!;

    public static async Task<JsonNode?> NetworkAsync(this GraphQLClient api, string id) =>
        (await api.DataAsync($"query($id: ID!) {{ network(id: $id) {{ {NetworkFields} }} }}", new { id }))["network"];

    public static async Task<JsonArray> NetworksAsync(this GraphQLClient api) =>
        (await api.DataAsync($"{{ networks {{ {NetworkFields} }} }}"))["networks"]!.AsArray();

    public static async Task<JsonNode> CreateGroupAsync(this GraphQLClient api, string name, string? description = null) =>
        (await api.DataAsync(CreateGroup, new { input = new { name, description } }))["createSecurityGroup"]!;

    public static async Task<JsonNode> AddRuleAsync(this GraphQLClient api, string securityGroupId, object input) =>
        (await api.DataAsync(AddRule, new { securityGroupId, input }))["addSecurityGroupRule"]!;

    public static async Task<JsonNode?> GroupAsync(this GraphQLClient api, string id) =>
        (await api.DataAsync($"query($id: ID!) {{ securityGroup(id: $id) {{ {GroupFields} }} }}", new { id }))["securityGroup"];

    public static async Task<JsonArray> GroupsAsync(this GraphQLClient api) =>
        (await api.DataAsync($"{{ securityGroups {{ {GroupFields} }} }}"))["securityGroups"]!.AsArray();

    /// <summary>The value at a dotted path whose parts may index lists ("subnets.0.cidr").</summary>
    public static JsonNode? At(this JsonNode node, string path)
    {
        JsonNode? current = node;
        foreach (var part in path.Split('.'))
        {
            current = current is JsonArray list && int.TryParse(part, out var index) ? list[index] : current?[part];
        }

        return current;
    }

    public static string Text(this JsonNode node, string path) =>
        node.At(path)?.GetValue<string>() ?? throw new InvalidOperationException($"{path} is missing in {node.ToJsonString()}");

    public static int Int(this JsonNode node, string path) =>
        node.At(path)?.GetValue<int>() ?? throw new InvalidOperationException($"{path} is missing in {node.ToJsonString()}");

    public static JsonArray List(this JsonNode node, string path) =>
        node.At(path) as JsonArray ?? throw new InvalidOperationException($"{path} is not a list in {node.ToJsonString()}");

    /// <summary>The refusal's code and message; fails when the answer is not an error.</summary>
    public static async Task<(string Code, string Message)> RefusalAsync(this GraphQLClient api, string query, object variables)
    {
        var (code, error) = await api.ErrorAsync(query, variables);
        return (code, error.Str("message"));
    }
}
