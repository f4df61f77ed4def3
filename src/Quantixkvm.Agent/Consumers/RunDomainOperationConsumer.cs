using MassTransit;
using Microsoft.Extensions.Options;
using Quantixkvm.Agent.Hypervisor;
using Quantixkvm.Contracts;
using Quantixkvm.Hosting;

namespace Quantixkvm.Agent.Consumers;

/// <summary>
/// Runs one operation from the host's queue and reports it. MassTransit acknowledges the message
/// only when this returns, i.e. after the outcome is published (with broker confirms); a crash
/// before that means a redelivery. The cache makes a redelivery within this process act once; after
/// an agent restart, reading the domain's state first makes start/stop/pause/resume/create/delete
/// harmless to repeat, while a reboot would run again (its effect does not show in the state).
/// While a migration runs it publishes <see cref="DomainOperationProgress"/> about once a second.
/// </summary>
public sealed class RunDomainOperationConsumer(
    DomainOperations operations, OutcomeCache<DomainOutcome> outcomes, IOptions<AgentOptions> options, TimeProvider clock,
    ILogger<RunDomainOperationConsumer> logger) : IConsumer<RunDomainOperation>
{
    public async Task Consume(ConsumeContext<RunDomainOperation> context)
    {
        var m = context.Message;
        using var scope = logger.BeginScope(new Dictionary<string, object> { [Logging.CorrelationId] = m.CorrelationId });
        var vmId = m.Domain.VmId;
        var (outcome, ranNow) = await outcomes.GetOrRunAsync(m.OperationId, async () =>
        {
            await context.Publish(
                new DomainOperationStarted(m.OperationId, m.CommandId, m.CorrelationId, vmId, m.HostId, clock.GetUtcNow()),
                p => p.CorrelationId = m.CorrelationId);
            logger.LogInformation("Running {Kind} operation {OperationId} on VM {VmId}", m.Kind, m.OperationId, vmId);
            return await operations.RunAsync(
                m, TimeSpan.FromSeconds(options.Value.DeadlineMarginSeconds), context.CancellationToken,
                // A migration's progress: telemetry, so a lost one is no loss.
                (job, ct) => context.Publish(
                    new DomainOperationProgress(
                        m.OperationId, vmId, m.HostId, job.DataTotalBytes, job.DataProcessedBytes, job.DataRemainingBytes,
                        job.Elapsed.TotalSeconds, clock.GetUtcNow()),
                    p => p.CorrelationId = m.CorrelationId,
                    ct));
        });
        if (!ranNow)
        {
            logger.LogInformation("Operation {OperationId} was already run here; reporting its outcome again", m.OperationId);
        }

        await context.Publish(
            new DomainOperationFinished(
                m.OperationId, m.CommandId, m.CorrelationId, vmId, m.HostId, outcome.Succeeded, outcome.Observed,
                outcome.ErrorCode, outcome.ErrorMessage, clock.GetUtcNow()),
            p => p.CorrelationId = m.CorrelationId);
        if (outcome.Succeeded)
        {
            logger.LogInformation("{Kind} operation {OperationId} on VM {VmId} succeeded; domain is {State}", m.Kind, m.OperationId, vmId, outcome.Observed);
        }
        else
        {
            logger.LogWarning("{Kind} operation {OperationId} on VM {VmId} failed: {ErrorCode} {ErrorMessage}",
                m.Kind, m.OperationId, vmId, outcome.ErrorCode, outcome.ErrorMessage);
        }
    }
}
