using Quantixkvm.Contracts;
using Quantixkvm.Hosting;
using RabbitMQ.Client;
using RabbitMQ.Client.Exceptions;

namespace Quantixkvm.ControlPlane.Ha;

/// <summary>
/// Fencing also fences a host's command queue: once its VMs are restarted elsewhere, commands still waiting for it
/// (a start sent before it died) must never run when it comes back. Their operations are failed or time out anyway.
/// </summary>
public sealed class HostQueues(RabbitMqOptions rabbit, ILogger<HostQueues> logger)
{
    /// <summary>Drops every message waiting in the host's queue; returns how many.</summary>
    public async Task<uint> PurgeAsync(Guid hostId, CancellationToken cancellationToken)
    {
        await using var connection = await rabbit.ConnectionFactory("quantixkvm-controlplane-fencing").CreateConnectionAsync(cancellationToken);
        await using var channel = await connection.CreateChannelAsync(cancellationToken: cancellationToken);
        try
        {
            var purged = await channel.QueuePurgeAsync(AgentQueues.ForHost(hostId), cancellationToken);
            logger.LogWarning("Purged {Count} waiting messages from the queue of fenced host {HostId}", purged, hostId);
            return purged;
        }
        catch (OperationInterruptedException ex) when (ex.ShutdownReason?.ReplyCode == 404)
        {
            // The host never consumed: no queue, nothing waiting.
            return 0;
        }
    }
}
