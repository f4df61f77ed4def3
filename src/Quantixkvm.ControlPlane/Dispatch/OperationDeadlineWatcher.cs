using Marten;
using Microsoft.Extensions.Options;
using Quantixkvm.ControlPlane.Commands;
using Quantixkvm.ControlPlane.Configuration;
using Quantixkvm.ControlPlane.Fleet;
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
    : PeriodicWork(scopes, clock, logger)
{
    protected override TimeSpan Interval => TimeSpan.FromSeconds(options.Value.DeadlineScanSeconds);

    protected override string What => "Deadline scan";

    internal Task ScanAsync(CancellationToken cancellationToken) => RunOnceAsync(cancellationToken);

    protected override async Task RunAsync(IServiceProvider services, CancellationToken cancellationToken)
    {
        var session = services.GetRequiredService<IQuerySession>();
        var now = Clock.GetUtcNow();
        var vms = services.GetRequiredService<VmCommands>();
        await TimeOutOverdueAsync<OperationView>(session, now, (operation, metadata) => vms.HandleAsync(
                operation.VmId, (context, _) => new TimeOutOperation(context, operation.Id), metadata, expectedVersion: null, cancellationToken),
            operation => $"{operation.Kind} on VM {operation.VmId}", cancellationToken);
        var storage = services.GetRequiredService<StorageCommands>();
        await TimeOutOverdueAsync<StorageOperationView>(session, now, (operation, metadata) => storage.OutcomeAsync(
                operation, context => new TimeOutStorageOperation(context, operation.Id), metadata, cancellationToken),
            operation => $"{operation.Kind} on {operation.TargetId}", cancellationToken);
    }

    /// <summary>VM and storage operations alike: each one past its deadline gets its aggregate's time-out command.</summary>
    private async Task TimeOutOverdueAsync<T>(
        IQuerySession session, DateTimeOffset now, Func<T, CommandMetadata, Task<CommandResult>> timeOut, Func<T, string> describe,
        CancellationToken cancellationToken)
        where T : TrackedOperationView
    {
        var overdue = await session.Query<T>()
            .Where(o => (o.Status == OperationStatus.Pending || o.Status == OperationStatus.Running) && o.Deadline < now)
            .Take(500)
            .ToListAsync(cancellationToken);
        foreach (var operation in overdue)
        {
            try
            {
                await timeOut(operation, new CommandMetadata(
                    $"timeout:{operation.Id}", "system:deadline-watcher", operation.CorrelationId ?? operation.Id.ToString(), operation.CommandId));
                logger.LogWarning("Operation {OperationId} ({What}) timed out at {Deadline}", operation.Id, describe(operation), operation.Deadline);
            }
            catch (CommandRejectedException ex)
            {
                logger.LogInformation("Operation {OperationId} not timed out: {Reason}", operation.Id, ex.Message);
            }
        }
    }
}
