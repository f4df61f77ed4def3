using System.Collections.Concurrent;
using MassTransit;

namespace Quantixkvm.ControlPlane.Tests.Support;

/// <summary>
/// A consume observer on the control plane's bus: tells when a message (by its id) has been consumed,
/// so a test can assert that something did NOT happen without sleeping for a guessed time.
/// </summary>
public sealed class ConsumeProbe : IConsumeObserver
{
    private readonly ConcurrentDictionary<Guid, TaskCompletionSource> _consumed = new();
    private readonly ConcurrentQueue<string> _faults = new();

    public async Task WaitAsync(Guid messageId, TimeSpan? timeout = null)
    {
        var limit = timeout ?? Eventually.DefaultTimeout;
        try
        {
            await Completion(messageId).Task.WaitAsync(limit);
        }
        catch (TimeoutException)
        {
            throw new TimeoutException($"the control plane did not consume message {messageId} within {limit}; faults: [{string.Join("; ", _faults)}]");
        }
    }

    Task IConsumeObserver.PreConsume<T>(ConsumeContext<T> context) => Task.CompletedTask;

    Task IConsumeObserver.PostConsume<T>(ConsumeContext<T> context)
    {
        if (context.MessageId is { } id)
        {
            Completion(id).TrySetResult();
        }

        return Task.CompletedTask;
    }

    Task IConsumeObserver.ConsumeFault<T>(ConsumeContext<T> context, Exception exception)
    {
        _faults.Enqueue($"{typeof(T).Name} {context.MessageId}: {exception.GetType().Name}: {exception.Message}");
        return Task.CompletedTask;
    }

    private TaskCompletionSource Completion(Guid id) =>
        _consumed.GetOrAdd(id, _ => new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously));
}
