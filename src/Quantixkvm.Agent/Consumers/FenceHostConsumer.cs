using MassTransit;
using Microsoft.Extensions.Options;
using Quantixkvm.Agent.Hypervisor;
using Quantixkvm.Contracts;

namespace Quantixkvm.Agent.Consumers;

/// <summary>
/// Obeys the control plane's fence: powers off every Quantixkvm domain on this host at once, then confirms with
/// <see cref="HostFencedBySelf"/> naming the VMs it stopped. It confirms only when none is left running: a domain that
/// would not power off makes the message fail (and be retried), so the control plane never takes a running VM for off.
/// </summary>
public sealed class FenceHostConsumer(HostDomains domains, IOptions<AgentOptions> options, TimeProvider clock, ILogger<FenceHostConsumer> logger)
    : IConsumer<FenceHost>
{
    public async Task Consume(ConsumeContext<FenceHost> context)
    {
        var m = context.Message;
        if (m.HostId != options.Value.HostId)
        {
            logger.LogWarning("FenceHost for host {HostId} reached host {ThisHost}; ignored", m.HostId, options.Value.HostId);
            return;
        }

        var result = domains.PowerOffAll();
        if (result.Failed.Count > 0)
        {
            throw new InvalidOperationException(
                $"fence {m.FenceId}: {result.Failed.Count} Quantixkvm domain(s) did not power off: "
                + string.Join("; ", result.Failed.Select(f => $"{f.VmId}: {f.Error}")));
        }

        logger.LogCritical("Host fenced on the control plane's request ({Reason}): powered off {Count} VM(s): {VmIds}",
            m.Reason, result.Stopped.Count, result.Stopped);
        await context.Publish(new HostFencedBySelf(m.HostId, m.FenceId, result.Stopped, clock.GetUtcNow()));
    }
}
