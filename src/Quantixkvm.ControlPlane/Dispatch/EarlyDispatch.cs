using System.Collections.Concurrent;
using System.Threading.Channels;
using JasperFx.Events;
using Marten;
using Marten.Services;
using Quantixkvm.Domain.Vms;

namespace Quantixkvm.ControlPlane.Dispatch;

/// <summary>
/// Requested VM operations committed by this process, sent to their hosts right after the commit instead of after the
/// async daemon's next round (the e2e bench measured that hop at tens of ms, and far more under load). The daemon's
/// <see cref="AgentDispatcher"/> stays the guarantee: it skips what was sent early and sends everything else, so a
/// crash or a failed early send still ends in a send from the log (at least once; agents de-duplicate by operation id).
/// </summary>
public sealed class EarlyDispatch(TimeProvider clock)
{
    /// <summary>Beyond this many sends the daemon has not yet passed, new ones wait for the daemon (it is far behind).</summary>
    private const int MaxPending = 10_000;

    /// <summary>A registration whose commit never came (it failed) is forgotten after this long.</summary>
    private static readonly TimeSpan Abandoned = TimeSpan.FromMinutes(1);

    /// <summary>
    /// How long the daemon waits for an early send before it sends itself (an agent de-duplicates a second copy): an
    /// early send takes milliseconds, one that takes longer meets a struggling broker, which the daemon's retries handle.
    /// </summary>
    private static readonly TimeSpan LongestWait = TimeSpan.FromSeconds(2);

    private readonly Channel<EarlySend> _committed =
        Channel.CreateUnbounded<EarlySend>(new UnboundedChannelOptions { SingleReader = false, SingleWriter = false });

    private readonly ConcurrentDictionary<Guid, EarlySend> _sends = new();

    internal ChannelReader<EarlySend> Committed => _committed.Reader;

    /// <summary>
    /// Before a commit: each requested operation in it is registered, so that the daemon, however quickly it sees the
    /// committed event, waits for the early send instead of sending beside it.
    /// </summary>
    internal void BeforeCommit(IEnumerable<IEvent> events)
    {
        foreach (var e in events)
        {
            if (e.Data is VmOperationRequested request && HasRoom())
            {
                // A retried decision (after a version conflict) requests the same operation again: one registration.
                _sends.TryAdd(request.OperationId, new EarlySend(request, clock.GetUtcNow()));
            }
        }
    }

    /// <summary>After the commit: the registered operations are queued for sending.</summary>
    internal void AfterCommit(IEnumerable<IEvent> events)
    {
        foreach (var e in events)
        {
            if (e.Data is VmOperationRequested request && _sends.TryGetValue(request.OperationId, out var send) && send.Commit(e))
            {
                _committed.Writer.TryWrite(send);
            }
        }
    }

    /// <summary>
    /// For the daemon: whether this operation was already sent early. Waits for an early send still under way, so the
    /// two paths do not both send it; forgets the operation either way (the daemon passes each event once per process).
    /// </summary>
    internal async Task<bool> SentEarlyAsync(Guid operationId, CancellationToken cancellationToken)
    {
        if (!_sends.TryRemove(operationId, out var send))
        {
            return false;
        }

        try
        {
            return await send.Sent.Task.WaitAsync(LongestWait, cancellationToken);
        }
        catch (TimeoutException)
        {
            return false;
        }
    }

    private bool HasRoom()
    {
        if (_sends.Count < MaxPending)
        {
            return true;
        }

        var now = clock.GetUtcNow();
        foreach (var (id, send) in _sends)
        {
            if (send.Event is null && now - send.RegisteredAt > Abandoned)
            {
                _sends.TryRemove(id, out _);
            }
        }

        return _sends.Count < MaxPending;
    }

    /// <summary>One requested operation to send early: its committed event, and whether the send went through.</summary>
    internal sealed class EarlySend(VmOperationRequested request, DateTimeOffset registeredAt)
    {
        private readonly Lock _gate = new();

        public VmOperationRequested Request { get; } = request;

        public DateTimeOffset RegisteredAt { get; } = registeredAt;

        /// <summary>The committed event (with its stream version and metadata); null until the commit.</summary>
        public IEvent? Event { get; private set; }

        public TaskCompletionSource<bool> Sent { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        /// <summary>Records the commit; false if it was recorded already (the send is queued once).</summary>
        public bool Commit(IEvent e)
        {
            lock (_gate)
            {
                if (Event is not null)
                {
                    return false;
                }

                Event = e;
                return true;
            }
        }
    }

    /// <summary>Marten calls this around every commit of every session of the store.</summary>
    internal sealed class Listener(EarlyDispatch early) : DocumentSessionListenerBase
    {
        public override Task BeforeSaveChangesAsync(IDocumentSession session, CancellationToken token)
        {
            early.BeforeCommit(session.PendingChanges.Streams().SelectMany(s => s.Events));
            return Task.CompletedTask;
        }

        public override Task AfterCommitAsync(IDocumentSession session, IChangeSet commit, CancellationToken token)
        {
            early.AfterCommit(commit.GetEvents());
            return Task.CompletedTask;
        }
    }
}

/// <summary>Sends what <see cref="EarlyDispatch"/> queued, a few at a time; one attempt each, the daemon retries.</summary>
public sealed class EarlyDispatcher(EarlyDispatch early, IDocumentStore store, HostDispatch hosts, ILogger<EarlyDispatcher> logger)
    : BackgroundService
{
    private const int Senders = 4;

    /// <summary>An early send is abandoned after this long; by then the daemon has sent it itself.</summary>
    private static readonly TimeSpan SendTimeout = TimeSpan.FromSeconds(5);

    protected override Task ExecuteAsync(CancellationToken stoppingToken) =>
        Task.WhenAll(Enumerable.Range(0, Senders).Select(_ => SendAsync(stoppingToken)));

    private async Task SendAsync(CancellationToken stoppingToken)
    {
        await foreach (var send in early.Committed.ReadAllAsync(stoppingToken))
        {
            var (e, request) = (send.Event!, send.Request);
            var sent = false;
            try
            {
                using var timeout = CancellationTokenSource.CreateLinkedTokenSource(stoppingToken);
                timeout.CancelAfter(SendTimeout);
                await using var session = store.QuerySession();
                sent = await hosts.DispatchOperationAsync(e, request, session, retryUntilSent: false, timeout.Token);
            }
            catch (Exception ex) when (!stoppingToken.IsCancellationRequested)
            {
                logger.LogInformation(ex, "Early send of operation {OperationId} failed; the dispatcher sends it from the log", request.OperationId);
            }
            finally
            {
                send.Sent.TrySetResult(sent);
            }
        }
    }
}
