using GraphQL;
using GraphQL.Types;
using Microsoft.Extensions.DependencyInjection;

namespace Quantixkvm.GraphQLTransport.Tests.Support;

/// <summary>
/// A small schema: Query hello(name), missing (throws NOT_FOUND), whoami (reads the user context),
/// slow (waits for cancellation); Mutation echo; Subscription ticks(count), events (pushed by the test), failing.
/// </summary>
public sealed class TestSchema : Schema
{
    public TestSchema(IServiceProvider services)
        : base(services)
    {
        Query = new TestQuery();
        Mutation = new TestMutation();
        Subscription = new TestSubscription();
    }
}

public sealed class TestQuery : ObjectGraphType
{
    public TestQuery()
    {
        Name = "Query";
        Field<NonNullGraphType<StringGraphType>>("hello")
            .Argument<StringGraphType>("name")
            .Resolve(context => $"Hello, {context.GetArgument<string?>("name") ?? "world"}!");
        Field<StringGraphType>("missing")
            .Resolve(_ => throw new ExecutionError("There is no VM with that id.") { Code = "NOT_FOUND" });
        Field<StringGraphType>("whoami")
            .Resolve(context => context.UserContext.TryGetValue("user", out var user) ? user as string : null);
        Field<StringGraphType>("slow")
            .ResolveAsync(async context =>
            {
                var probe = context.RequestServices!.GetRequiredService<Probe>();
                try
                {
                    await Task.Delay(Timeout.Infinite, context.CancellationToken);
                }
                catch (OperationCanceledException)
                {
                    probe.SlowQueryCancelled.TrySetResult();
                    throw;
                }

                return "never";
            });
    }
}

public sealed class TestMutation : ObjectGraphType
{
    public TestMutation()
    {
        Name = "Mutation";
        Field<NonNullGraphType<StringGraphType>>("echo")
            .Argument<NonNullGraphType<StringGraphType>>("message")
            .Resolve(context =>
            {
                Interlocked.Increment(ref context.RequestServices!.GetRequiredService<Probe>().EchoCount);
                return context.GetArgument<string>("message");
            });
    }
}

public sealed class TestSubscription : ObjectGraphType
{
    public TestSubscription()
    {
        Name = "Subscription";
        Field<NonNullGraphType<IntGraphType>>("ticks")
            .Argument<NonNullGraphType<IntGraphType>>("count")
            .ResolveStream(context => new TickStream(context.GetArgument<int>("count")));
        Field<NonNullGraphType<StringGraphType>>("events")
            .ResolveStream(context => context.RequestServices!.GetRequiredService<Probe>().Events);
        Field<NonNullGraphType<IntGraphType>>("failing")
            .ResolveStream(_ => new FailingStream());
        Field<NonNullGraphType<IntGraphType>>("refused")
            .ResolveStream(_ => throw new ExecutionError("You may not watch this.") { Code = "FORBIDDEN" });
    }
}

/// <summary>Emits 0..count-1 from a background task, then completes.</summary>
public sealed class TickStream(int count) : IObservable<object?>
{
    public IDisposable Subscribe(IObserver<object?> observer)
    {
        var cancellation = new CancellationTokenSource();
        _ = Task.Run(async () =>
        {
            for (var i = 0; i < count && !cancellation.IsCancellationRequested; i++)
            {
                observer.OnNext(i);
                await Task.Yield();
            }

            if (!cancellation.IsCancellationRequested)
            {
                observer.OnCompleted();
            }
        });
        return new Unsubscriber(cancellation.Cancel);
    }
}

/// <summary>Emits 1, then fails.</summary>
public sealed class FailingStream : IObservable<object?>
{
    public IDisposable Subscribe(IObserver<object?> observer)
    {
        _ = Task.Run(() =>
        {
            observer.OnNext(1);
            observer.OnError(new InvalidOperationException("The event source broke."));
        });
        return new Unsubscriber(() => { });
    }
}

/// <summary>A hot stream the tests push into; it counts its subscribers.</summary>
public sealed class EventSource : IObservable<object?>
{
    private readonly Lock _gate = new();
    private readonly List<IObserver<object?>> _observers = [];
    private TaskCompletionSource _subscribed = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private TaskCompletionSource _unsubscribed = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public int SubscriberCount
    {
        get
        {
            lock (_gate)
            {
                return _observers.Count;
            }
        }
    }

    public Task Subscribed => _subscribed.Task;

    public Task Unsubscribed => _unsubscribed.Task;

    public IDisposable Subscribe(IObserver<object?> observer)
    {
        lock (_gate)
        {
            _observers.Add(observer);
            _subscribed.TrySetResult();
        }

        return new Unsubscriber(() =>
        {
            lock (_gate)
            {
                _observers.Remove(observer);
                _unsubscribed.TrySetResult();
            }
        });
    }

    public void Publish(string value)
    {
        IObserver<object?>[] observers;
        lock (_gate)
        {
            observers = [.. _observers];
        }

        foreach (var observer in observers)
        {
            observer.OnNext(value);
        }
    }

    /// <summary>Re-arms <see cref="Subscribed"/> and <see cref="Unsubscribed"/>.</summary>
    public void Reset()
    {
        lock (_gate)
        {
            _subscribed = new(TaskCreationOptions.RunContinuationsAsynchronously);
            _unsubscribed = new(TaskCreationOptions.RunContinuationsAsynchronously);
        }
    }
}

public sealed class Unsubscriber(Action dispose) : IDisposable
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

/// <summary>What the resolvers saw; a singleton of each test server.</summary>
public sealed class Probe
{
    public int EchoCount;

    public EventSource Events { get; } = new();

    public TaskCompletionSource SlowQueryCancelled { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
}
