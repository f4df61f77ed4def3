using MassTransit;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using RabbitMQ.Client;
using RabbitMQ.Client.Exceptions;

namespace Quantixkvm.Hosting;

/// <summary>
/// Restarts the bus when one of this process's queues has had no consumer for a while although the broker answers.
/// MassTransit 8.5's RabbitMQ transport can lose a receive endpoint's consumer for good when the broker restarts
/// (the fault harness found agents that kept heartbeating, so their hosts looked ONLINE, while their command queues
/// filled up unread; MassTransit issues #5692 and #6095 describe the same). The broker's own consumer count is the
/// evidence; a broker that does not answer is MassTransit's reconnect to wait for, not a reason to restart.
/// </summary>
public sealed class ConsumerWatchdog(
    IBusControl bus, RabbitMqOptions rabbit, ConsumerWatchdogSettings settings, TimeProvider clock, ILogger<ConsumerWatchdog> logger)
    : BackgroundService
{
    private readonly Dictionary<string, DateTimeOffset> _unconsumedSince = new(StringComparer.Ordinal);

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        while (!stoppingToken.IsCancellationRequested)
        {
            await Task.Delay(settings.CheckInterval, clock, stoppingToken);
            try
            {
                await CheckAsync(stoppingToken);
            }
            catch (Exception ex) when (!stoppingToken.IsCancellationRequested)
            {
                // The broker is away or restarting: MassTransit reconnects by itself; only a broker that answers counts.
                _unconsumedSince.Clear();
                logger.LogDebug(ex, "Consumer check skipped: the broker did not answer");
            }
        }
    }

    /// <summary>One round: asks the broker for each queue's consumers, and restarts the bus if one has gone unconsumed too long.</summary>
    public async Task CheckAsync(CancellationToken cancellationToken)
    {
        var counts = await ConsumerCountsAsync(cancellationToken);
        var now = clock.GetUtcNow();
        string? deaf = null;
        foreach (var (queue, consumers) in counts)
        {
            if (consumers is null or > 0)
            {
                _unconsumedSince.Remove(queue);
                continue;
            }

            var since = _unconsumedSince.TryGetValue(queue, out var first) ? first : _unconsumedSince[queue] = now;
            if (now - since >= settings.Patience)
            {
                deaf = queue;
            }
        }

        if (deaf is null)
        {
            return;
        }

        logger.LogError("Queue {Queue} has had no consumer for {Seconds:0} s while the broker answers: restarting the message bus",
            deaf, (now - _unconsumedSince[deaf]).TotalSeconds);
        _unconsumedSince.Clear();
        using var stopping = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        stopping.CancelAfter(settings.StopTimeout);
        try
        {
            await bus.StopAsync(stopping.Token);
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            logger.LogWarning("The message bus did not stop within {Timeout}; starting it again anyway", settings.StopTimeout);
        }

        await bus.StartAsync(cancellationToken);
        logger.LogWarning("Message bus restarted after queue {Queue} lost its consumer", deaf);
    }

    /// <summary>Each watched queue's consumer count; null for a queue the broker does not have (yet).</summary>
    private async Task<IReadOnlyList<(string Queue, uint? Consumers)>> ConsumerCountsAsync(CancellationToken cancellationToken)
    {
        await using var connection = await rabbit.ConnectionFactory("quantixkvm-consumer-watchdog").CreateConnectionAsync(cancellationToken);
        var counts = new List<(string, uint?)>();
        foreach (var queue in settings.Queues)
        {
            // A passive declare that fails closes its channel: one channel per question.
            await using var channel = await connection.CreateChannelAsync(cancellationToken: cancellationToken);
            try
            {
                counts.Add((queue, (await channel.QueueDeclarePassiveAsync(queue, cancellationToken)).ConsumerCount));
            }
            catch (OperationInterruptedException ex) when (ex.ShutdownReason?.ReplyCode == 404)
            {
                counts.Add((queue, null));
            }
        }

        return counts;
    }
}

/// <summary>Which queues this process must consume, and how long one may go without a consumer.</summary>
public sealed record ConsumerWatchdogSettings(IReadOnlyList<string> Queues)
{
    public TimeSpan CheckInterval { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>Longer than MassTransit takes to reconnect an endpoint after the broker is back (a few seconds).</summary>
    public TimeSpan Patience { get; init; } = TimeSpan.FromSeconds(20);

    public TimeSpan StopTimeout { get; init; } = TimeSpan.FromSeconds(30);
}

public static class ConsumerWatchdogRegistration
{
    /// <summary>Watches <paramref name="queues"/>: each must have a consumer whenever the broker answers.</summary>
    public static IServiceCollection AddConsumerWatchdog(this IServiceCollection services, params string[] queues)
    {
        services.AddSingleton(new ConsumerWatchdogSettings(queues));
        services.AddHostedService<ConsumerWatchdog>();
        return services;
    }
}
