using System.Threading.Channels;

namespace Quantixkvm.ControlPlane.Dispatch;

/// <summary>
/// In-process fan-out from one channel to many subscribers. Each subscriber has its own bounded
/// queue and pump, so a slow WebSocket client never holds up the change feed or other clients;
/// one that falls a full queue behind loses its oldest items rather than the process its memory.
/// </summary>
public sealed class Broadcast<T>(int queueCapacity = 1024) : IObservable<T>
{
    private readonly Lock _gate = new();
    private ImmutableSubscribers _subscribers = ImmutableSubscribers.Empty;

    public int SubscriberCount => _subscribers.Items.Length;

    public void Publish(T item)
    {
        foreach (var subscriber in _subscribers.Items)
        {
            subscriber.Queue.Writer.TryWrite(item);
        }
    }

    public IDisposable Subscribe(IObserver<T> observer)
    {
        var subscriber = new Subscriber(observer, Channel.CreateBounded<T>(
            new BoundedChannelOptions(queueCapacity) { FullMode = BoundedChannelFullMode.DropOldest, SingleReader = true }));
        lock (_gate)
        {
            _subscribers = new ImmutableSubscribers([.. _subscribers.Items, subscriber]);
        }

        _ = subscriber.PumpAsync();
        return new Unsubscriber(() =>
        {
            lock (_gate)
            {
                _subscribers = new ImmutableSubscribers(_subscribers.Items.Where(s => s != subscriber).ToArray());
            }

            subscriber.Queue.Writer.TryComplete();
        });
    }

    private sealed record ImmutableSubscribers(Subscriber[] Items)
    {
        public static ImmutableSubscribers Empty { get; } = new([]);
    }

    private sealed class Subscriber(IObserver<T> observer, Channel<T> queue)
    {
        public Channel<T> Queue { get; } = queue;

        public async Task PumpAsync()
        {
            try
            {
                await foreach (var item in Queue.Reader.ReadAllAsync())
                {
                    observer.OnNext(item);
                }

                observer.OnCompleted();
            }
            catch (Exception ex)
            {
                observer.OnError(ex);
            }
        }
    }

    private sealed class Unsubscriber(Action dispose) : IDisposable
    {
        private int _disposed;

        public void Dispose()
        {
            if (Interlocked.Exchange(ref _disposed, 1) == 0)
            {
                dispose();
            }
        }
    }
}

/// <summary>The changes the API's subscriptions listen to, fed from the event log by <see cref="ChangeFeed"/>.</summary>
public sealed class ChangeHub
{
    public Broadcast<ReadModels.VmView> Vms { get; } = new();
    public Broadcast<ReadModels.OperationView> Operations { get; } = new();
    public Broadcast<ReadModels.StoragePoolView> Pools { get; } = new();
    public Broadcast<ReadModels.VolumeView> Volumes { get; } = new();
    public Broadcast<ReadModels.StorageOperationView> StorageOperations { get; } = new();
    public Broadcast<ReadModels.HostView> Hosts { get; } = new();
    public Broadcast<ReadModels.ClusterView> Clusters { get; } = new();
    public Broadcast<ReadModels.NetworkView> Networks { get; } = new();
    public Broadcast<ReadModels.SecurityGroupView> SecurityGroups { get; } = new();

    /// <summary>Migrations as their events change them, and as their progress reports arrive (with the latest progress).</summary>
    public Broadcast<ReadModels.MigrationUpdate> Migrations { get; } = new();
}

public static class ObservableFilter
{
    public static IObservable<T> Where<T>(this IObservable<T> source, Func<T, bool> predicate) => new Filtered<T>(source, predicate);

    public static IObservable<TOut> Select<TIn, TOut>(this IObservable<TIn> source, Func<TIn, TOut> map) => new Mapped<TIn, TOut>(source, map);

    private sealed class Mapped<TIn, TOut>(IObservable<TIn> source, Func<TIn, TOut> map) : IObservable<TOut>
    {
        public IDisposable Subscribe(IObserver<TOut> observer) => source.Subscribe(new Observer(observer, map));

        private sealed class Observer(IObserver<TOut> inner, Func<TIn, TOut> map) : IObserver<TIn>
        {
            public void OnCompleted() => inner.OnCompleted();

            public void OnError(Exception error) => inner.OnError(error);

            public void OnNext(TIn value) => inner.OnNext(map(value));
        }
    }

    private sealed class Filtered<T>(IObservable<T> source, Func<T, bool> predicate) : IObservable<T>
    {
        public IDisposable Subscribe(IObserver<T> observer) => source.Subscribe(new Observer(observer, predicate));

        private sealed class Observer(IObserver<T> inner, Func<T, bool> predicate) : IObserver<T>
        {
            public void OnCompleted() => inner.OnCompleted();

            public void OnError(Exception error) => inner.OnError(error);

            public void OnNext(T value)
            {
                if (predicate(value))
                {
                    inner.OnNext(value);
                }
            }
        }
    }
}
