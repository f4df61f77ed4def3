namespace Quantixkvm.ControlPlane.Fleet;

/// <summary>
/// Background work that runs on a timer, each round in its own DI scope (fresh sessions). A failed round is logged and
/// the next one tries again: a passing database or broker outage never stops the loop.
/// </summary>
public abstract class PeriodicWork(IServiceScopeFactory scopes, TimeProvider clock, ILogger logger) : BackgroundService
{
    protected TimeProvider Clock { get; } = clock;

    protected abstract TimeSpan Interval { get; }

    protected abstract string What { get; }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(Interval, Clock);
        while (await timer.WaitForNextTickAsync(stoppingToken))
        {
            try
            {
                await RunOnceAsync(stoppingToken);
            }
            catch (Exception ex) when (ex is not OperationCanceledException)
            {
                logger.LogError(ex, "{What} failed; retrying at the next tick", What);
            }
        }
    }

    /// <summary>One round, in a fresh scope; tests call it directly.</summary>
    public async Task RunOnceAsync(CancellationToken cancellationToken)
    {
        await using var scope = scopes.CreateAsyncScope();
        await RunAsync(scope.ServiceProvider, cancellationToken);
    }

    protected abstract Task RunAsync(IServiceProvider services, CancellationToken cancellationToken);
}
