using Quantixkvm.Testing;

namespace Quantixkvm.EndToEnd.Tests;

/// <summary>The networking steps the end-to-end tests share, through the GraphQL API as a user would take them.</summary>
internal static class NetworkSteps
{
    /// <summary>Control plane settings that let a test see network changes reach the hosts within a second.</summary>
    public static IEnumerable<KeyValuePair<string, string>> FastReconciliation =>
    [
        new("ControlPlane__Networking__ReconcileSeconds", "0.5"),
        new("ControlPlane__Networking__PortJanitorSeconds", "0.5"),
        new("ControlPlane__Networking__PortGraceSeconds", "2"),
    ];

    /// <summary>An OVERLAY network (its name made unique) with one subnet; returns its id.</summary>
    public static async Task<string> OverlayAsync(this GraphQLClient api, string name, string cidr)
    {
        var networkId = (await api.DataAsync(
            "mutation($input: CreateNetworkInput!) { createNetwork(input: $input) { network { id } } }",
            new { input = new { name = Unique(name), kind = "OVERLAY" } }))["createNetwork"]!["network"]!["id"]!.GetValue<string>();
        await api.DataAsync(
            "mutation($id: ID!, $input: SubnetInput!) { addSubnet(networkId: $id, input: $input) { version } }",
            new { id = networkId, input = new { cidr } });
        return networkId;
    }

    /// <summary>A security group (its name made unique); returns its id.</summary>
    public static async Task<string> GroupAsync(this GraphQLClient api, string name) =>
        (await api.DataAsync("mutation($input: CreateSecurityGroupInput!) { createSecurityGroup(input: $input) { securityGroup { id } } }",
            new { input = new { name = Unique(name) } }))["createSecurityGroup"]!["securityGroup"]!["id"]!.GetValue<string>();

    /// <summary>Adds the rule and returns its id (the group's last rule).</summary>
    public static async Task<string> RuleAsync(this GraphQLClient api, string groupId, object rule) =>
        (await api.DataAsync(
            "mutation($g: ID!, $input: SecurityRuleInput!) { addSecurityGroupRule(securityGroupId: $g, input: $input) { securityGroup { rules { id } } } }",
            new { g = groupId, input = rule }))["addSecurityGroupRule"]!["securityGroup"]!["rules"]!.AsArray()[^1]!["id"]!.GetValue<string>();

    /// <summary>Waits until every ONLINE host holds the network's current generation (its status READY).</summary>
    public static Task NetworkReadyAsync(this Platform platform, string networkId, TimeSpan patience) =>
        Platform.WaitAsync(
            async () => (await platform.Api.DataAsync("query($id: ID!) { network(id: $id) { status } }", new { id = networkId }))["network"]!["status"]!
                .GetValue<string>() == "READY",
            patience, $"network {networkId} to be READY", platform.Agent);

    private static string Unique(string name) => $"{name}-{Guid.NewGuid():N}"[..(name.Length + 7)];
}
