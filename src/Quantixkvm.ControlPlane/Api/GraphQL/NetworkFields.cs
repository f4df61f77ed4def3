using GraphQL;
using GraphQL.Builders;
using GraphQL.Types;
using Marten;
using Quantixkvm.ControlPlane.Commands;
using Quantixkvm.ControlPlane.Dispatch;
using Quantixkvm.ControlPlane.ReadModels;

namespace Quantixkvm.ControlPlane.Api.GraphQL;

/// <summary>The networking part of the schema: networks (subnets, ports, realization per host), security groups, their commands and changes.</summary>
internal static class NetworkFields
{
    public static void AddQueries(ObjectGraphType query)
    {
        query.Field<NonNullGraphType<ListGraphType<NonNullGraphType<NetworkType>>>>("networks")
            .Description("Every network that is not deleted, by name.")
            .ResolveAsync(async c => await Session(c).Query<NetworkView>().Where(n => n.DeletedAt == null).OrderBy(n => n.Name).ToListAsync(c.CancellationToken));
        query.Field<NetworkType>("network")
            .Argument<NonNullGraphType<IdGraphType>>("id")
            .ResolveAsync(async c => await Session(c).LoadAsync<NetworkView>(Id(c, "id"), c.CancellationToken) is { DeletedAt: null } n ? n : null);
        query.Field<NonNullGraphType<ListGraphType<NonNullGraphType<SecurityGroupType>>>>("securityGroups")
            .Description("Every security group that is not deleted, by name.")
            .ResolveAsync(async c => await Session(c).Query<SecurityGroupView>().Where(g => g.DeletedAt == null).OrderBy(g => g.Name)
                .ToListAsync(c.CancellationToken));
        query.Field<SecurityGroupType>("securityGroup")
            .Argument<NonNullGraphType<IdGraphType>>("id")
            .ResolveAsync(async c => await Session(c).LoadAsync<SecurityGroupView>(Id(c, "id"), c.CancellationToken) is { DeletedAt: null } g ? g : null);
    }

    public static void AddMutations(ObjectGraphType mutation)
    {
        mutation.Field<NonNullGraphType<NetworkPayloadType>>("createNetwork")
            .Description("Defines a network; every ONLINE host is then asked to realize it (see Network.status). Names and bridge names are unique.")
            .Argument<NonNullGraphType<CreateNetworkInputType>>("input")
            .ResolveAsync(async c =>
            {
                var input = c.GetArgument<CreateNetworkInput>("input");
                var metadata = RequestContext.Metadata(c, input.CommandId);
                return await RunOnNetwork(c, () => Networks(c).CreateNetworkAsync(input.Request, metadata, c.CancellationToken));
            });
        OnNetwork(mutation, "updateNetwork", "Changes the MTU and/or the description; an omitted one stays as it is.",
            (n, id, m, v, c) => n.UpdateNetworkAsync(id, c.GetArgument<int?>("mtu"), c.GetArgument<string?>("description"), m, v, c.CancellationToken),
            field => field.Argument<IntGraphType>("mtu", "1280-9216.").Argument<StringGraphType>("description"), idArgument: "id");
        OnNetwork(mutation, "deleteNetwork", "Deletes a network without ports (refused while VM NICs are on it).",
            (n, id, m, v, c) => n.DeleteNetworkAsync(id, m, v, c.CancellationToken), idArgument: "id");
        OnNetwork(mutation, "addSubnet", "Adds an IPv4 or IPv6 subnet; refused when it overlaps another subnet of the network.",
            (n, id, m, v, c) => n.AddSubnetAsync(id, c.GetArgument<AddSubnetRequest>("input"), m, v, c.CancellationToken),
            field => field.Argument<NonNullGraphType<SubnetInputType>>("input"));
        OnNetwork(mutation, "removeSubnet", "Removes a subnet; refused while a port holds an address in it.",
            (n, id, m, v, c) => n.RemoveSubnetAsync(id, Id(c, "subnetId"), m, v, c.CancellationToken),
            field => field.Argument<NonNullGraphType<IdGraphType>>("subnetId"));
        OnNetwork(mutation, "setPortSecurityGroups",
            "Replaces the security groups of a port (an empty list: inbound denied, outbound allowed). Enforced on OVERLAY, BRIDGE and OVS networks.",
            (n, id, m, v, c) => n.SetPortSecurityGroupsAsync(
                id, Id(c, "portId"), c.GetArgument<List<string>>("securityGroupIds").Select(g => RequestContext.ParseId(g, "securityGroupIds")).ToList(),
                m, v, c.CancellationToken),
            field => field.Argument<NonNullGraphType<IdGraphType>>("portId")
                .Argument<NonNullGraphType<ListGraphType<NonNullGraphType<IdGraphType>>>>("securityGroupIds"));

        mutation.Field<NonNullGraphType<SecurityGroupPayloadType>>("createSecurityGroup")
            .Description("A security group; names are unique. It starts with two rules allowing all egress (IPv4 and IPv6), which can be removed.")
            .Argument<NonNullGraphType<CreateSecurityGroupInputType>>("input")
            .ResolveAsync(async c =>
            {
                var input = c.GetArgument<CreateSecurityGroupInput>("input");
                var metadata = RequestContext.Metadata(c, input.CommandId);
                return await RunOnGroup(c, () => Networks(c).CreateSecurityGroupAsync(input.Name, input.Description, metadata, c.CancellationToken));
            });
        OnGroup(mutation, "addSecurityGroupRule", "Adds an allow rule; refused when the group already has the same rule.",
            (n, id, m, v, c) => n.AddSecurityRuleAsync(id, c.GetArgument<AddSecurityRuleRequest>("input"), m, v, c.CancellationToken),
            field => field.Argument<NonNullGraphType<SecurityRuleInputType>>("input"));
        OnGroup(mutation, "removeSecurityGroupRule", "Removes a rule.",
            (n, id, m, v, c) => n.RemoveSecurityRuleAsync(id, Id(c, "ruleId"), m, v, c.CancellationToken),
            field => field.Argument<NonNullGraphType<IdGraphType>>("ruleId"));
        OnGroup(mutation, "deleteSecurityGroup", "Deletes a group no port uses and no rule of another group names.",
            (n, id, m, v, c) => n.DeleteSecurityGroupAsync(id, m, v, c.CancellationToken), idArgument: "id");
    }

