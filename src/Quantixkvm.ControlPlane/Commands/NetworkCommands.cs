using Marten;
using Quantixkvm.ControlPlane.ReadModels;
using Quantixkvm.Domain;
using Quantixkvm.Domain.Networks;
using Quantixkvm.Domain.Vms;

namespace Quantixkvm.ControlPlane.Commands;

public sealed record CreateNetworkRequest(
    string Name, NetworkKind Kind, string? BridgeName = null, string? Uplink = null, int? Vlan = null, int? Mtu = null, string Description = "");

public sealed record AddSubnetRequest(
    string Cidr, string? Gateway = null, IReadOnlyList<string>? DnsServers = null, IReadOnlyList<AddressRange>? AllocationPools = null,
    IReadOnlyList<AddressRange>? ReservedRanges = null, bool DhcpEnabled = true);

public sealed record AddSecurityRuleRequest(
    RuleDirection Direction, RuleProtocol Protocol, EtherType? EtherType = null, int? PortMin = null, int? PortMax = null, string? RemoteCidr = null,
    Guid? RemoteGroupId = null);

/// <summary>A NIC as a client asks for it: the network, and optionally its MAC, fixed addresses, model and security groups.</summary>
public sealed record NicRequest(
    Guid NetworkId, string? Mac = null, IReadOnlyList<string>? FixedAddresses = null, NicModel Model = NicModel.Virtio,
    IReadOnlyList<Guid>? SecurityGroupIds = null);

/// <summary>
/// The network and security group command edge. Facts that span aggregates (a name or bridge free on the platform, a
/// security group that exists, how many ports use a group) are read under advisory locks and passed to the pure deciders.
/// Addresses and MACs need no lock: they are decided on the network's own stream version (ADR 13).
/// </summary>
public sealed class NetworkCommands(AggregateCommands commands, IDocumentStore store)
{
    /// <summary>Serializes creates, so two networks (or groups) cannot both pass the "name is free" check.</summary>
    private static readonly Guid NamesLock = DeterministicId.From("lock", "network-names");

    public async Task<CommandResult> CreateNetworkAsync(CreateNetworkRequest request, CommandMetadata metadata, CancellationToken cancellationToken)
    {
        var networkId = NetworkDecider.NetworkIdForCreate(metadata.CommandId);
        await using var held = await AdvisoryLock.ForAsync(store, NamesLock, cancellationToken);
        await using var session = store.QuerySession();
        if (await session.LoadAsync<NetworkView>(networkId, cancellationToken) is null)
        {
            var live = await session.Query<NetworkView>().Where(n => n.DeletedAt == null).ToListAsync(cancellationToken);
            if (live.FirstOrDefault(n => n.Name == request.Name) is { } sameName)
            {
                throw Rejected(RejectionCode.Conflict, $"a network named '{request.Name}' already exists ({sameName.Id})", "create-network");
            }

            if (request.Kind != NetworkKind.Overlay && request.BridgeName is { } bridge
                && live.FirstOrDefault(n => n.Kind != NetworkKind.Overlay && n.BridgeName == bridge) is { } sameBridge)
            {
                throw Rejected(RejectionCode.Conflict, $"bridge '{bridge}' already serves network '{sameBridge.Name}'", "create-network");
            }
        }

        return await Network(networkId, ctx => new CreateNetwork(
            ctx, networkId, request.Name, request.Kind, request.BridgeName, request.Uplink, request.Vlan, request.Mtu, request.Description),
            metadata, null, cancellationToken);
    }

    public Task<CommandResult> UpdateNetworkAsync(
        Guid networkId, int? mtu, string? description, CommandMetadata metadata, long? expectedVersion, CancellationToken cancellationToken) =>
        Network(networkId, ctx => new UpdateNetwork(ctx, mtu, description), metadata, expectedVersion, cancellationToken);

    public Task<CommandResult> AddSubnetAsync(
        Guid networkId, AddSubnetRequest request, CommandMetadata metadata, long? expectedVersion, CancellationToken cancellationToken) =>
        Network(networkId, ctx => new AddSubnet(
            ctx, request.Cidr, request.Gateway, request.DnsServers, request.AllocationPools, request.ReservedRanges, request.DhcpEnabled),
            metadata, expectedVersion, cancellationToken);

    public Task<CommandResult> RemoveSubnetAsync(
        Guid networkId, Guid subnetId, CommandMetadata metadata, long? expectedVersion, CancellationToken cancellationToken) =>
        Network(networkId, ctx => new RemoveSubnet(ctx, subnetId), metadata, expectedVersion, cancellationToken);

