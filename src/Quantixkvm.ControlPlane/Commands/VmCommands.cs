using Marten;
using Microsoft.Extensions.Options;
using Quantixkvm.ControlPlane.Configuration;
using Quantixkvm.ControlPlane.ReadModels;
using Quantixkvm.Domain;
using Quantixkvm.Domain.Placement;
using Quantixkvm.Domain.Vms;

namespace Quantixkvm.ControlPlane.Commands;

/// <summary>What a client asks for when creating a VM.</summary>
public sealed record CreateVmRequest(string Name, int Vcpus, int MemoryMiB, Guid? HostId, bool Start);

/// <summary>No host can take the VM; carries placement's per-host reasons.</summary>
public sealed class NoHostAvailableException(PlacementResult placement)
    : Exception($"no host can take the VM: {placement.Explain()}")
{
    public PlacementResult Placement { get; } = placement;
}

/// <summary>The VM command edge: placement for new VMs, then the decider through the one command path.</summary>
public sealed class VmCommands(
    AggregateCommands commands, HostDirectory hosts, IQuerySession session, IDocumentStore store, IOptions<ControlPlaneOptions> options)
{
    public async Task<CommandResult> CreateAsync(CreateVmRequest request, CommandMetadata metadata, CancellationToken cancellationToken)
    {
        // The decider checks these too; checking first keeps bad input from taking the placement lock.
        var problems = VmLimits.Check(request.Name, request.Vcpus, request.MemoryMiB);
        if (problems.Count > 0)
        {
            throw new CommandRejectedException(new Rejection(RejectionCode.Validation, string.Join("; ", problems), Command: "create"));
        }

        var vmId = VmDecider.VmIdForCreate(metadata.CommandId);
        // A repeated create finds its VM already placed; placement runs only for a new one, under the
        // placement lock until the VM is appended, so the allocations it read still hold when it lands.
        var existing = await session.LoadAsync<VmView>(vmId, cancellationToken);
        await using var placementLock = existing is null ? await PlacementLock.AcquireAsync(store, cancellationToken) : null;
        var hostId = existing?.HostId ?? await PlaceAsync(request, cancellationToken);
        return await commands.HandleAsync<VmState, VmEvent>(
            vmId, VmState.Initial, VmDecider.Evolve,
            (state, context) => VmDecider.Decide(
                new CreateVm(context, options.Value.Timeouts, vmId, request.Name, request.Vcpus, request.MemoryMiB, hostId, request.Start),
                state),
            metadata, expectedVersion: null, cancellationToken);
    }

    /// <summary>A lifecycle command from a client (start, stop, …), or a report from a host turned into a command.</summary>
    public Task<CommandResult> HandleAsync(
        Guid vmId, Func<CommandContext, OperationTimeouts, VmCommand> build, CommandMetadata metadata, long? expectedVersion,
        CancellationToken cancellationToken) =>
        commands.HandleAsync<VmState, VmEvent>(
            vmId, VmState.Initial, VmDecider.Evolve,
            (state, context) => VmDecider.Decide(build(context, options.Value.Timeouts), state),
            metadata, expectedVersion, cancellationToken);

    private async Task<Guid> PlaceAsync(CreateVmRequest request, CancellationToken cancellationToken)
    {
        if (request.HostId is { } requested && await hosts.FindAsync(requested, cancellationToken) is null)
        {
            throw new CommandRejectedException(new Rejection(RejectionCode.NotFound, $"host {requested} is not registered", Command: "create"));
        }

        var candidates = await hosts.CandidatesAsync(cancellationToken);
        var placement = HostPlacement.Place(new PlacementRequest(request.Vcpus, request.MemoryMiB, request.HostId), candidates);
        return placement.HostId ?? throw new NoHostAvailableException(placement);
    }
}