    public static void AddSubscriptions(ObjectGraphType subscription)
    {
        subscription.Field<NonNullGraphType<NetworkType>>("networkChanged")
            .Description("Every recorded change of one network, or of all when id is omitted: definition, subnets, ports, hosts' reports, deletion.")
            .Argument<IdGraphType>("id")
            .ResolveStream(c => Filter(c, c.RequestServices!.GetRequiredService<ChangeHub>().Networks, n => n.Id));
        subscription.Field<NonNullGraphType<SecurityGroupType>>("securityGroupChanged")
            .Description("Every recorded change of one security group, or of all when id is omitted: rules, deletion.")
            .Argument<IdGraphType>("id")
            .ResolveStream(c => Filter(c, c.RequestServices!.GetRequiredService<ChangeHub>().SecurityGroups, g => g.Id));
    }

    private delegate Task<CommandResult> TargetCommand(
        NetworkCommands networks, Guid id, CommandMetadata metadata, long? expectedVersion, IResolveFieldContext c);

    /// <summary>A command on an existing network (argument networkId, or id for a delete): answers with the network after it.</summary>
    private static void OnNetwork(
        ObjectGraphType mutation, string name, string description, TargetCommand command, Action<FieldBuilder<object?, object>>? extra = null,
        string idArgument = "networkId") =>
        OnTarget<NetworkPayloadType>(mutation, name, description, idArgument, "network", command, extra, RunOnNetwork);

    /// <summary>A command on an existing security group (argument securityGroupId, or id for a delete): answers with the group after it.</summary>
    private static void OnGroup(
        ObjectGraphType mutation, string name, string description, TargetCommand command, Action<FieldBuilder<object?, object>>? extra = null,
        string idArgument = "securityGroupId") =>
        OnTarget<SecurityGroupPayloadType>(mutation, name, description, idArgument, "security group", command, extra, RunOnGroup);

    private static void OnTarget<TPayload>(
        ObjectGraphType mutation, string name, string description, string idArgument, string target, TargetCommand command,
        Action<FieldBuilder<object?, object>>? extra, Func<IResolveFieldContext, Func<Task<CommandResult>>, Task<object>> run)
        where TPayload : IGraphType
    {
        var field = mutation.Field<NonNullGraphType<TPayload>>(name).Description(description).Argument<NonNullGraphType<IdGraphType>>(idArgument);
        extra?.Invoke(field);
        field.Argument<IntGraphType>("expectedVersion", $"Act only if the {target} is still at this version (CONCURRENCY_CONFLICT otherwise).")
            .Argument<IdGraphType>("commandId", "Idempotency key: repeating it changes nothing more and answers the same.")
            .ResolveAsync(async c =>
            {
                var id = Id(c, idArgument);
                var expected = c.GetArgument<int?>("expectedVersion");
                if (expected < 0)
                {
                    throw ApiError.Validation($"expectedVersion must not be negative, got {expected}");
                }

                var metadata = RequestContext.Metadata(c, c.GetArgument<string?>("commandId"));
                return await run(c, () => command(Networks(c), id, metadata, expected, c));
            });
    }

    private static async Task<object> RunOnNetwork(IResolveFieldContext c, Func<Task<CommandResult>> command)
    {
        var result = await ApiError.GuardAsync(command);
        var network = await Session(c).LoadAsync<NetworkView>(result.StreamId, c.CancellationToken)
            ?? throw new InvalidOperationException($"network {result.StreamId} was recorded but is not in the read model");
        return new NetworkPayload(network, result.Version);
    }

    private static async Task<object> RunOnGroup(IResolveFieldContext c, Func<Task<CommandResult>> command)
    {
        var result = await ApiError.GuardAsync(command);
        var group = await Session(c).LoadAsync<SecurityGroupView>(result.StreamId, c.CancellationToken)
            ?? throw new InvalidOperationException($"security group {result.StreamId} was recorded but is not in the read model");
        return new SecurityGroupPayload(group, result.Version);
    }

    private static IObservable<T> Filter<T>(IResolveFieldContext c, IObservable<T> source, Func<T, Guid> id) =>
        c.GetArgument<string?>("id") is { } raw && RequestContext.ParseId(raw, "id") is var wanted ? source.Where(x => id(x) == wanted) : source;

    private static Guid Id(IResolveFieldContext c, string argument) => RequestContext.ParseId(c.GetArgument<string>(argument), argument);

    private static IQuerySession Session(IResolveFieldContext c) => c.RequestServices!.GetRequiredService<IQuerySession>();

    private static NetworkCommands Networks(IResolveFieldContext c) => c.RequestServices!.GetRequiredService<NetworkCommands>();
}
