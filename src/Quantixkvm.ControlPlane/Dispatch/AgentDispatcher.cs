using JasperFx.Events;
using JasperFx.Events.Daemon;
using JasperFx.Events.Projections;
using Marten;
using Marten.Subscriptions;
using MassTransit;
using Quantixkvm.ControlPlane.Agents;
using Quantixkvm.ControlPlane.ReadModels;
using Quantixkvm.Contracts;
using Quantixkvm.Domain.Vms;
using Quantixkvm.Hosting;

namespace Quantixkvm.ControlPlane.Dispatch;

/// <summary>
/// Sends each requested operation to its host's queue, from the event log and never from the HTTP
/// request. The daemon moves the checkpoint only after a batch is sent (with broker confirms), so a
/// crash means a resend, never a loss; agents de-duplicate by operation id.
/// </summary>
public sealed class AgentDispatcher(IBus bus, ILogger<AgentDispatcher> logger) : SubscriptionBase
{
    public override async Task<IChangeListener> ProcessEventsAsync(
        EventRange page, ISubscriptionController controller, IDocumentOperations operations, CancellationToken cancellationToken)
    {
        foreach (var e in page.Events)
        {
            if (e.Data is not VmOperationRequested requested)
            {
                continue;
            }

            // An operation that ended while dispatch was held (timed out, superseded) is not sent late.
            var operation = await operations.LoadAsync<OperationView>(requested.OperationId, cancellationToken);
            if (operation is null || operation.IsFinished)
            {
                logger.LogInformation("Operation {OperationId} already {Status}; not dispatched", requested.OperationId, operation?.Status);
                continue;
            }

            var vm = await operations.LoadAsync<VmView>(requested.VmId, cancellationToken);
            if (vm is null)
            {
                logger.LogError("Operation {OperationId} names VM {VmId}, which has no read model; not dispatched", requested.OperationId, requested.VmId);
                continue;
            }

            var correlationId = Guid.TryParse(e.CorrelationId, out var parsed) ? parsed : requested.OperationId;
            using var scope = logger.BeginScope(new Dictionary<string, object> { [Logging.CorrelationId] = correlationId });
            var message = new RunDomainOperation(
                requested.OperationId, requested.CommandId, correlationId, requested.HostId,
                requested.Kind.ToWire(), requested.Force,
                new DomainSpecification(vm.Id, vm.Name, vm.Vcpus, vm.MemoryMiB),
                requested.DesiredPowerState.ToWire(), requested.Deadline);
            await SendAsync(message, cancellationToken);
            logger.LogInformation("Dispatched {Kind} operation {OperationId} for VM {VmId} to host {HostId}",
                requested.Kind, requested.OperationId, requested.VmId, requested.HostId);
        }

        return NullChangeListener.Instance;
    }

    /// <summary>
    /// Retries until the broker takes the message: dispatch must neither skip a command nor let the
    /// daemon give up on the subscription because RabbitMQ blinked.
    /// </summary>
    private async Task SendAsync(RunDomainOperation message, CancellationToken cancellationToken)
    {
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                var endpoint = await bus.GetSendEndpoint(new Uri($"queue:{AgentQueues.ForHost(message.HostId)}"));
                await endpoint.Send(message, context =>
                {
                    context.CorrelationId = message.CorrelationId;
                    context.MessageId = message.OperationId;
                }, cancellationToken);
                return;
            }
            catch (Exception ex) when (!cancellationToken.IsCancellationRequested)
            {
                var delay = TimeSpan.FromMilliseconds(Math.Min(30_000, 250 * Math.Pow(2, Math.Min(attempt, 10))));
                // Dispatch waits here, in order, until the broker is back; past a few tries that is an operator's problem.
                logger.Log(attempt < 5 ? LogLevel.Warning : LogLevel.Error, ex,
                    "Sending operation {OperationId} to host {HostId} failed (attempt {Attempt}); dispatch is held, retrying in {Delay}",
                    message.OperationId, message.HostId, attempt, delay);
                await Task.Delay(delay, cancellationToken);
            }
        }
    }
}
