using Marten;
using MassTransit;
using Quantixkvm.ControlPlane.Commands;
using Quantixkvm.ControlPlane.ReadModels;
using Quantixkvm.Contracts;
using Quantixkvm.Domain.Storage;
using Quantixkvm.Hosting;

namespace Quantixkvm.ControlPlane.Agents;

/// <summary>Agents' storage reports become outcome commands on the pool or volume they concern.</summary>
public sealed class StorageOutcomeConsumer(StorageCommands storage, IQuerySession session, ILogger<StorageOutcomeConsumer> logger)
    : IConsumer<Contracts.StorageOperationStarted>, IConsumer<StorageOperationFinished>
{
    public Task Consume(ConsumeContext<Contracts.StorageOperationStarted> context)
    {
        var m = context.Message;
        return ReportAsync(m.OperationId, m.HostId, m.CorrelationId, context, ctx => new MarkStorageOperationStarted(ctx, m.OperationId));
    }

    public async Task Consume(ConsumeContext<StorageOperationFinished> context)
    {
        var m = context.Message;
        var observed = new StorageObservation(m.CapacityBytes, m.AllocationBytes, m.AvailableBytes, m.Path);
        await ReportAsync(m.OperationId, m.HostId, m.CorrelationId, context, ctx => m.Succeeded
            ? new CompleteStorageOperation(ctx, m.OperationId, m.HostId, observed)
            : new FailStorageOperation(ctx, m.OperationId, m.ErrorCode ?? "STORAGE_ERROR", m.ErrorMessage ?? "the host gave no message"));
        logger.LogInformation("Storage operation {OperationId} on {TargetId} reported {Outcome} by host {HostId}{Error}",
            m.OperationId, m.TargetId, m.Succeeded ? "succeeded" : "failed", m.HostId, m.Succeeded ? "" : $": {m.ErrorMessage}");
    }

    private async Task ReportAsync(
        Guid operationId, Guid hostId, Guid correlationId, ConsumeContext context, Func<Domain.CommandContext, StorageCommand> build)
    {
        using var scope = logger.BeginScope(new Dictionary<string, object> { [Logging.CorrelationId] = correlationId });
        var operation = await session.LoadAsync<StorageOperationView>(operationId, context.CancellationToken);
        if (operation is null)
        {
            logger.LogWarning("Report for unknown storage operation {OperationId} from host {HostId} ignored", operationId, hostId);
            return;
        }

        try
        {
            var commandId = $"report:{context.MessageId ?? NewId.NextGuid()}";
            await storage.OutcomeAsync(operation, build,
                new CommandMetadata(commandId, $"agent:{hostId}", correlationId.ToString(), operationId.ToString()), context.CancellationToken);
        }
        catch (CommandRejectedException ex)
        {
            logger.LogWarning("Report for storage operation {OperationId} ignored: {Reason}", operationId, ex.Message);
        }
    }
}
