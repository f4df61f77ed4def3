using Microsoft.Extensions.Options;
using Quantixkvm.ControlPlane.Commands;
using Quantixkvm.ControlPlane.Configuration;
using Quantixkvm.ControlPlane.ReadModels;
using Quantixkvm.Domain.Hosts;

namespace Quantixkvm.ControlPlane.Fleet;

/// <summary>
/// Turns heartbeats (telemetry) into host states (events): ONLINE → UNREACHABLE when a host has been silent for longer
/// than its cluster's detection time, and back to ONLINE when its heartbeats return.
/// </summary>
public sealed class LivenessWatcher(
    IServiceScopeFactory scopes, TimeProvider clock, IOptions<ControlPlaneOptions> options, ILogger<LivenessWatcher> logger)
    : PeriodicWork(scopes, clock, logger)
{
    protected override TimeSpan Interval => TimeSpan.FromSeconds(options.Value.Fleet.LivenessScanSeconds);

    protected override string What => "Liveness scan";

    protected override async Task RunAsync(IServiceProvider services, CancellationToken cancellationToken) =>
        await ScanAsync(services, await services.GetRequiredService<HostDirectory>().AllAsync(cancellationToken), cancellationToken);

    /// <summary>Acts on one read of every host; a test hands it a read that a heartbeat has overtaken since.</summary>
    internal async Task ScanAsync(IServiceProvider services, IReadOnlyList<HostSnapshot> hosts, CancellationToken cancellationToken)
    {
        var directory = services.GetRequiredService<HostDirectory>();
        var fleet = services.GetRequiredService<FleetCommands>();
        var now = Clock.GetUtcNow();
        foreach (var host in hosts)
        {
            var view = host.Host;
            var detection = directory.DetectionSecondsFor(host.Cluster);
            if (view.Status == HostStatus.Online && host.Status == HostStatus.Unreachable && await StillSilentAsync(directory, view.Id, cancellationToken))
            {
                await fleet.HostAsync(view.Id, ctx => new MarkHostUnreachable(ctx, host.LastHeartbeatAt, detection),
                    Metadata($"unreachable:{view.Id}:{view.Version}", view.Id), null, cancellationToken);
                logger.LogWarning("Host {HostName} ({HostId}) is unreachable: last heartbeat {LastHeartbeat}, detection time {Detection} s",
                    view.Name, view.Id, host.LastHeartbeatAt?.ToString("O") ?? "never", detection);
            }
            else if (view.Status is HostStatus.Unreachable or HostStatus.Fenced
                     && host.LastHeartbeatAt is { } beat && beat > (view.UnreachableSince ?? DateTimeOffset.MinValue)
                     && (view.FencedAt is null || beat > view.FencedAt || view.Status == HostStatus.Unreachable)
                     && now - beat <= TimeSpan.FromSeconds(detection))
            {
                await fleet.HostAsync(view.Id, ctx => new MarkHostRecovered(ctx), Metadata($"recovered:{view.Id}:{view.Version}", view.Id), null, cancellationToken);
                logger.LogWarning("Host {HostName} ({HostId}) sends heartbeats again (it was {Status})", view.Name, view.Id, view.Status);
            }
        }
    }

    /// <summary>
    /// Reads the host's liveness again just before it is marked unreachable: the scan read every host at its start, and a
    /// heartbeat that arrived since (a host coming back, or a long scan of many hosts) must not be overruled by that
    /// older read. A heartbeat arriving after this check is still caught: the next scan marks the host recovered.
    /// </summary>
    private static async Task<bool> StillSilentAsync(HostDirectory directory, Guid hostId, CancellationToken cancellationToken) =>
        await directory.FindAsync(hostId, cancellationToken) is { Status: HostStatus.Unreachable, Host.Status: HostStatus.Online };

    private static CommandMetadata Metadata(string commandId, Guid hostId) => new(commandId, "system:liveness", hostId.ToString());
}
