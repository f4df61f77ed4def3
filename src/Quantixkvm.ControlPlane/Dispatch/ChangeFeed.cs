using JasperFx.Events;
using JasperFx.Events.Daemon;
using JasperFx.Events.Projections;
using Marten;
using Marten.Subscriptions;
using Quantixkvm.ControlPlane.ReadModels;
using Quantixkvm.Domain.Vms;

namespace Quantixkvm.ControlPlane.Dispatch;

/// <summary>
/// Turns the event log into subscription messages. Each event yields the VM (and operation) exactly
/// as it was right after that event — folded with the same pure functions as the read models — so
/// a subscriber sees every step in order, never a later state twice (unless it falls a whole
/// <see cref="Broadcast{T}"/> queue behind, when it loses the oldest steps rather than the server its memory).
/// </summary>
public sealed class ChangeFeed(ChangeHub hub) : SubscriptionBase
{
    public override async Task<IChangeListener> ProcessEventsAsync(
        EventRange page, ISubscriptionController controller, IDocumentOperations operations, CancellationToken cancellationToken)
    {
        var vmEvents = page.Events.Where(e => e.Data is VmEvent).ToList();
        if (vmEvents.Count == 0 || (hub.Vms.SubscriberCount == 0 && hub.Operations.SubscriberCount == 0))
        {
            return NullChangeListener.Instance;
        }

        var snapshots = new Dictionary<long, (VmView? Vm, OperationView? Operation)>();
        foreach (var stream in vmEvents.GroupBy(e => e.StreamId))
        {
            var wanted = stream.Select(e => e.Sequence).ToHashSet();
            var history = await operations.Events.FetchStreamAsync(stream.Key, version: stream.Max(e => e.Version), token: cancellationToken);
            VmView? vm = null;
            var operationsById = new Dictionary<Guid, OperationView?>();
            foreach (var e in history)
            {
                vm = VmView.After(vm, e);
                OperationView? operation = null;
                if (OperationView.OperationIdOf(e.Data) is { } operationId)
                {
                    operation = OperationView.After(operationsById.GetValueOrDefault(operationId), e);
                    operationsById[operationId] = operation;
                }

                if (wanted.Contains(e.Sequence))
                {
                    var current = vm?.CurrentOperationId is { } currentId ? operationsById.GetValueOrDefault(currentId) : null;
                    snapshots[e.Sequence] = (vm is null ? null : vm with { CurrentOperationSnapshot = current }, operation);
                }
            }
        }

        foreach (var e in vmEvents.OrderBy(e => e.Sequence))
        {
            if (!snapshots.TryGetValue(e.Sequence, out var snapshot))
            {
                continue;
            }

            if (snapshot.Operation is { } operation)
            {
                hub.Operations.Publish(operation);
            }

            if (snapshot.Vm is { } vm)
            {
                hub.Vms.Publish(vm);
            }
        }

        return NullChangeListener.Instance;
    }
}
