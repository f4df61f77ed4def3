using System.Collections.Concurrent;
using System.Security.Cryptography;
using System.Text.Json;
using Marten;
using MassTransit;
using Microsoft.Extensions.Options;
using Quantixkvm.ControlPlane.Configuration;
using Quantixkvm.ControlPlane.Fleet;
using Quantixkvm.ControlPlane.ReadModels;
using Quantixkvm.Contracts;
using Quantixkvm.Domain.Hosts;

namespace Quantixkvm.ControlPlane.Networks;

/// <summary>
/// Sends each ONLINE host the whole network state it must hold (ADR 13): when it changed since the last send, and again
/// every <see cref="NetworkingOptions.ResendSeconds"/> so that a host that restarted or drifted converges (every
/// <see cref="NetworkingOptions.RetrySeconds"/> while the host reports a failure). The OVN
/// northbound part goes to one host: the ONLINE host with the lowest id among those that said they can write it.
/// </summary>
public sealed class NetworkReconciler(
    IServiceScopeFactory scopes, TimeProvider clock, IOptions<ControlPlaneOptions> options, ILogger<NetworkReconciler> logger)
    : PeriodicWork(scopes, clock, logger)
{
    private readonly ConcurrentDictionary<Guid, (string Fingerprint, DateTimeOffset SentAt)> _sent = new();
    private readonly ConcurrentDictionary<Guid, bool> _northboundCapable = new();

    protected override TimeSpan Interval => TimeSpan.FromSeconds(options.Value.Networking.ReconcileSeconds);

    protected override string What => "Network reconciliation";

    /// <summary>What a host's last report said about its access to OVN's northbound database.</summary>
    public void NoteNorthboundAccess(Guid hostId, bool canWrite) => _northboundCapable[hostId] = canWrite;

    /// <summary>The host that writes OVN's northbound database now, if any can.</summary>
    public Guid? NorthboundWriter(IEnumerable<Guid> onlineHosts) =>
        onlineHosts.Where(h => _northboundCapable.TryGetValue(h, out var can) && can).Order().Cast<Guid?>().FirstOrDefault();

    protected override async Task RunAsync(IServiceProvider services, CancellationToken cancellationToken)
    {
        var session = services.GetRequiredService<IQuerySession>();
        var hosts = (await services.GetRequiredService<HostDirectory>().AllAsync(cancellationToken))
            .Where(h => h.Status == HostStatus.Online).Select(h => h.Host.Id).ToList();
        if (hosts.Count == 0)
        {
            return;
        }

        var networks = await session.Query<NetworkView>().Where(n => n.DeletedAt == null).ToListAsync(cancellationToken);
        // A platform that has never had a network has nothing for its hosts to hold or remove: no messages at all.
        if (networks.Count == 0 && !await session.Query<NetworkView>().AnyAsync(cancellationToken))
        {
            return;
        }

        var groups = await session.Query<SecurityGroupView>().Where(g => g.DeletedAt == null).ToListAsync(cancellationToken);
        var (specs, securityGroups, northbound) = DesiredNetworks.Build(networks, groups);
        var writer = NorthboundWriter(hosts);
        // Every host gets the same state, the writer also the northbound part: two fingerprints serve them all.
        var fingerprints = (Hosts: Fingerprint(specs, securityGroups, null), Writer: Fingerprint(specs, securityGroups, northbound));
        var failingHosts = networks.SelectMany(n => n.Hosts).Where(h => h.Error is not null).Select(h => h.HostId).ToHashSet();
        var bus = services.GetRequiredService<ISendEndpointProvider>();
        var now = Clock.GetUtcNow();
        foreach (var hostId in hosts)
        {
            var desired = hostId == writer ? northbound : null;
            var fingerprint = desired is null ? fingerprints.Hosts : fingerprints.Writer;
            // A host that reported a failure gets the same state again sooner: its next attempt.
            var resend = TimeSpan.FromSeconds(failingHosts.Contains(hostId) ? options.Value.Networking.RetrySeconds : options.Value.Networking.ResendSeconds);
            if (_sent.TryGetValue(hostId, out var last) && last.Fingerprint == fingerprint && now - last.SentAt < resend)
            {
                continue;
            }

            var endpoint = await bus.GetSendEndpoint(new Uri($"queue:{AgentQueues.ForHost(hostId)}"));
            await endpoint.Send(new RealizeNetworks(hostId, now.UtcTicks, specs, desired, now, securityGroups), cancellationToken);
            _sent[hostId] = (fingerprint, now);
            logger.LogDebug("Sent host {HostId} its {Count} network(s){Northbound}", hostId, specs.Count, desired is null ? "" : " and OVN's northbound state");
        }
    }

    private static string Fingerprint(
        IReadOnlyList<NetworkSpecification> networks, IReadOnlyList<SecurityGroupSpecification> securityGroups, OvnNorthboundSpecification? northbound) =>
        Convert.ToHexString(SHA256.HashData(JsonSerializer.SerializeToUtf8Bytes(new { networks, securityGroups, northbound })));
}
