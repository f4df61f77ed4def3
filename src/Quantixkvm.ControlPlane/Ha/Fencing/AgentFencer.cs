using MassTransit;
using Microsoft.Extensions.Options;
using Quantixkvm.Contracts;

namespace Quantixkvm.ControlPlane.Ha.Fencing;

/// <summary>
/// Asks the host's own agent to power its domains off: sends <see cref="FenceHost"/> to the host queue and waits for the
/// <see cref="HostFencedBySelf"/> of the same round. A dead host never answers, and its queue keeps the message: the
/// agent obeys it when it comes back, before it could run a VM twice.
/// </summary>
public sealed class AgentFencer(IBus bus, AgentFenceReplies replies, IOptions<FencingOptions> options, TimeProvider time) : IHostFencer
{
    public string Name => "agent";

    public async Task<FenceVerdict> FenceAsync(FenceTarget target, CancellationToken cancellationToken)
    {
        var wait = TimeSpan.FromSeconds(options.Value.AgentReplySeconds);
        // Registered before the send, so a fast reply is never missed.
        using var reply = replies.Expect(target.HostId, target.FenceId);
        using var limit = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        limit.CancelAfter(wait);
        var sent = false;
        try
        {
            var endpoint = await bus.GetSendEndpoint(new Uri($"queue:{AgentQueues.ForHost(target.HostId)}"));
            await endpoint.Send(
                new FenceHost(target.HostId, target.FenceId, $"fencing host {target.HostName}", time.GetUtcNow()),
                context => context.CorrelationId = target.FenceId,
                limit.Token);
            sent = true;
            var answer = await reply.Task.WaitAsync(limit.Token);
            var count = answer.StoppedVmIds.Count;
            return FenceVerdict.Proven(
                $"the agent on host {target.HostName} powered off {count} domain{(count == 1 ? "" : "s")}"
                + (count == 0 ? " (none was running)" : ": " + string.Join(", ", answer.StoppedVmIds)));
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            return FenceVerdict.NotProven(sent
                ? $"the agent on host {target.HostName} did not answer within {Seconds.Of(wait)}"
                : $"could not send FenceHost to host {target.HostName}'s queue within {Seconds.Of(wait)} (is the broker reachable?)");
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            return FenceVerdict.NotProven($"could not send FenceHost to host {target.HostName}'s queue: {ex.Message}");
        }
    }
}

/// <summary>
/// The agent fencer's waiters, completed by <see cref="HostFencedBySelfConsumer"/>. In memory: a reply is only useful to
/// the control plane process that is waiting for it.
/// </summary>
public sealed class AgentFenceReplies
{
    private readonly Lock _lock = new();
    private readonly Dictionary<Guid, List<Waiter>> _waiting = [];

    /// <summary>Waits for the reply of one round; dispose it when done.</summary>
    public Waiter Expect(Guid hostId, Guid fenceId)
    {
        var waiter = new Waiter(this, hostId, fenceId);
        lock (_lock)
        {
            if (!_waiting.TryGetValue(fenceId, out var list))
            {
                _waiting[fenceId] = list = [];
            }

            list.Add(waiter);
        }

        return waiter;
    }

    /// <summary>Hands a reply to whoever waits for its round and host; true when someone did.</summary>
    public bool Complete(HostFencedBySelf reply)
    {
        List<Waiter> matching;
        lock (_lock)
        {
            if (!_waiting.TryGetValue(reply.FenceId, out var list))
            {
                return false;
            }

            matching = list.Where(w => w.HostId == reply.HostId).ToList();
        }

        foreach (var waiter in matching)
        {
            waiter.Completion.TrySetResult(reply);
        }

        return matching.Count > 0;
    }

    /// <summary>How many rounds are waited for (for tests and diagnostics).</summary>
    public int Pending
    {
        get
        {
            lock (_lock)
            {
                return _waiting.Count;
            }
        }
    }

    private void Remove(Waiter waiter)
    {
        lock (_lock)
        {
            if (_waiting.TryGetValue(waiter.FenceId, out var list) && list.Remove(waiter) && list.Count == 0)
            {
                _waiting.Remove(waiter.FenceId);
            }
        }
    }

    public sealed class Waiter : IDisposable
    {
        private readonly AgentFenceReplies _owner;

        internal Waiter(AgentFenceReplies owner, Guid hostId, Guid fenceId)
        {
            _owner = owner;
            HostId = hostId;
            FenceId = fenceId;
        }

        public Guid HostId { get; }

        public Guid FenceId { get; }

        internal TaskCompletionSource<HostFencedBySelf> Completion { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public Task<HostFencedBySelf> Task => Completion.Task;

        public void Dispose() => _owner.Remove(this);
    }
}

/// <summary>An agent obeyed a <see cref="FenceHost"/>: wakes the agent fencer waiting for that round, if any (a late reply is dropped).</summary>
public sealed class HostFencedBySelfConsumer(AgentFenceReplies replies) : IConsumer<HostFencedBySelf>
{
    public Task Consume(ConsumeContext<HostFencedBySelf> context)
    {
        replies.Complete(context.Message);
        return Task.CompletedTask;
    }
}
