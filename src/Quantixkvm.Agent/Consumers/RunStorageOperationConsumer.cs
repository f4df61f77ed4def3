using MassTransit;
using Quantixkvm.Agent.Hypervisor;
using Quantixkvm.Agent.Storage;
using Quantixkvm.Contracts;
using Quantixkvm.Hosting;

namespace Quantixkvm.Agent.Consumers;

/// <summary>
/// Runs one storage operation from the host's queue and reports it, as <see cref="RunDomainOperationConsumer"/>
/// does for domains: Started, then the outcome through the cache (a redelivery within this process acts
/// once), then Finished; the message is acknowledged only after that. After an agent restart, reading what
/// exists first makes every storage operation harmless to repeat.
/// </summary>
public sealed class RunStorageOperationConsumer(
    StorageOperations operations, OutcomeCache<StorageOutcome> outcomes, TimeProvider clock, ILogger<RunStorageOperationConsumer> logger)
    : IConsumer<RunStorageOperation>
{
    public async Task Consume(ConsumeContext<RunStorageOperation> context)
    {
        var m = context.Message;
        using var scope = logger.BeginScope(new Dictionary<string, object> { [Logging.CorrelationId] = m.CorrelationId });
        var (outcome, ranNow) = await outcomes.GetOrRunAsync(m.OperationId, async () =>
        {
            await context.Publish(
                new StorageOperationStarted(m.OperationId, m.CommandId, m.CorrelationId, m.TargetId, m.HostId, clock.GetUtcNow()),
                p => p.CorrelationId = m.CorrelationId);
            logger.LogInformation("Running {Kind} storage operation {OperationId} on {TargetId} in pool {Pool}", m.Kind, m.OperationId, m.TargetId, m.Pool.LibvirtName);
            return await operations.RunAsync(m, context.CancellationToken);
        });
        if (!ranNow)
        {
            logger.LogInformation("Storage operation {OperationId} was already run here; reporting its outcome again", m.OperationId);
        }

        await context.Publish(
            new StorageOperationFinished(
                m.OperationId, m.CommandId, m.CorrelationId, m.TargetId, m.HostId, outcome.Succeeded, outcome.ErrorCode, outcome.ErrorMessage,
                outcome.CapacityBytes, outcome.AllocationBytes, outcome.AvailableBytes, outcome.Path, clock.GetUtcNow()),
            p => p.CorrelationId = m.CorrelationId);
        if (outcome.Succeeded)
        {
            logger.LogInformation("{Kind} storage operation {OperationId} on {TargetId} succeeded", m.Kind, m.OperationId, m.TargetId);
        }
        else
        {
            logger.LogWarning("{Kind} storage operation {OperationId} on {TargetId} failed: {ErrorCode} {ErrorMessage}",
                m.Kind, m.OperationId, m.TargetId, outcome.ErrorCode, outcome.ErrorMessage);
        }
    }
}
