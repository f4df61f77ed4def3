using MassTransit;

namespace Quantixkvm.Agent.Tests.Support;

/// <summary>One message as the test's observer endpoint consumed it, with what the transport said about it.</summary>
public sealed record Received<T>(T Message, int Sequence, Guid? CorrelationId, string? Expiration);

/// <summary>Everything the observer endpoint consumed, in the order it consumed it.</summary>
public sealed class MessageLog
{
    private readonly Lock _gate = new();
    private readonly List<(object Message, Guid? CorrelationId, string? Expiration)> _messages = [];

    public void Add(object message, Guid? correlationId, string? expiration)
    {
        lock (_gate)
        {
            _messages.Add((message, correlationId, expiration));
        }
    }

    public IReadOnlyList<Received<T>> Of<T>(Func<T, bool> where)
    {
        lock (_gate)
        {
            return
            [
                .. _messages
                    .Select((m, i) => (m.Message, Sequence: i, m.CorrelationId, m.Expiration))
                    .Where(m => m.Message is T t && where(t))
                    .Select(m => new Received<T>((T)m.Message, m.Sequence, m.CorrelationId, m.Expiration)),
            ];
        }
    }

    /// <summary>Waits until at least <paramref name="count"/> messages of a type match; returns all that match.</summary>
    public async Task<IReadOnlyList<Received<T>>> WaitForAsync<T>(Func<T, bool> where, int count = 1, TimeSpan? timeout = null)
    {
        await Eventually.UntilAsync(() => Of(where).Count >= count, $"{count} {typeof(T).Name} message(s)", timeout);
        return Of(where);
    }
}

/// <summary>The observer's consumer: records every message of its type.</summary>
public sealed class Recorder<T>(MessageLog log) : IConsumer<T>
    where T : class
{
    public Task Consume(ConsumeContext<T> context)
    {
        var expiration = context.TryGetPayload<RabbitMqBasicConsumeContext>(out var rabbit) ? rabbit.Properties.Expiration : null;
        log.Add(context.Message, context.CorrelationId, expiration);
        return Task.CompletedTask;
    }
}
