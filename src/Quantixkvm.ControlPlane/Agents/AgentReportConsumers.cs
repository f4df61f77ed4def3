using Marten;
using MassTransit;
using Quantixkvm.ControlPlane.Commands;
using Quantixkvm.ControlPlane.Dispatch;
using Quantixkvm.ControlPlane.ReadModels;
using Quantixkvm.Contracts;
using Quantixkvm.Domain.Hosts;
using Quantixkvm.Domain.Vms;
using Quantixkvm.Hosting;

namespace Quantixkvm.ControlPlane.Agents;

/// <summary>Agents' operation reports become commands on the VM, decided like any other (thin edge).</summary>
public sealed class OperationOutcomeConsumer(VmCommands vms, ILogger<OperationOutcomeConsumer> logger)
    : IConsumer<DomainOperationStarted>, IConsumer<DomainOperationFinished>
{
    public async Task Consume(ConsumeContext<DomainOperationStarted> context)
    {
        var m = context.Message;
        using var scope = logger.BeginScope(new Dictionary<string, object> { [Logging.CorrelationId] = m.CorrelationId });
        await Report(m.VmId, m.OperationId, (ctx, _) => new MarkOperationStarted(ctx, m.OperationId), context, m.HostId, m.CorrelationId);
    }

    public async Task Consume(ConsumeContext<DomainOperationFinished> context)
    {
        var m = context.Message;
        using var scope = logger.BeginScope(new Dictionary<string, object> { [Logging.CorrelationId] = m.CorrelationId });
        var observed = m.ObservedPowerState.ToDomain();
        await Report(
            m.VmId, m.OperationId,
            (ctx, _) => m.Succeeded
                ? new CompleteOperation(ctx, m.OperationId, observed, m.FinishedAt)
                : new FailOperation(
                    ctx, m.OperationId, m.ErrorCode ?? "HYPERVISOR_ERROR", m.ErrorMessage ?? "the host gave no message", observed, m.FinishedAt),
            context, m.HostId, m.CorrelationId);
        logger.LogInformation("Operation {OperationId} on VM {VmId} reported {Outcome} by host {HostId}{Error}",
            m.OperationId, m.VmId, m.Succeeded ? "succeeded" : "failed", m.HostId, m.Succeeded ? "" : $": {m.ErrorMessage}");
    }

    private async Task Report(
        Guid vmId, Guid operationId, Func<Domain.CommandContext, OperationTimeouts, VmCommand> build, ConsumeContext context,
        Guid hostId, Guid correlationId)
    {
        try
        {
            // A redelivered report decides nothing new: the operation's state already holds its outcome.
            var commandId = $"report:{context.MessageId ?? NewId.NextGuid()}";
            await vms.HandleAsync(vmId, build, new CommandMetadata(commandId, $"agent:{hostId}", correlationId.ToString(), operationId.ToString()),
                expectedVersion: null, context.CancellationToken);
        }
        catch (CommandRejectedException ex)
        {
            // Reports are facts about the past; one the VM cannot place is logged, never retried forever.
            logger.LogWarning("Report for operation {OperationId} on VM {VmId} ignored: {Reason}", operationId, vmId, ex.Message);
        }
    }
}

