using Marten;
using Quantixkvm.ControlPlane.Commands;
using Quantixkvm.ControlPlane.ReadModels;
using Quantixkvm.Domain;
using Quantixkvm.Domain.Clusters;
using Quantixkvm.Domain.Hosts;

namespace Quantixkvm.ControlPlane.Fleet;

/// <summary>The host and cluster command edge: cross-aggregate facts are read here and handed to the pure deciders.</summary>
public sealed class FleetCommands(AggregateCommands commands, IQuerySession session)
{
    public Task<CommandResult> HostAsync(Guid hostId, Func<CommandContext, HostCommand> build, CommandMetadata metadata, long? expectedVersion,
        CancellationToken cancellationToken) =>
        commands.HandleAsync<HostState, HostEvent>(
            hostId, HostState.Initial, HostDecider.Evolve, (state, ctx) => HostDecider.Decide(build(ctx), state),
            metadata, expectedVersion, cancellationToken);

    public Task<CommandResult> ClusterAsync(Guid clusterId, Func<CommandContext, ClusterCommand> build, CommandMetadata metadata, long? expectedVersion,
        CancellationToken cancellationToken) =>
        commands.HandleAsync<ClusterState, ClusterEvent>(
            clusterId, ClusterState.Initial, ClusterDecider.Evolve, (state, ctx) => ClusterDecider.Decide(build(ctx), state),
            metadata, expectedVersion, cancellationToken);

    public Task<CommandResult> CreateClusterAsync(string name, ClusterSettings settings, CommandMetadata metadata, CancellationToken cancellationToken)
    {
        var clusterId = ClusterDecider.ClusterIdFor(metadata.CommandId);
        return ClusterAsync(clusterId, ctx => new CreateCluster(ctx, clusterId, name, settings), metadata, null, cancellationToken);
    }

    public async Task<CommandResult> AssignHostAsync(Guid hostId, Guid? clusterId, CommandMetadata metadata, long? expectedVersion,
        CancellationToken cancellationToken)
    {
        if (clusterId is { } id && await session.LoadAsync<ClusterView>(id, cancellationToken) is not { DeletedAt: null })
        {
            throw new CommandRejectedException(new Rejection(RejectionCode.NotFound, $"cluster {id} does not exist", Command: "assign-host-to-cluster"));
        }

        return await HostAsync(hostId, ctx => new AssignHostToCluster(ctx, clusterId), metadata, expectedVersion, cancellationToken);
    }

    public async Task<CommandResult> DeleteClusterAsync(Guid clusterId, CommandMetadata metadata, long? expectedVersion, CancellationToken cancellationToken)
    {
        var members = await session.Query<HostView>().CountAsync(h => h.ClusterId == clusterId, cancellationToken);
        return await ClusterAsync(clusterId, ctx => new DeleteCluster(ctx, members), metadata, expectedVersion, cancellationToken);
    }

    public async Task<CommandResult> DecommissionAsync(Guid hostId, CommandMetadata metadata, long? expectedVersion, CancellationToken cancellationToken)
    {
        var vms = await session.Query<VmView>().CountAsync(v => v.HostId == hostId && v.DeletedAt == null, cancellationToken);
        return await HostAsync(hostId, ctx => new DecommissionHost(ctx, vms), metadata, expectedVersion, cancellationToken);
    }

    /// <summary>Rules name VMs and hosts by id: each must exist, so a typo is refused instead of silently matching nothing.</summary>
    public async Task<CommandResult> AddRuleAsync(Guid clusterId, Domain.Placement.AffinityRule rule, CommandMetadata metadata, CancellationToken cancellationToken)
    {
        foreach (var vmId in rule.VmIds)
        {
            if (await session.LoadAsync<VmView>(vmId, cancellationToken) is not { DeletedAt: null })
            {
                throw new CommandRejectedException(new Rejection(RejectionCode.NotFound, $"VM {vmId} does not exist", Command: "add-affinity-rule"));
            }
        }

        foreach (var hostId in rule.HostIds)
        {
            if (await session.LoadAsync<HostView>(hostId, cancellationToken) is null)
            {
                throw new CommandRejectedException(new Rejection(RejectionCode.NotFound, $"host {hostId} is not registered", Command: "add-affinity-rule"));
            }
        }

        return await ClusterAsync(clusterId, ctx => new AddAffinityRule(ctx, rule), metadata, null, cancellationToken);
    }
}
