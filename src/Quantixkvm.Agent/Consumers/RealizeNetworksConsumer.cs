using MassTransit;
using Microsoft.Extensions.Options;
using Quantixkvm.Agent.Networking;
using Quantixkvm.Contracts;

namespace Quantixkvm.Agent.Consumers;

/// <summary>
/// Makes the host hold the networks the control plane sent (<see cref="NetworkRealizer"/>) and publishes what it holds,
/// per network, as <see cref="NetworksRealized"/>. A stale message (older than one applied) is dropped without a report.
/// </summary>
public sealed class RealizeNetworksConsumer(NetworkRealizer realizer, IOptions<AgentOptions> options, ILogger<RealizeNetworksConsumer> logger)
    : IConsumer<RealizeNetworks>
{
    public async Task Consume(ConsumeContext<RealizeNetworks> context)
    {
        var m = context.Message;
        if (m.HostId != options.Value.HostId)
        {
            logger.LogWarning("RealizeNetworks for host {HostId} reached host {ThisHost}; ignored", m.HostId, options.Value.HostId);
            return;
        }

        if (!options.Value.Network.Enabled)
        {
            logger.LogDebug("Networking is disabled on this agent (Agent:Network:Enabled); RealizeNetworks {Revision} ignored", m.Revision);
            return;
        }

        if (await realizer.RealizeAsync(m, context.CancellationToken) is { } report)
        {
            await context.Publish(report);
        }
    }
}
