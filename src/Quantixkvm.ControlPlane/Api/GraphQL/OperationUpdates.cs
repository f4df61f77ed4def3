using Marten;
using Quantixkvm.ControlPlane.Dispatch;
using Quantixkvm.ControlPlane.ReadModels;
using Quantixkvm.Domain.Vms;

namespace Quantixkvm.ControlPlane.Api.GraphQL;

/// <summary>
/// One operation's updates: its current state first (so a client that subscribes after the mutation
/// misses nothing), then every later state, never going backwards, completing after the final one.
/// </summary>
public sealed class OperationUpdates<T>(IObservable<T> changes, IDocumentStore store, Guid operationId) : IObservable<T>
    where T : TrackedOperationView
{
    public IDisposable Subscribe(IObserver<T> observer)
    {
        var relay = new Relay(observer);
        // Listen before reading, so a change between the two is not lost.
        relay.Subscription = changes.Where(o => o.Id == operationId).Subscribe(relay);
        _ = relay.SeedAsync(store, operationId);
        return relay;
    }

    private sealed class Relay(IObserver<T> observer) : IObserver<T>, IDisposable
    {
        private readonly Lock _gate = new();
        private T? _last;
        private bool _done;

        public IDisposable? Subscription { get; set; }

        public async Task SeedAsync(IDocumentStore store, Guid id)
        {
            try
            {
                await using var session = store.QuerySession();
                if (await session.LoadAsync<T>(id) is { } current)
                {
                    OnNext(current);
                }
            }
            catch (Exception ex)
            {
                OnError(ex);
            }
        }

        public void OnNext(T value)
        {
            lock (_gate)
            {
                if (_done || Equals(value, _last) || (_last is not null && Rank(value.Status) < Rank(_last.Status)))
                {
                    return;
                }

                _last = value;
                observer.OnNext(value);
                if (value.IsFinished)
                {
                    _done = true;
                    observer.OnCompleted();
                }
            }
        }

        public void OnError(Exception error)
        {
            lock (_gate)
            {
                if (!_done)
                {
                    _done = true;
                    observer.OnError(error);
                }
            }
        }

        public void OnCompleted()
        {
        }

        public void Dispose() => Subscription?.Dispose();

        private static int Rank(OperationStatus status) => status switch
        {
            OperationStatus.Pending => 0,
            OperationStatus.Running => 1,
            _ => 2,
        };
    }
}
