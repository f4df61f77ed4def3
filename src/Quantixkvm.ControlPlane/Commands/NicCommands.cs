using Marten;
using Quantixkvm.ControlPlane.ReadModels;
using Quantixkvm.Domain;
using Quantixkvm.Domain.Vms;

namespace Quantixkvm.ControlPlane.Commands;

/// <summary>
/// NICs span two aggregates (ADR 13): the network allocates the port (MAC and addresses, decided on its stream), then the VM
/// takes the NIC as an operation. A port whose VM never took it, or let it go, is released by <see cref="Networks.PortJanitor"/>.
/// </summary>
public sealed class NicCommands(NetworkCommands networks, VmCommands vms, IQuerySession session)
{
    /// <summary>Adds a NIC to a running (live hot-plug) or stopped VM. A refused attach releases the port it allocated at once.</summary>
    public async Task<CommandResult> AttachNicAsync(
        Guid vmId, NicRequest request, CommandMetadata metadata, long? expectedVersion, CancellationToken cancellationToken)
    {
        if (await session.LoadAsync<VmView>(vmId, cancellationToken) is not { DeletedAt: null })
        {
            throw new CommandRejectedException(new Rejection(RejectionCode.NotFound, $"VM {vmId} does not exist", Command: "attach-nic"));
        }

        var nic = await networks.AllocatePortAsync(vmId, metadata.CommandId, request, metadata, "attach-nic", cancellationToken);
        try
        {
            return await vms.HandleAsync(vmId, (ctx, timeouts) => new AttachNic(ctx, timeouts, nic), metadata, expectedVersion, cancellationToken);
        }
        catch (Exception ex) when (ex is CommandRejectedException or ConcurrencyConflictException)
        {
            await networks.RemovePortAsync(nic.NetworkId, nic.PortId, metadata with { CommandId = $"{metadata.CommandId}:release" }, CancellationToken.None);
            throw;
        }
    }

    /// <summary>Removes a NIC; its port (and addresses) are released once the VM no longer holds it.</summary>
    public Task<CommandResult> DetachNicAsync(Guid vmId, Guid portId, CommandMetadata metadata, long? expectedVersion, CancellationToken cancellationToken) =>
        vms.HandleAsync(vmId, (ctx, timeouts) => new DetachNic(ctx, timeouts, portId), metadata, expectedVersion, cancellationToken);
}
