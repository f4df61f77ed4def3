using System.Xml.Linq;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Quantixkvm.Agent.Storage;
using Quantixkvm.Contracts;
using Quantixkvm.Libvirt;

namespace Quantixkvm.Agent.Hypervisor;

/// <summary>The outcome of one operation on a domain: what the host looks like afterwards, and the error if any.</summary>
public sealed record DomainOutcome(bool Succeeded, DomainPowerState Observed, string? ErrorCode = null, string? ErrorMessage = null)
{
    public static DomainOutcome Fail(DomainPowerState observed, string code, string message) => new(false, observed, code, message);
}

/// <summary>
/// Carries out an operation against libvirt. It reads the domain's real state first, so a command
/// delivered twice (or already done by hand) is a success without acting twice: a disk already attached,
/// a snapshot already taken, a disk or snapshot already gone, a domain already migrated to its target.
/// </summary>
public sealed class DomainOperations(
    HypervisorConnection hypervisor,
    TimeProvider clock,
    StoragePools pools,
    CloudInitSeeds seeds,
    IOptions<AgentOptions> options,
    MigrationJobs migrations,
    DomainNics nics,
    ILogger<DomainOperations>? logger = null)
{
    private readonly ILogger _logger = logger ?? NullLogger<DomainOperations>.Instance;

    /// <summary>How long a detach waits for the guest to release a hot-unplugged NIC before its TAP is unplugged anyway (agent plug mode).</summary>
    public static readonly TimeSpan NicReleaseWait = TimeSpan.FromSeconds(20);

    /// <summary>How often a running migration's progress is read and reported.</summary>
    public static readonly TimeSpan ProgressInterval = TimeSpan.FromSeconds(1);

    /// <summary>The libvirt name of a VM's domain; the user's name goes into the title, escaped.</summary>
    public static string DomainName(Guid vmId) => $"qkvm-{vmId:N}";

    /// <summary>
    /// Runs the operation and returns its outcome; never throws for a failure of the operation itself. While a migration
    /// runs, <paramref name="progress"/> is called about once a second with libvirt's job figures (all zero while the job is
    /// still setting up); a failing callback is logged and does not disturb the migration.
    /// </summary>
    public async Task<DomainOutcome> RunAsync(
        RunDomainOperation command, TimeSpan deadlineMargin, CancellationToken cancellationToken,
        Func<DomainJobInfo, CancellationToken, Task>? progress = null)
    {
        var vmId = command.Domain.VmId;
        if (clock.GetUtcNow() >= command.Deadline)
        {
            return DomainOutcome.Fail(Observe(vmId), "DEADLINE_PASSED",
                $"the operation reached this host after its deadline {command.Deadline:O}; nothing was done");
        }

        try
        {
            using var domain = hypervisor.Connection.FindDomain(vmId);
            return command.Kind switch
            {
                DomainOperationKind.Create => await CreateAsync(command, domain, cancellationToken),
                DomainOperationKind.Delete => await DeleteAsync(vmId, domain, cancellationToken),
                DomainOperationKind.Recover => await RecoverAsync(command, domain, cancellationToken),
                DomainOperationKind.Migrate => await MigrateAsync(command, domain, command.Deadline - deadlineMargin, progress, cancellationToken),
                _ when domain is null => DomainOutcome.Fail(DomainPowerState.Unknown, "DOMAIN_NOT_FOUND",
                    $"domain {DomainName(vmId)} is not defined on this host"),
                DomainOperationKind.Start => await StartAsync(command, domain, cancellationToken),
                DomainOperationKind.Stop when command.Force =>
                    InTurn(command, domain, d => d.Destroy(), from: null, done: DomainPowerState.Stopped, aim: DomainPowerState.Stopped),
                DomainOperationKind.Stop => await ShutdownAsync(command, domain, command.Deadline - deadlineMargin, cancellationToken),
                DomainOperationKind.Reboot => InTurn(command, domain, d => d.Reboot(), from: DomainPowerState.Running, done: null, aim: DomainPowerState.Running),
                DomainOperationKind.Pause => InTurn(command, domain, d => d.Suspend(), from: DomainPowerState.Running, done: DomainPowerState.Paused, aim: DomainPowerState.Paused),
                DomainOperationKind.Resume => InTurn(command, domain, d => d.Resume(), from: DomainPowerState.Paused, done: DomainPowerState.Running, aim: DomainPowerState.Running),
                DomainOperationKind.AttachDisk => AttachDisk(RequireDisk(command), domain),
                DomainOperationKind.DetachDisk => DetachDisk(RequireDisk(command), domain),
                DomainOperationKind.AttachNic => await AttachNicAsync(command, domain, cancellationToken),
                DomainOperationKind.DetachNic => await DetachNicAsync(command, domain, cancellationToken),
                DomainOperationKind.CreateSnapshot => CreateSnapshot(RequireSnapshot(command), domain),
                DomainOperationKind.RevertSnapshot => RevertSnapshot(RequireSnapshot(command), domain),
                DomainOperationKind.DeleteSnapshot => DeleteSnapshot(RequireSnapshot(command), domain),
                _ => DomainOutcome.Fail(Observe(vmId), "UNSUPPORTED", $"operation {command.Kind} is not supported by this agent"),
            };
        }
        catch (LibvirtException ex)
        {
            return DomainOutcome.Fail(Observe(vmId), LibvirtCode(ex), ex.Message);
        }
        catch (OperationFailure ex)
        {
            return DomainOutcome.Fail(Observe(vmId), ex.Code, ex.Message);
        }
        catch (ArgumentException ex)
        {
            return DomainOutcome.Fail(Observe(vmId), "INVALID_SPEC", ex.Message);
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            // Whatever goes wrong here, the operation must end with an outcome, not wait for its deadline.
            return DomainOutcome.Fail(Observe(vmId), "AGENT_ERROR", $"the agent could not carry out the operation: {ex.Message}");
        }
    }

    /// <summary>The state of a VM's domain as libvirt has it now; UNKNOWN when it is not defined here.</summary>
    public DomainPowerState Observe(Guid vmId)
    {
        try
        {
            using var domain = hypervisor.Connection.FindDomain(vmId);
            return domain is null ? DomainPowerState.Unknown : PowerStateOf(domain.GetState().State);
        }
        catch (LibvirtException)
        {
            return DomainPowerState.Unknown;
        }
    }

    public static DomainPowerState PowerStateOf(DomainState state) => state switch
    {
        DomainState.Running or DomainState.Blocked or DomainState.Shutdown => DomainPowerState.Running,
        DomainState.Paused or DomainState.PmSuspended => DomainPowerState.Paused,
        DomainState.Shutoff or DomainState.Crashed => DomainPowerState.Stopped,
        _ => DomainPowerState.Unknown,
    };

    /// <summary>libvirt's error number as a stable code, e.g. LIBVIRT_OPERATION_INVALID.</summary>
    public static string LibvirtCode(LibvirtException ex) =>
        "LIBVIRT_" + string.Concat(ex.ErrorCode.ToString().Select((c, i) => i > 0 && char.IsUpper(c) ? "_" + c : c.ToString())).ToUpperInvariant();

    /// <summary>The serial number a VM's volume shows in the guest: the volume id without dashes, cut to the 20 characters virtio-blk carries.</summary>
    public static string DiskSerial(Guid volumeId) => DiskAttachment.SerialFor(volumeId);

    /// <summary>
    /// The libvirt disk of one of a VM's volumes. A dir pool's volume is found by pool and volume name, so libvirt resolves
    /// the path. An rbd pool's volume is a network disk QEMU opens itself (libvirt 9 cannot start a volume disk of an rbd
    /// pool): the pool's Ceph pool, monitors and user, and the libvirt secret this host defines for that user.
    /// </summary>
    /// <exception cref="OperationFailure">INVALID_SPEC: an rbd pool without its Ceph pool, user or monitors.</exception>
    public static DiskSpec DiskSpecOf(DiskAttachment disk) => disk.Pool.Kind == "rbd"
        ? new(
            disk.TargetDev, disk.Bus, "disk", disk.Format,
            BootOrder: disk.BootOrder, ReadOnly: disk.ReadOnly, Serial: DiskSerial(disk.VolumeId), SourceRbd: RbdSourceOf(disk))
        : new(
            disk.TargetDev, disk.Bus, "disk", disk.Format, disk.Pool.LibvirtName, disk.VolumeName,
            BootOrder: disk.BootOrder, ReadOnly: disk.ReadOnly, Serial: DiskSerial(disk.VolumeId));

    /// <summary>Where an rbd pool's volume is for QEMU.</summary>
    public static RbdDiskSource RbdSourceOf(DiskAttachment disk)
    {
        var pool = disk.Pool;
        var user = pool.CephUser ?? throw new OperationFailure("INVALID_SPEC", $"rbd pool {pool.LibvirtName} names no Ceph user");
        return new RbdDiskSource(
            pool.CephPool ?? throw new OperationFailure("INVALID_SPEC", $"rbd pool {pool.LibvirtName} names no Ceph pool"),
            disk.VolumeName,
            StoragePools.ParseMonitors(pool.CephMonitors),
            user,
            StoragePools.CephSecretUuid(user));
    }

    /// <summary>Where a QEMU guest's serial console is logged.</summary>
    public string ConsoleLogPath(Guid vmId) => Path.Combine(Path.GetFullPath(options.Value.ConsoleLogDirectory), $"qkvm-{vmId:N}.log");

    private async Task<DomainOutcome> CreateAsync(RunDomainOperation command, LibvirtDomain? existing, CancellationToken cancellationToken)
    {
        // In agent plug mode the TAPs must be there before QEMU opens them (a stopped VM's are plugged when it starts);
        // plugged already (a redelivery) changes nothing.
        if (command.DesiredPowerState == DomainPowerState.Running)
        {
            await nics.PlugAllAsync(command.Domain.VmId, command.Nics, cancellationToken);
        }

        if (existing is not null)
        {
            // Defined by an earlier delivery of this same command: finish what it started.
            return AfterCreate(command, existing);
        }

        var spec = command.Domain;
        var disks = new List<DiskSpec>();
        foreach (var disk in command.Disks ?? [])
        {
            // Starting the domain resolves a volume disk's pool, and an RBD disk needs the ceph secret ensuring defines: make sure this host has both.
            pools.Ensure(disk.Pool).Dispose();
            disks.Add(DiskSpecOf(disk));
        }

        // What the daemon can run, not what this process could open: /dev/kvm may open here and not work.
        var domainType = DomainXml.DomainTypeFromCapabilities(hypervisor.Connection.GetCapabilities());
        var serialLog = domainType == "test" ? null : ConsoleLogPath(spec.VmId);
        if (serialLog is not null)
        {
            Directory.CreateDirectory(Path.GetDirectoryName(serialLog)!);
        }

        string? seed = null;
        if (command.CloudInit is { } cloudInit)
        {
            seed = await seeds.BuildAsync(spec.VmId, cloudInit, cancellationToken);
            disks.Add(new DiskSpec(CloudInitSeeds.TargetDev, DriverFormat: "raw", SourceFile: seed, ReadOnly: true, Serial: CloudInitSeeds.Serial));
        }

        LibvirtDomain defined;
        try
        {
            defined = hypervisor.Connection.DefineDomain(DomainXml.Build(new DomainSpec(
                spec.VmId, DomainName(spec.VmId), spec.Name, spec.Vcpus, spec.MemoryMiB, domainType,
                new Dictionary<string, string> { ["vm-id"] = spec.VmId.ToString() },
                disks.Count > 0 ? disks : null,
                serialLog,
                command.Nics is { Count: > 0 } vmNics ? [.. vmNics.Select(nics.SpecOf)] : null)));
        }
        catch when (seed is not null)
        {
            // No domain uses it: a redelivery builds it again.
            seeds.Delete(spec.VmId);
            throw;
        }

        using (defined)
        {
            return AfterCreate(command, defined);
        }
    }

    /// <summary>
    /// Brings the VM back on this host (a cold move, or an HA restart after its host was fenced): defined from the spec and
    /// disks exactly as a create defines it when missing, then running when it is desired so (a paused domain is resumed);
    /// desired stopped leaves it as it is. Harmless to repeat.
    /// </summary>
    private async Task<DomainOutcome> RecoverAsync(RunDomainOperation command, LibvirtDomain? existing, CancellationToken cancellationToken)
    {
        if (existing is not null && command.DesiredPowerState == DomainPowerState.Running
            && PowerStateOf(existing.GetState().State) == DomainPowerState.Paused)
        {
            return Act(existing, d => d.Resume(), from: DomainPowerState.Paused, done: DomainPowerState.Running);
        }

        return await CreateAsync(command, existing, cancellationToken);
    }

    /// <summary>
    /// Moves the running domain live to <see cref="RunDomainOperation.Migration"/>'s host: libvirt's managed migration, this
    /// agent's libvirt connecting to the target's. Reports the job's progress while it runs; the operation's
    /// <c>CancelDomainOperation</c> aborts it (MIGRATION_CANCELLED), and so does reaching the deadline (MIGRATION_DEADLINE).
    /// Whatever fails, the domain keeps running here. A domain no longer here but running on the target is a migration that
    /// already happened (a redelivery): success.
    /// </summary>
    private async Task<DomainOutcome> MigrateAsync(
        RunDomainOperation command, LibvirtDomain? domain, DateTimeOffset giveUpAt, Func<DomainJobInfo, CancellationToken, Task>? progress,
        CancellationToken cancellationToken)
    {
        var target = command.Migration ?? throw new OperationFailure("INVALID_SPEC", "a Migrate operation needs its migration target");
        var vmId = command.Domain.VmId;
        ArgumentException.ThrowIfNullOrWhiteSpace(target.LibvirtUri, "Migration.LibvirtUri");
        var source = hypervisor.Connection;
        if (!source.CanMigrateLive())
        {
            return DomainOutcome.Fail(Observe(vmId), "MIGRATION_UNSUPPORTED",
                $"this host's libvirt driver ({source.GetDriverType()}) cannot migrate domains live; nothing was done");
        }

        LibvirtConnection targetLibvirt;
        try
        {
            targetLibvirt = LibvirtConnection.Open(target.LibvirtUri);
        }
        catch (LibvirtException ex)
        {
            return DomainOutcome.Fail(Observe(vmId), LibvirtCode(ex), $"connecting to the target host's libvirt at {target.LibvirtUri} failed: {ex.Message}");
        }

        using (targetLibvirt)
        {
            if (domain is null)
            {
                using var there = targetLibvirt.FindDomain(vmId);
                return there is not null && PowerStateOf(there.GetState().State) == DomainPowerState.Running
                    ? new DomainOutcome(true, DomainPowerState.Running)
                    : DomainOutcome.Fail(DomainPowerState.Unknown, "DOMAIN_NOT_FOUND",
                        $"domain {DomainName(vmId)} is neither defined on this host nor running on the target");
            }

            var state = PowerStateOf(domain.GetState().State);
            if (state != DomainPowerState.Running)
            {
                return DomainOutcome.Fail(state, "DOMAIN_NOT_RUNNING",
                    $"domain {domain.Name} is {state.ToString().ToLowerInvariant()} on this host; only a running domain migrates live");
            }

            // The domain's volume disks name their pools: the target must have them running, as a create here makes sure.
            if (command.Disks is { Count: > 0 } disks)
            {
                // Not disposed: it would close the target connection, which the migration still needs.
                var targetPools = new StoragePools(new HypervisorConnection(targetLibvirt), options);
                foreach (var disk in disks)
                {
                    targetPools.Ensure(disk.Pool).Dispose();
                }
            }

            if (target.MaxDowntimeMs is { } downtime)
            {
                domain.SetMigrationMaxDowntime(TimeSpan.FromMilliseconds(downtime));
            }

            var migrateOptions = new MigrationOptions(
                target.MigrateAddress is { } address ? MigrationOptions.TcpUri(address) : null,
                target.MigrateAddress,
                target.BandwidthMiBs,
                options.Value.AllowUnsafeMigration);
            using var job = migrations.Register(command.OperationId, domain);
            if (job.CancelRequested)
            {
                return DomainOutcome.Fail(state, "MIGRATION_CANCELLED", "the migration was cancelled before it began; the domain stays on this host");
            }

            _logger.LogInformation("Migrating {Domain} live to host {TargetHost} ({TargetUri})", domain.Name, target.HostId, target.LibvirtUri);
            var migration = Task.Run(() => domain.MigrateLive(targetLibvirt, migrateOptions), CancellationToken.None);
            var deadlinePassed = false;
            while (!migration.IsCompleted)
            {
                await Task.WhenAny(migration, Task.Delay(ProgressInterval, clock, CancellationToken.None));
                if (migration.IsCompleted)
                {
                    break;
                }

                if (!deadlinePassed && clock.GetUtcNow() >= giveUpAt)
                {
                    deadlinePassed = true;
                    _logger.LogWarning("The migration of {Domain} reached its deadline; aborting it", domain.Name);
                }

                // Again at every tick until the job ends: an abort libvirt took while the job was still being set up
                // does not stop it.
                if (job.CancelRequested || deadlinePassed)
                {
                    job.TryAbort();
                }

                await ReportProgressAsync(domain, progress, cancellationToken);
            }

            try
            {
                using var migrated = await migration;
                // The guest left: its TAPs here are plugged into nothing (agent plug mode).
                await nics.UnplugVmAsync(vmId, CancellationToken.None);
                return new DomainOutcome(true, PowerStateOf(migrated.GetState().State));
            }
            catch (LibvirtException ex) when (job.CancelRequested)
            {
                return DomainOutcome.Fail(Observe(vmId), "MIGRATION_CANCELLED", $"the migration was cancelled; the domain stays on this host ({ex.Message})");
            }
            catch (LibvirtException ex) when (deadlinePassed)
            {
                return DomainOutcome.Fail(Observe(vmId), "MIGRATION_DEADLINE",
                    $"the migration did not finish before the operation's deadline and was aborted; the domain stays on this host ({ex.Message})");
            }
        }
    }

    private async Task ReportProgressAsync(LibvirtDomain domain, Func<DomainJobInfo, CancellationToken, Task>? progress, CancellationToken cancellationToken)
    {
        if (progress is null)
        {
            return;
        }

        DomainJobInfo job;
        try
        {
            job = domain.GetJobInfo();
        }
        catch (LibvirtException)
        {
            // Finished meanwhile (the domain is gone from here), or libvirt is busy: the next tick reads again.
            return;
        }

        if (!job.IsActive)
        {
            return;
        }

        try
        {
            await progress(job, cancellationToken);
        }
        catch (Exception ex)
        {
            _logger.LogWarning(ex, "Reporting the progress of {Domain}'s migration failed", domain.Name);
        }
    }

    private static DomainOutcome AfterCreate(RunDomainOperation command, LibvirtDomain domain) =>
        command.DesiredPowerState == DomainPowerState.Running
            ? Act(domain, d => d.Start(), from: DomainPowerState.Stopped, done: DomainPowerState.Running)
            : new DomainOutcome(true, PowerStateOf(domain.GetState().State));

    private async Task<DomainOutcome> DeleteAsync(Guid vmId, LibvirtDomain? domain, CancellationToken cancellationToken)
    {
        if (domain is null)
        {
            seeds.Delete(vmId);
            await nics.UnplugVmAsync(vmId, cancellationToken);
            return new DomainOutcome(true, DomainPowerState.Unknown);
        }

        var state = PowerStateOf(domain.GetState().State);
        if (state != DomainPowerState.Stopped)
        {
            // The control plane thought it stopped; the host says otherwise. Never delete a live guest.
            return DomainOutcome.Fail(state, "DOMAIN_ACTIVE", $"domain {domain.Name} is {state.ToString().ToLowerInvariant()} on this host; stop it before deleting");
        }

        domain.Undefine();
        // The seed and the TAPs the agent plugged belong to the domain; the VM's volumes do not (they are deleted, or kept,
        // by storage operations), nor do its ports (the network's).
        seeds.Delete(vmId);
        await nics.UnplugVmAsync(vmId, cancellationToken);
        return new DomainOutcome(true, DomainPowerState.Unknown);
    }

    /// <summary>Starts the domain; in agent plug mode its TAPs are plugged first (a host restart deletes them).</summary>
    private async Task<DomainOutcome> StartAsync(RunDomainOperation command, LibvirtDomain domain, CancellationToken cancellationToken)
    {
        if (PowerStateOf(domain.GetState().State) == DomainPowerState.Stopped)
        {
            await nics.PlugAllAsync(command.Domain.VmId, command.Nics, cancellationToken);
        }

        return InTurn(command, domain, d => d.Start(), from: DomainPowerState.Stopped, done: DomainPowerState.Running, aim: DomainPowerState.Running);
    }

    private async Task<DomainOutcome> AttachNicAsync(RunDomainOperation command, LibvirtDomain domain, CancellationToken cancellationToken)
    {
        await nics.AttachAsync(hypervisor.Connection, domain, command.Domain.VmId, RequireNic(command), IsActive(domain), cancellationToken);
        return Observed(domain);
    }

    private async Task<DomainOutcome> DetachNicAsync(RunDomainOperation command, LibvirtDomain domain, CancellationToken cancellationToken)
    {
        await nics.DetachAsync(hypervisor.Connection, domain, RequireNic(command), IsActive(domain), NicReleaseWait, cancellationToken);
        return Observed(domain);
    }

    /// <summary>Adds the disk to the running domain (when it runs) and to its definition; already there with that volume is success.</summary>
    private DomainOutcome AttachDisk(DiskAttachment disk, LibvirtDomain domain)
    {
        // Even a config-only attach resolves the volume's pool.
        pools.Ensure(disk.Pool).Dispose();
        if (!Holds(domain, disk))
        {
            domain.AttachDevice(DomainXml.Disk(DiskSpecOf(disk)), live: IsActive(domain), config: true);
        }

        return Observed(domain);
    }

    /// <summary>Removes the disk from the running domain (when it runs) and from its definition; a disk that is not there is success.</summary>
    private DomainOutcome DetachDisk(DiskAttachment disk, LibvirtDomain domain)
    {
        // Only this volume at this device: never another disk that took the device name since.
        if (Holds(domain, disk))
        {
            domain.DetachDevice(DomainXml.Disk(DiskSpecOf(disk)), live: IsActive(domain), config: true);
        }

        return Observed(domain);
    }

    /// <summary>
    /// An internal snapshot (of memory too when the domain runs), without the read-only disks (the
    /// cloud-init seed, CD-ROMs): they never change, and a raw image cannot hold one. Taken already is success.
    /// </summary>
    private static DomainOutcome CreateSnapshot(SnapshotSpecification snapshot, LibvirtDomain domain)
    {
        using var existing = domain.FindSnapshot(snapshot.Name);
        if (existing is null)
        {
            domain.CreateSnapshot(SnapshotXml.Build(snapshot.Name, snapshot.Description, diskOnly: false, ReadOnlyDisks(domain))).Dispose();
        }

        return Observed(domain);
    }

    /// <summary>Back to the snapshot, running or shut off as the snapshot was taken.</summary>
    private static DomainOutcome RevertSnapshot(SnapshotSpecification snapshot, LibvirtDomain domain)
    {
        using var found = domain.FindSnapshot(snapshot.Name)
            ?? throw new OperationFailure("SNAPSHOT_NOT_FOUND", $"domain {domain.Name} has no snapshot named '{snapshot.Name}'");
        domain.RevertToSnapshot(found);
        return Observed(domain);
    }

    private static DomainOutcome DeleteSnapshot(SnapshotSpecification snapshot, LibvirtDomain domain)
    {
        using var found = domain.FindSnapshot(snapshot.Name);
        found?.Delete();
        return Observed(domain);
    }

    /// <summary>Whether the domain has this volume at this device: by pool and volume, or for RBD by the image QEMU opens.</summary>
    private static bool Holds(LibvirtDomain domain, DiskAttachment disk)
    {
        if (disk.Pool.Kind == "rbd")
        {
            var image = RbdSourceOf(disk).Name;
            return domain.ListDisks().Any(d => d.TargetDev == disk.TargetDev && d.SourceProtocol == "rbd" && d.SourceName == image);
        }

        return domain.ListDisks().Any(d => d.TargetDev == disk.TargetDev && d.SourcePool == disk.Pool.LibvirtName && d.SourceVolume == disk.VolumeName);
    }

    private static List<string> ReadOnlyDisks(LibvirtDomain domain) =>
    [
        .. (XDocument.Parse(domain.GetXml()).Root?.Element("devices")?.Elements("disk") ?? [])
            .Where(d => d.Element("readonly") is not null || d.Attribute("device")?.Value is "cdrom" or "floppy")
            .Select(d => d.Element("target")?.Attribute("dev")?.Value)
            .OfType<string>()
            .Distinct(StringComparer.Ordinal),
    ];

    private static bool IsActive(LibvirtDomain domain) => PowerStateOf(domain.GetState().State) != DomainPowerState.Stopped;

    private static DomainOutcome Observed(LibvirtDomain domain) => new(true, PowerStateOf(domain.GetState().State));

    private static DiskAttachment RequireDisk(RunDomainOperation command) =>
        command.Disk ?? throw new OperationFailure("INVALID_SPEC", $"a {command.Kind} operation needs its disk");

    private static NicAttachment RequireNic(RunDomainOperation command) =>
        command.Nic ?? throw new OperationFailure("INVALID_SPEC", $"a {command.Kind} operation needs its NIC");

    private static SnapshotSpecification RequireSnapshot(RunDomainOperation command) =>
        command.Snapshot ?? throw new OperationFailure("INVALID_SPEC", $"a {command.Kind} operation needs its snapshot");

    /// <summary>
    /// Acts on the domain from the state <paramref name="from"/> (null: any). A domain already <paramref name="done"/> is a
    /// repeat, a success without acting (null for an effect the state does not show, like a reboot's). Any other state is
    /// refused, and libvirt is not asked: a late copy of an operation that another one has overtaken since (a forced stop
    /// supersedes a resume, and the resume's redelivery then finds the domain stopped) must not act on what that one left,
    /// nor may an operation decided on a state the control plane could not be sure of (after a timed-out stop, say).
    /// </summary>
    private static DomainOutcome Act(LibvirtDomain domain, Action<LibvirtDomain> act, DomainPowerState? from, DomainPowerState? done)
    {
        var state = PowerStateOf(domain.GetState().State);
        if (state == done)
        {
            return new DomainOutcome(true, state);
        }

        if (from is { } needed && state != needed)
        {
            return DomainOutcome.Fail(state, "INVALID_POWER_STATE",
                $"domain {domain.Name} is {Name(state)} on this host, not {Name(needed)} as this operation needs; nothing was done");
        }

        act(domain);
        return new DomainOutcome(true, PowerStateOf(domain.GetState().State));
    }

    /// <summary>
    /// A power operation in its VM's order (<see cref="OperationMarks"/>): a late copy of one that a later operation
    /// has overtaken is refused, one that acted before an agent restart does not act again (it succeeds if the domain is
    /// where it aimed), and otherwise it is <see cref="Act"/>, marked just before libvirt is asked. An agent killed
    /// between the mark and the call loses that act: at most once.
    /// </summary>
    private static DomainOutcome InTurn(
        RunDomainOperation command, LibvirtDomain domain, Action<LibvirtDomain> act, DomainPowerState? from, DomainPowerState? done, DomainPowerState aim)
    {
        using var turn = OperationMarks.TurnFor(command.Domain.VmId).EnterScope();
        var state = PowerStateOf(domain.GetState().State);
        return OperationMarks.TurnOf(domain, command, out var marked) switch
        {
            PowerTurn.Superseded => Superseded(command, domain, state, marked),
            PowerTurn.Repeat when state == aim => new DomainOutcome(true, state),
            PowerTurn.Repeat => DomainOutcome.Fail(state, "ACTED_BEFORE_RESTART",
                $"this operation asked libvirt to act on domain {domain.Name} before the agent restarted, and the domain is {Name(state)} now; it is not asked again"),
            _ => Act(domain, d =>
            {
                OperationMarks.Mark(d, command, runs: state is DomainPowerState.Running or DomainPowerState.Paused);
                act(d);
            }, from, done),
        };
    }

    private static DomainOutcome Superseded(RunDomainOperation command, LibvirtDomain domain, DomainPowerState state, long? marked) =>
        DomainOutcome.Fail(state, "SUPERSEDED",
            $"this is operation {command.Sequence} of the VM, and its later operation {marked} has acted on domain {domain.Name} already; nothing was done");

    private static string Name(DomainPowerState state) => state.ToString().ToUpperInvariant();

    /// <summary>Asks the guest to shut down and waits for it, up to just before the deadline.</summary>
    /// <remarks>In its VM's order, as <see cref="InTurn"/>; a repeat after an agent restart waits for the guest it asked before.</remarks>
    private async Task<DomainOutcome> ShutdownAsync(
        RunDomainOperation command, LibvirtDomain domain, DateTimeOffset giveUpAt, CancellationToken cancellationToken)
    {
        using (OperationMarks.TurnFor(command.Domain.VmId).EnterScope())
        {
            var before = PowerStateOf(domain.GetState().State);
            if (before == DomainPowerState.Stopped)
            {
                return new DomainOutcome(true, DomainPowerState.Stopped);
            }

            switch (OperationMarks.TurnOf(domain, command, out var marked))
            {
                case PowerTurn.Superseded:
                    return Superseded(command, domain, before, marked);
                case PowerTurn.Act:
                    OperationMarks.Mark(domain, command, runs: before is DomainPowerState.Running or DomainPowerState.Paused);
                    domain.Shutdown();
                    break;
            }
        }

        while (true)
        {
            var state = PowerStateOf(domain.GetState().State);
            if (state == DomainPowerState.Stopped)
            {
                return new DomainOutcome(true, state);
            }

            if (clock.GetUtcNow() >= giveUpAt)
            {
                return DomainOutcome.Fail(state, "GUEST_SHUTDOWN_TIMEOUT",
                    "the guest did not shut down before the deadline; stop it with force: true to power it off");
            }

            await Task.Delay(TimeSpan.FromMilliseconds(250), clock, cancellationToken);
        }
    }
}
