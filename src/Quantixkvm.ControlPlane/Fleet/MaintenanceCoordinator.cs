using Marten;
using Microsoft.Extensions.Options;
using Quantixkvm.ControlPlane.Commands;
using Quantixkvm.ControlPlane.Configuration;
using Quantixkvm.ControlPlane.ReadModels;
using Quantixkvm.Domain.Hosts;
using Quantixkvm.Domain.Vms;

namespace Quantixkvm.ControlPlane.Fleet;

/// <summary>
/// Empties hosts entering maintenance: running VMs are live-migrated (or, where a hypervisor cannot and the operator
/// allowed it, moved cold with a restart), stopped ones moved cold, each through placement, a few at a time. The host
/// is IN_MAINTENANCE once empty; VMs that cannot move are reported with their reasons, and the host stays ENTERING until
/// the operator acts (fixes the cause and re-enters, or exits). A failed move is not retried on its own.
/// </summary>
public sealed class MaintenanceCoordinator(
    IServiceScopeFactory scopes, TimeProvider clock, IOptions<ControlPlaneOptions> options, ILogger<MaintenanceCoordinator> logger)
    : PeriodicWork(scopes, clock, logger)
{
    protected override TimeSpan Interval => TimeSpan.FromSeconds(options.Value.Fleet.MaintenanceScanSeconds);

    protected override string What => "Maintenance scan";

    protected override async Task RunAsync(IServiceProvider services, CancellationToken cancellationToken)
    {
        var session = services.GetRequiredService<IQuerySession>();
        foreach (var host in await session.Query<HostView>().Where(h => h.Maintenance == MaintenanceState.Entering).ToListAsync(cancellationToken))
        {
            await EvacuateAsync(services, session, host, cancellationToken);
        }
    }

    private async Task EvacuateAsync(IServiceProvider services, IQuerySession session, HostView host, CancellationToken cancellationToken)
    {
        var fleet = services.GetRequiredService<FleetCommands>();
        var moves = services.GetRequiredService<VmMoves>();
        var vms = await session.Query<VmView>().Where(v => v.HostId == host.Id && v.DeletedAt == null).OrderBy(v => v.Name).ToListAsync(cancellationToken);
        var metadata = new CommandMetadata($"maintenance:{host.Id}:{host.Version}", "system:maintenance", host.Id.ToString());
        if (vms.Count == 0)
        {
            await fleet.HostAsync(host.Id, ctx => new CompleteMaintenance(ctx, 0), metadata, null, cancellationToken);
            logger.LogInformation("Host {HostName} is empty and in maintenance", host.Name);
            return;
        }

        var requestedAt = host.MaintenanceRequestedAt ?? DateTimeOffset.MinValue;
        var moving = vms.Count(v => v.MigrationId is not null);
        var stuck = new List<StuckVm>();
        foreach (var vm in vms)
        {
            if (vm.MigrationId is not null || vm.CurrentOperationId is not null)
            {
                continue;
            }

            var failed = await session.Query<MigrationView>()
                .Where(m => m.VmId == vm.Id && m.FromHostId == host.Id && m.Status == MigrationStatus.Failed && m.RequestedAt >= requestedAt)
                .OrderByDescending(m => m.RequestedAt).FirstOrDefaultAsync(cancellationToken);
            if (failed is not null)
            {
                stuck.Add(new StuckVm(vm.Id, vm.Name, $"its migration failed: {failed.Error}"));
                continue;
            }

            if (Plan(vm, host) is not { } plan)
            {
                stuck.Add(new StuckVm(vm.Id, vm.Name, Unmovable(vm, host)));
                continue;
            }

            if (moving >= options.Value.Fleet.MaxMigrationsPerHost)
            {
                continue;
            }

            try
            {
                await moves.MigrateAsync(
                    new MoveRequest(vm.Id, null, plan.Mode, plan.Restart, $"host '{host.Name}' is entering maintenance"),
                    new CommandMetadata($"evacuate:{host.Id}:{vm.Id}:{vm.Version}", "system:maintenance", host.Id.ToString()), null, cancellationToken);
                moving++;
            }
            catch (Exception ex) when (ex is CommandRejectedException or NoHostAvailableException)
            {
                stuck.Add(new StuckVm(vm.Id, vm.Name, ex.Message));
            }
        }

        if (moving == 0 && stuck.Count > 0 && !SameStuck(host.StuckVms, stuck))
        {
            await fleet.HostAsync(host.Id, ctx => new ReportEvacuationIncomplete(ctx, stuck),
                metadata with { CommandId = $"{metadata.CommandId}:stuck:{Domain.DeterministicId.From("stuck", string.Join("|", stuck))}" }, null, cancellationToken);
            logger.LogWarning("Host {HostName} cannot be emptied: {Stuck}", host.Name, string.Join("; ", stuck.Select(s => $"{s.VmName}: {s.Reason}")));
        }
    }

    private static (MigrationMode Mode, bool Restart)? Plan(VmView vm, HostView host) => vm.PowerState switch
    {
        PowerState.Stopped => (MigrationMode.Cold, false),
        PowerState.Running or PowerState.Paused when host.LiveMigration => (MigrationMode.Live, false),
        PowerState.Running or PowerState.Paused when host.AllowColdMigration => (MigrationMode.Cold, true),
        _ => null,
    };

    private static string Unmovable(VmView vm, HostView host) => vm.PowerState switch
    {
        PowerState.Running or PowerState.Paused =>
            $"it runs, and host '{host.Name}' cannot live-migrate ({host.LibvirtUri}); stop it, or enter maintenance with allowColdMigration (it is restarted on its new host)",
        _ => $"its power state is {vm.PowerState.ToString().ToUpperInvariant()}: the host's agent has not reported it",
    };

    private static bool SameStuck(IReadOnlyList<StuckVm> recorded, List<StuckVm> now) => recorded.SequenceEqual(now);
}