    public Task<CommandResult> DeleteNetworkAsync(Guid networkId, CommandMetadata metadata, long? expectedVersion, CancellationToken cancellationToken) =>
        Network(networkId, ctx => new DeleteNetwork(ctx), metadata, expectedVersion, cancellationToken);

    /// <summary>Allocates the port of a VM's NIC; <paramref name="key"/> (the NIC's index at create, the command id at attach) makes a repeat find it.</summary>
    public async Task<VmNic> AllocatePortAsync(Guid vmId, string key, NicRequest request, CommandMetadata metadata, string command, CancellationToken cancellationToken)
    {
        await using var session = store.QuerySession();
        if (await session.LoadAsync<NetworkView>(request.NetworkId, cancellationToken) is not { DeletedAt: null })
        {
            throw new CommandRejectedException(new Rejection(RejectionCode.NotFound, $"network {request.NetworkId} does not exist", Command: command));
        }

        var portId = NetworkDecider.PortIdFor(vmId, key);
        await AddPortAsync(request.NetworkId, portId, vmId, request.Mac, request.FixedAddresses, request.SecurityGroupIds ?? [],
            metadata with { CommandId = $"{metadata.CommandId}:port:{key}" }, cancellationToken);
        var network = await session.LoadAsync<NetworkView>(request.NetworkId, cancellationToken);
        var port = network?.Ports.FirstOrDefault(p => p.PortId == portId)
            ?? throw new CommandRejectedException(new Rejection(RejectionCode.Conflict, $"port {portId} was released while it was being attached", Command: command));
        return new VmNic(portId, request.NetworkId, port.Mac, request.Model, [.. port.Addresses.Select(a => a.Address)]);
    }

    /// <summary>
    /// A port for a VM's NIC: the network allocates its MAC and addresses. The groups are checked (and held) first. The
    /// network's lock queues concurrent allocations, which its stream version alone would turn into retries that can run out.
    /// </summary>
    public async Task<CommandResult> AddPortAsync(
        Guid networkId, Guid portId, Guid vmId, string? mac, IReadOnlyList<string>? fixedAddresses, IReadOnlyList<Guid> securityGroupIds,
        CommandMetadata metadata, CancellationToken cancellationToken)
    {
        await using var groups = await HoldGroupsAsync(securityGroupIds, "attach-nic", cancellationToken);
        await using var network = await AdvisoryLock.ForAsync(store, networkId, cancellationToken);
        return await Network(networkId, ctx => new AddPort(ctx, portId, vmId, mac, fixedAddresses, securityGroupIds), metadata, null, cancellationToken);
    }

    public Task<CommandResult> RemovePortAsync(Guid networkId, Guid portId, CommandMetadata metadata, CancellationToken cancellationToken) =>
        Network(networkId, ctx => new RemovePort(ctx, portId), metadata, null, cancellationToken);

    public async Task<CommandResult> SetPortSecurityGroupsAsync(
        Guid networkId, Guid portId, IReadOnlyList<Guid> securityGroupIds, CommandMetadata metadata, long? expectedVersion,
        CancellationToken cancellationToken)
    {
        await using var held = await HoldGroupsAsync(securityGroupIds, "set-port-security-groups", cancellationToken);
        return await Network(networkId, ctx => new SetPortSecurityGroups(ctx, portId, securityGroupIds), metadata, expectedVersion, cancellationToken);
    }

    /// <summary>A host's report on a network; the decider records it only when it is news.</summary>
    public Task<CommandResult> RecordRealizationAsync(
        Guid networkId, Guid hostId, long generation, string? error, string summary, CommandMetadata metadata, CancellationToken cancellationToken) =>
        Network(networkId, ctx => new RecordNetworkRealization(ctx, hostId, generation, error, summary), metadata, null, cancellationToken);

    public async Task<CommandResult> CreateSecurityGroupAsync(string name, string description, CommandMetadata metadata, CancellationToken cancellationToken)
    {
        var groupId = SecurityGroupDecider.GroupIdForCreate(metadata.CommandId);
        await using var held = await AdvisoryLock.ForAsync(store, NamesLock, cancellationToken);
        await using var session = store.QuerySession();
        if (await session.LoadAsync<SecurityGroupView>(groupId, cancellationToken) is null
            && await session.Query<SecurityGroupView>().AnyAsync(g => g.DeletedAt == null && g.Name == name, cancellationToken))
        {
            throw Rejected(RejectionCode.Conflict, $"a security group named '{name}' already exists", "create-security-group");
        }

        var created = await Group(groupId, ctx => new CreateSecurityGroup(ctx, groupId, name, description), metadata, null, cancellationToken);

        // As in Neutron: a new group lets its ports send anything; an operator who wants egress filtered removes these rules.
        foreach (var etherType in new[] { EtherType.Ipv4, EtherType.Ipv6 })
        {
            created = await Group(groupId, ctx => new AddSecurityGroupRule(ctx, RuleDirection.Egress, RuleProtocol.Any, etherType),
                metadata with { CommandId = $"{metadata.CommandId}:egress-{etherType.ToString().ToLowerInvariant()}" }, null, cancellationToken);
        }

        return created;
    }

