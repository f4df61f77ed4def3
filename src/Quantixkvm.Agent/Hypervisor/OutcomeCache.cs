namespace Quantixkvm.Agent.Hypervisor;

/// <summary>
/// Outcomes by operation id (one cache per kind of outcome: domain and storage operations): a redelivered command gets the same answer again without acting twice,
/// and a copy that arrives while the first is still running waits for that one's outcome instead of
/// acting beside it. Bounded; beyond it, reading the domain's real state before acting keeps repeats harmless.
/// </summary>
public sealed class OutcomeCache<TOutcome>
{
    private readonly Lock _gate = new();
    private readonly Dictionary<Guid, Task<TOutcome>> _outcomes = [];
    private readonly Queue<Guid> _order = new();
    private readonly int _capacity;

    public OutcomeCache(int capacity = 10_000)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(capacity);
        _capacity = capacity;
    }

    /// <summary>
    /// Runs the operation unless it has run or is running; returns its outcome and whether this call ran it.
    /// A run that throws is forgotten, so a redelivery tries again.
    /// </summary>
    public async Task<(TOutcome Outcome, bool RanNow)> GetOrRunAsync(Guid operationId, Func<Task<TOutcome>> run)
    {
        Task<TOutcome> task;
        var ranNow = false;
        TaskCompletionSource<TOutcome>? mine = null;
        lock (_gate)
        {
            if (!_outcomes.TryGetValue(operationId, out task!))
            {
                mine = new TaskCompletionSource<TOutcome>(TaskCreationOptions.RunContinuationsAsynchronously);
                task = mine.Task;
                Remember(operationId, task);
                ranNow = true;
            }
        }

        if (mine is not null)
        {
            try
            {
                mine.SetResult(await run());
            }
            catch (Exception ex)
            {
                lock (_gate)
                {
                    _outcomes.Remove(operationId);
                }

                mine.SetException(ex);
            }
        }

        return (await task, ranNow);
    }

    private void Remember(Guid operationId, Task<TOutcome> outcome)
    {
        if (_outcomes.TryAdd(operationId, outcome))
        {
            _order.Enqueue(operationId);
            while (_order.Count > _capacity)
            {
                _outcomes.Remove(_order.Dequeue());
            }
        }
    }
}
