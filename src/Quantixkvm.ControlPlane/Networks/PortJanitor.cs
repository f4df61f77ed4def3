using Marten;
using Microsoft.Extensions.Options;
using Quantixkvm.ControlPlane.Commands;
using Quantixkvm.ControlPlane.Configuration;
using Quantixkvm.ControlPlane.Fleet;
using Quantixkvm.ControlPlane.ReadModels;

namespace Quantixkvm.ControlPlane.Networks;

/// <summary>
/// Releases ports no VM holds (ADR 13): the VM was deleted, or its attach was refused or failed, or the NIC was detached.
/// A port younger than <see cref="NetworkingOptions.PortGraceSeconds"/> is left alone: its VM may be about to take it.
/// </summary>
public sealed class PortJanitor(IServiceScopeFactory scopes, TimeProvider clock, IOptions<ControlPlaneOptions> options, ILogger<PortJanitor> logger)
    : PeriodicWork(scopes, clock, logger)
{
    protected override TimeSpan Interval => TimeSpan.FromSeconds(options.Value.Networking.PortJanitorSeconds);

    protected override string What => "Port release";

    protected override async Task RunAsync(IServiceProvider services, CancellationToken cancellationToken)
    {
        var session = services.GetRequiredService<IQuerySession>();
        var networks = await session.Query<NetworkView>().Where(n => n.DeletedAt == null).ToListAsync(cancellationToken);
        var settled = Clock.GetUtcNow() - TimeSpan.FromSeconds(options.Value.Networking.PortGraceSeconds);
        var candidates = networks.SelectMany(n => n.Ports.Where(p => p.AddedAt < settled).Select(p => (Network: n, Port: p))).ToList();
        if (candidates.Count == 0)
        {
            return;
        }

        var vms = (await session.LoadManyAsync<VmView>(cancellationToken, candidates.Select(c => c.Port.VmId).Distinct()))
            .ToDictionary(v => v.Id);
        var commands = services.GetRequiredService<NetworkCommands>();
        foreach (var (network, port) in candidates)
        {
            if (vms.TryGetValue(port.VmId, out var vm) && vm.DeletedAt is null && vm.Nics.Any(n => n.Nic.PortId == port.PortId))
            {
                continue;
            }

            await commands.RemovePortAsync(network.Id, port.PortId,
                new CommandMetadata($"release-port:{port.PortId}", "system:port-janitor", port.PortId.ToString()), cancellationToken);
            logger.LogInformation("Released port {PortId} ({Mac}, {Addresses}) of network {NetworkName}: VM {VmId} does not hold it",
                port.PortId, port.Mac, string.Join(", ", port.Addresses.Select(a => a.Address)), network.Name, port.VmId);
        }
    }
}