/// <summary>Registration and inventory: who the host is, and what it really runs.</summary>
public sealed class HostReportConsumer(
    AggregateCommands commands, VmCommands vms, StorageCommands storage, IQuerySession session, ILogger<HostReportConsumer> logger)
    : IConsumer<HostRegistration>, IConsumer<HostInventory>
{
    public async Task Consume(ConsumeContext<HostRegistration> context)
    {
        var m = context.Message;
        var facts = new HostFacts(
            m.Name, m.Cpus, m.MemoryMiB, m.CpuModel, m.LibvirtUri, m.AgentVersion, m.CpuFeatures?.Order(StringComparer.Ordinal).ToList(),
            m.LiveMigration ?? false, m.MigrateAddress, m.PeerLibvirtUri);
        var result = await commands.HandleAsync<HostState, HostEvent>(
            m.HostId, HostState.Initial, HostDecider.Evolve,
            (state, ctx) => HostDecider.Decide(new RegisterHost(ctx, m.HostId, facts), state),
            new CommandMetadata($"register:{context.MessageId}", $"agent:{m.HostId}", (context.CorrelationId ?? m.HostId).ToString()),
            expectedVersion: null, context.CancellationToken);
        logger.LogInformation("Host {HostName} ({HostId}) registered: {Cpus} CPUs, {MemoryMiB} MiB, {LibvirtUri}{Changed}",
            m.Name, m.HostId, m.Cpus, m.MemoryMiB, m.LibvirtUri, result.Appended ? "" : " (unchanged)");
    }

    /// <summary>Every VM placed on the host is compared with what the host reports; a difference is drift, recorded as an event.</summary>
    public async Task Consume(ConsumeContext<HostInventory> context)
    {
        var m = context.Message;
        var reported = m.Domains.Where(d => d.VmId is not null).ToDictionary(d => d.VmId!.Value, d => d.PowerState.ToDomain());
        var placed = await session.Query<VmView>().Where(v => v.HostId == m.HostId && v.DeletedAt == null).ToListAsync(context.CancellationToken);
        foreach (var (vmId, observed, source) in InventoryDrift.Find(placed.Select(v => (v.Id, v.PowerState)), reported))
        {
            try
            {
                await vms.HandleAsync(
                    vmId, (ctx, _) => new ObservePowerState(ctx, observed, source, m.TakenAt),
                    new CommandMetadata($"inventory:{context.MessageId}:{vmId}", $"agent:{m.HostId}", (context.CorrelationId ?? m.HostId).ToString()),
                    expectedVersion: null, context.CancellationToken);
            }
            catch (CommandRejectedException ex)
            {
                logger.LogInformation("Inventory of host {HostId} for VM {VmId} ignored: {Reason}", m.HostId, vmId, ex.Message);
            }
        }

        await ObserveDisksAsync(m, placed, context);
        foreach (var pool in m.Pools ?? [])
        {
            try
            {
                await storage.ObservePoolCapacityAsync(pool.PoolId, m.HostId, pool.CapacityBytes, pool.AllocationBytes, pool.AvailableBytes,
                    new CommandMetadata($"inventory-pool:{context.MessageId}:{pool.PoolId}", $"agent:{m.HostId}", (context.CorrelationId ?? m.HostId).ToString()),
                    context.CancellationToken);
            }
            catch (CommandRejectedException ex)
            {
                logger.LogInformation("Inventory of host {HostId} for pool {PoolId} ignored: {Reason}", m.HostId, pool.PoolId, ex.Message);
            }
        }

        await ReleaseLeftoversAsync(m, placed, context);
        var unknown = m.Domains.Count(d => d.VmId is null);
        if (unknown > 0)
        {
            logger.LogInformation("Host {HostId} runs {Count} domains Quantixkvm did not define", m.HostId, unknown);
        }
    }

    /// <summary>
    /// Domains of VMs that now live elsewhere (moved away, or restarted by HA while this host was fenced) or no longer
    /// exist are released: destroyed and undefined, volumes kept. A running one is released only when the VM's own host
    /// reports it running too (or the VM is deleted); otherwise it may be the only instance (a migration whose outcome
    /// was not recorded), and it is only logged. Domains of VMs with a move under way are left alone.
    /// </summary>
    private async Task ReleaseLeftoversAsync(HostInventory m, IReadOnlyList<VmView> placed, ConsumeContext context)
    {
        var here = placed.Select(v => v.Id).ToHashSet();
        var foreign = m.Domains.Where(d => d.VmId is { } id && !here.Contains(id)).ToList();
        if (foreign.Count == 0)
        {
            return;
        }

        var vms = (await session.LoadManyAsync<VmView>(context.CancellationToken, foreign.Select(d => d.VmId!.Value))).ToDictionary(v => v.Id);
        var release = new List<Guid>();
        foreach (var domain in foreign)
        {
            var vm = vms.GetValueOrDefault(domain.VmId!.Value);
            if (vm is not null && (vm.HostId == m.HostId || vm.MigrationId is not null || vm.CurrentOperationId is not null))
            {
                continue;
            }

            // Running here and reported running by the VM's own host (e.g. restarted there by HA while this host was fenced):
            // two instances, and this one is the stale one.
            var runsWhereRecorded = vm is { PowerState: PowerState.Running };
            if (vm is null || vm.DeletedAt is not null || domain.PowerState != DomainPowerState.Running || runsWhereRecorded)
            {
                release.Add(domain.VmId.Value);
            }
            else
            {
                logger.LogWarning("Host {HostId} runs a domain of VM {VmId}, which is recorded on host {VmHostId}; left running for an operator",
                    m.HostId, vm.Id, vm.HostId);
            }
        }

        if (release.Count > 0)
        {
            var endpoint = await context.GetSendEndpoint(new Uri($"queue:{AgentQueues.ForHost(m.HostId)}"));
            await endpoint.Send(new ReleaseDomains(m.HostId, release, "these VMs live on other hosts now, or were deleted", m.TakenAt), context.CancellationToken);
            logger.LogWarning("Host {HostId} still holds domains of {Count} VMs that live elsewhere or were deleted; releasing them: {VmIds}",
                m.HostId, release.Count, release);
        }
    }

    /// <summary>The disks each domain holds (by serial) against the VM's disk list: a difference is drift, recorded on the VM.</summary>
    private async Task ObserveDisksAsync(HostInventory m, IReadOnlyList<VmView> placed, ConsumeContext context)
    {
        var reported = m.Domains.Where(d => d.VmId is not null && d.DiskSerials is not null).ToDictionary(d => d.VmId!.Value, d => d.DiskSerials!);
        foreach (var vm in placed)
        {
            if (!reported.TryGetValue(vm.Id, out var serials))
            {
                continue;
            }

            var bySerial = vm.Disks.ToDictionary(d => DiskAttachment.SerialFor(d.Disk.VolumeId), d => d.Disk.VolumeId);
            var present = serials.Where(bySerial.ContainsKey).Select(s => bySerial[s]).ToList();
            var unknown = serials.Where(s => !bySerial.ContainsKey(s)).ToList();
            try
            {
                var result = await vms.HandleAsync(
                    vm.Id, (ctx, _) => new ObserveDisks(ctx, present, unknown, m.TakenAt),
                    new CommandMetadata($"inventory-disks:{context.MessageId}:{vm.Id}", $"agent:{m.HostId}", (context.CorrelationId ?? m.HostId).ToString()),
                    expectedVersion: null, context.CancellationToken);
                if (result.Appended)
                {
                    logger.LogWarning("VM {VmId} on host {HostId}: its domain's disks differ from its record (holds {Serials})", vm.Id, m.HostId, serials);
                }
            }
            catch (CommandRejectedException ex)
            {
                logger.LogInformation("Disk inventory of host {HostId} for VM {VmId} ignored: {Reason}", m.HostId, vm.Id, ex.Message);
            }
        }
    }
}

