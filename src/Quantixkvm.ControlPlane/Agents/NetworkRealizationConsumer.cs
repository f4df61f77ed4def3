using Marten;
using MassTransit;
using Quantixkvm.ControlPlane.Commands;
using Quantixkvm.ControlPlane.Networks;
using Quantixkvm.ControlPlane.ReadModels;
using Quantixkvm.Contracts;

namespace Quantixkvm.ControlPlane.Agents;

/// <summary>
/// A host's realization report becomes events on the networks it concerns, where it is news: a report that repeats what
/// the read model already shows (most of them, every round) appends nothing and costs one read.
/// </summary>
public sealed class NetworkRealizationConsumer(
    NetworkCommands networks, NetworkReconciler reconciler, IQuerySession session, ILogger<NetworkRealizationConsumer> logger)
    : IConsumer<NetworksRealized>
{
    public async Task Consume(ConsumeContext<NetworksRealized> context)
    {
        var report = context.Message;
        reconciler.NoteNorthboundAccess(report.HostId, report.CanWriteNorthbound);
        var ids = report.Networks.Select(n => n.NetworkId).ToList();
        var views = (await session.LoadManyAsync<NetworkView>(context.CancellationToken, ids)).ToDictionary(v => v.Id);
        foreach (var result in report.Networks)
        {
            if (!views.TryGetValue(result.NetworkId, out var view) || view.DeletedAt is not null)
            {
                continue;
            }

            var error = result.Succeeded ? null : result.Error ?? "the host gave no reason";
            var known = view.Hosts.FirstOrDefault(h => h.HostId == report.HostId);
            if (known is not null && (error is null ? known.Error is null && known.Generation == result.Generation : known.Error == error))
            {
                continue;
            }

            try
            {
                await networks.RecordRealizationAsync(result.NetworkId, report.HostId, result.Generation, error, result.Summary ?? "",
                    new CommandMetadata($"realization:{report.HostId}:{result.NetworkId}:{report.Revision}", $"agent:{report.HostId}",
                        context.CorrelationId?.ToString() ?? report.HostId.ToString()),
                    context.CancellationToken);
            }
            catch (CommandRejectedException ex)
            {
                logger.LogWarning("Realization report of network {NetworkId} by host {HostId} ignored: {Reason}", result.NetworkId, report.HostId, ex.Message);
            }

            if (error is not null)
            {
                logger.LogWarning("Host {HostId} could not realize network {NetworkName} ({NetworkId}) generation {Generation}: {Error}",
                    report.HostId, view.Name, view.Id, result.Generation, error);
            }
        }
    }
}
