namespace Quantixkvm.Agent.Hypervisor;

/// <summary>
/// Recent outcomes by operation id: a redelivered command gets the same answer again without acting
/// twice. Bounded; beyond it, reading the domain's real state before acting keeps repeats harmless.
/// </summary>
public sealed class OutcomeCache(int capacity = 10_000)
{
    private readonly Lock _gate = new();
    private readonly Dictionary<Guid, DomainOutcome> _outcomes = [];
    private readonly Queue<Guid> _order = new();

    public bool TryGet(Guid operationId, out DomainOutcome outcome)
    {
        lock (_gate)
        {
            return _outcomes.TryGetValue(operationId, out outcome!);
        }
    }

    public void Add(Guid operationId, DomainOutcome outcome)
    {
        lock (_gate)
        {
            if (_outcomes.TryAdd(operationId, outcome))
            {
                _order.Enqueue(operationId);
                while (_order.Count > capacity)
                {
                    _outcomes.Remove(_order.Dequeue());
                }
            }
        }
    }
}