    public async Task<CommandResult> AddSecurityRuleAsync(
        Guid groupId, AddSecurityRuleRequest rule, CommandMetadata metadata, long? expectedVersion, CancellationToken cancellationToken)
    {
        await using var held = await HoldGroupsAsync(rule.RemoteGroupId is { } remote && remote != groupId ? [remote] : [], "add-security-rule",
            cancellationToken);
        return await Group(groupId, ctx => new AddSecurityGroupRule(
            ctx, rule.Direction, rule.Protocol, rule.EtherType, rule.PortMin, rule.PortMax, rule.RemoteCidr, rule.RemoteGroupId),
            metadata, expectedVersion, cancellationToken);
    }

    public Task<CommandResult> RemoveSecurityRuleAsync(
        Guid groupId, Guid ruleId, CommandMetadata metadata, long? expectedVersion, CancellationToken cancellationToken) =>
        Group(groupId, ctx => new RemoveSecurityGroupRule(ctx, ruleId), metadata, expectedVersion, cancellationToken);

    /// <summary>Refused while ports use the group, or other groups' rules name it; counted under the group's lock.</summary>
    public async Task<CommandResult> DeleteSecurityGroupAsync(Guid groupId, CommandMetadata metadata, long? expectedVersion, CancellationToken cancellationToken)
    {
        await using var held = await AdvisoryLock.ForAsync(store, groupId, cancellationToken);
        await using var session = store.QuerySession();
        var networks = await session.Query<NetworkView>().Where(n => n.DeletedAt == null).ToListAsync(cancellationToken);
        var ports = networks.SelectMany(n => n.Ports).Count(p => p.SecurityGroupIds.Contains(groupId));
        var groups = await session.Query<SecurityGroupView>().Where(g => g.DeletedAt == null && g.Id != groupId).ToListAsync(cancellationToken);
        if (groups.FirstOrDefault(g => g.Rules.Any(r => r.RemoteGroupId == groupId)) is { } naming)
        {
            throw Rejected(RejectionCode.InvalidState, $"security group '{naming.Name}' has a rule naming this group as its remote; remove it first",
                "delete-security-group");
        }

        return await Group(groupId, ctx => new DeleteSecurityGroup(ctx, ports), metadata, expectedVersion, cancellationToken);
    }

    /// <summary>
    /// Checks that every group exists and holds their locks (in id order, so two commands cannot deadlock) until disposed,
    /// so none is deleted between the check and the append.
    /// </summary>
    private async Task<IAsyncDisposable> HoldGroupsAsync(IReadOnlyList<Guid> groupIds, string command, CancellationToken cancellationToken)
    {
        var locks = new HeldLocks();
        try
        {
            await using var session = store.QuerySession();
            foreach (var groupId in groupIds.Distinct().Order())
            {
                locks.Add(await AdvisoryLock.ForAsync(store, groupId, cancellationToken));
                if (await session.LoadAsync<SecurityGroupView>(groupId, cancellationToken) is not { DeletedAt: null })
                {
                    throw Rejected(RejectionCode.NotFound, $"security group {groupId} does not exist", command);
                }
            }

            return locks;
        }
        catch
        {
            await locks.DisposeAsync();
            throw;
        }
    }

    private Task<CommandResult> Network(
        Guid networkId, Func<CommandContext, NetworkCommand> build, CommandMetadata metadata, long? expectedVersion, CancellationToken cancellationToken) =>
        commands.HandleAsync<NetworkState, NetworkEvent>(
            networkId, NetworkState.Initial, NetworkDecider.Evolve, (state, ctx) => NetworkDecider.Decide(build(ctx), state), metadata, expectedVersion,
            cancellationToken);

    private Task<CommandResult> Group(
        Guid groupId, Func<CommandContext, SecurityGroupCommand> build, CommandMetadata metadata, long? expectedVersion, CancellationToken cancellationToken) =>
        commands.HandleAsync<SecurityGroupState, SecurityGroupEvent>(
            groupId, SecurityGroupState.Initial, SecurityGroupDecider.Evolve, (state, ctx) => SecurityGroupDecider.Decide(build(ctx), state), metadata,
            expectedVersion, cancellationToken);

    private static CommandRejectedException Rejected(RejectionCode code, string message, string command) =>
        new(new Rejection(code, message, Command: command));
}
