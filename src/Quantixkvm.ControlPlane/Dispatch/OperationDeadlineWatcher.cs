using Marten;
using Microsoft.Extensions.Options;
using Quantixkvm.ControlPlane.Commands;
using Quantixkvm.ControlPlane.Configuration;
using Quantixkvm.ControlPlane.ReadModels;
using Quantixkvm.Domain.Storage;
using Quantixkvm.Domain.Vms;

namespace Quantixkvm.ControlPlane.Dispatch;

/// <summary>
/// Ends every operation whose deadline has passed with a TimedOut event, so no VM stays "starting"
/// forever. The read model only nominates candidates; the decider checks the deadline again.
/// </summary>
public sealed class OperationDeadlineWatcher(
    IServiceScopeFactory scopes, TimeProvider clock, IOptions<ControlPlaneOptions> options, ILogger<OperationDeadlineWatcher> logger)
    : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(TimeSpan.FromSeconds(options.Value.DeadlineScanSeconds), clock);
        while (await timer.WaitForNextTickAsync(stoppingToken))
        {
            try
            {
                await ScanAsync(stoppingToken);
            }
            catch (Exception ex) when (ex is not OperationCanceledException)
            {
                logger.LogError(ex, "Deadline scan failed; retrying at the next tick");
            }
        }
    }

    internal async Task ScanAsync(CancellationToken cancellationToken)
    {
        await using var scope = scopes.CreateAsyncScope();
        var session = scope.ServiceProvider.GetRequiredService<IQuerySession>();
        var now = clock.GetUtcNow();
        var overdue = await session.Query<OperationView>()
            .Where(o => (o.Status == OperationStatus.Pending || o.Status == OperationStatus.Running) && o.Deadline < now)
            .Take(500)
            .ToListAsync(cancellationToken);
        var vms = scope.ServiceProvider.GetRequiredService<VmCommands>();
        foreach (var operation in overdue)
        {
            try
            {
                await vms.HandleAsync(
                    operation.VmId, (context, _) => new TimeOutOperation(context, operation.Id),
                    new CommandMetadata($"timeout:{operation.Id}", "system:deadline-watcher", operation.CorrelationId ?? operation.Id.ToString(), operation.CommandId),
                    expectedVersion: null, cancellationToken);
                logger.LogWarning("Operation {OperationId} ({Kind} on VM {VmId}) timed out at {Deadline}",
                    operation.Id, operation.Kind, operation.VmId, operation.Deadline);
            }
            catch (CommandRejectedException ex)
            {
                logger.LogInformation("Operation {OperationId} not timed out: {Reason}", operation.Id, ex.Message);
            }
        }

        var overdueStorage = await session.Query<StorageOperationView>()
            .Where(o => (o.Status == OperationStatus.Pending || o.Status == OperationStatus.Running) && o.Deadline < now)
            .Take(500)
            .ToListAsync(cancellationToken);
        var storage = scope.ServiceProvider.GetRequiredService<StorageCommands>();
        foreach (var operation in overdueStorage)
        {
            try
            {
                await storage.OutcomeAsync(
                    operation, context => new TimeOutStorageOperation(context, operation.Id),
                    new CommandMetadata($"timeout:{operation.Id}", "system:deadline-watcher", operation.CorrelationId ?? operation.Id.ToString(), operation.CommandId),
                    cancellationToken);
                logger.LogWarning("Storage operation {OperationId} ({Kind} on {TargetId}) timed out at {Deadline}",
                    operation.Id, operation.Kind, operation.TargetId, operation.Deadline);
            }
            catch (CommandRejectedException ex)
            {
                logger.LogInformation("Storage operation {OperationId} not timed out: {Reason}", operation.Id, ex.Message);
            }
        }
    }
}