/// <summary>A live migration's progress: telemetry, overwritten in place and pushed to subscribers.</summary>
public sealed class MigrationProgressConsumer(IDocumentStore store, ChangeHub hub, TimeProvider clock) : IConsumer<DomainOperationProgress>
{
    public async Task Consume(ConsumeContext<DomainOperationProgress> context)
    {
        var m = context.Message;
        var progress = new MigrationProgress
        {
            Id = m.OperationId, DataTotalBytes = m.DataTotalBytes, DataProcessedBytes = m.DataProcessedBytes, DataRemainingBytes = m.DataRemainingBytes,
            ElapsedSeconds = m.ElapsedSeconds, ReportedAt = clock.GetUtcNow(),
        };
        await using var session = store.LightweightSession();
        session.Store(progress);
        await session.SaveChangesAsync(context.CancellationToken);
        if (await session.LoadAsync<MigrationView>(m.OperationId, context.CancellationToken) is { } migration)
        {
            hub.Migrations.Publish(new MigrationUpdate(migration, progress));
        }
    }
}

/// <summary>
/// Heartbeats overwrite one telemetry document per host: liveness, not history. Stamped with the
/// control plane's clock, so a host with a skewed clock is not judged dead or alive by it. Consumed in batches, one
/// transaction each: at 10,000 hosts one commit per heartbeat was the limit (the scale bench's heartbeat queue grew).
/// </summary>
public sealed class HeartbeatConsumer(IDocumentStore store, TimeProvider clock) : IConsumer<Batch<HostHeartbeat>>
{
    /// <summary>How the heartbeat queue's endpoint collects batches: up to this many, or what arrived within the time limit.</summary>
    public static void Configure(IConsumerConfigurator<HeartbeatConsumer> consumer) =>
        consumer.Options<BatchOptions>(batch => batch.SetMessageLimit(MaxBatch).SetTimeLimit(TimeSpan.FromMilliseconds(50)).SetConcurrencyLimit(2));

    /// <summary>The endpoint's prefetch must cover a full batch of each concurrent batch.</summary>
    public const int MaxBatch = 500;

    public async Task Consume(ConsumeContext<Batch<HostHeartbeat>> context)
    {
        var now = clock.GetUtcNow();
        await using var session = store.LightweightSession();
        // The last heartbeat of each host in the batch is the one that counts.
        foreach (var beat in context.Message.Select(m => m.Message).GroupBy(m => m.HostId).Select(g => g.Last()))
        {
            session.Store(new HostLiveness { Id = beat.HostId, LastHeartbeatAt = now, DomainCount = beat.DomainCount });
        }

        await session.SaveChangesAsync(context.CancellationToken);
    }
}
