using MassTransit;
using Microsoft.Extensions.Options;
using Quantixkvm.Agent.Hypervisor;
using Quantixkvm.Contracts;

namespace Quantixkvm.Agent.Consumers;

/// <summary>
/// Removes the domains of VMs that now live on other hosts: powered off if running, undefined, their cloud-init seeds
/// deleted; their volumes stay. Missing domains are fine, so a redelivery changes nothing. A libvirt failure is thrown,
/// and the endpoint's retry tries again.
/// </summary>
public sealed class ReleaseDomainsConsumer(HostDomains domains, IOptions<AgentOptions> options, ILogger<ReleaseDomainsConsumer> logger)
    : IConsumer<ReleaseDomains>
{
    public Task Consume(ConsumeContext<ReleaseDomains> context)
    {
        var m = context.Message;
        if (m.HostId != options.Value.HostId)
        {
            logger.LogWarning("ReleaseDomains for host {HostId} reached host {ThisHost}; ignored", m.HostId, options.Value.HostId);
            return Task.CompletedTask;
        }

        foreach (var vmId in m.VmIds)
        {
            if (domains.Release(vmId))
            {
                logger.LogInformation("Released the domain of VM {VmId} ({Reason}): powered off and undefined; its volumes are kept", vmId, m.Reason);
            }
            else
            {
                logger.LogInformation("VM {VmId} has no domain on this host; nothing to release ({Reason})", vmId, m.Reason);
            }
        }

        return Task.CompletedTask;
    }
}
