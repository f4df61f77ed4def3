using MassTransit;
using Quantixkvm.Agent.Hypervisor;
using Quantixkvm.Contracts;
using Quantixkvm.Hosting;

namespace Quantixkvm.Agent.Consumers;

/// <summary>
/// Aborts the libvirt job of an operation under way on this host (a live migration), which then ends as failed with
/// MIGRATION_CANCELLED and leaves the domain here. A cancel of an operation that does not run here (unknown, or ended
/// already) changes nothing; it is remembered briefly, in case its migration is just about to begin.
/// </summary>
public sealed class CancelDomainOperationConsumer(MigrationJobs migrations, ILogger<CancelDomainOperationConsumer> logger)
    : IConsumer<CancelDomainOperation>
{
    public Task Consume(ConsumeContext<CancelDomainOperation> context)
    {
        var m = context.Message;
        using var scope = logger.BeginScope(new Dictionary<string, object> { [Logging.CorrelationId] = m.CorrelationId });
        if (migrations.Cancel(m.OperationId))
        {
            logger.LogInformation("Cancelling operation {OperationId} on VM {VmId}: its migration job is being aborted", m.OperationId, m.VmId);
        }
        else
        {
            logger.LogInformation("Cancel of operation {OperationId} on VM {VmId} ignored: no migration of it runs on this host", m.OperationId, m.VmId);
        }

        return Task.CompletedTask;
    }
}
