using System.Diagnostics;
using System.Collections.Concurrent;
using Quantixkvm.Agent.Hypervisor;
using Quantixkvm.Agent.Tests.Support;
using Quantixkvm.Contracts;
using Quantixkvm.Libvirt;
using Quantixkvm.Testing;

namespace Quantixkvm.Agent.Tests;

/// <summary>Two hosts on this machine (<see cref="TwoDaemons"/>) and the source agent's own connection.</summary>
public sealed class TwoHosts : TwoDaemons
{
    /// <summary>The source agent's connection.</summary>
    public HypervisorConnection SourceHypervisor { get; private set; } = null!;

    public override async Task InitializeAsync()
    {
        await base.InitializeAsync();
        SourceHypervisor = new HypervisorConnection(Source.QemuSessionUri);
    }

    public override async Task DisposeAsync()
    {
        SourceHypervisor?.Dispose();
        await base.DisposeAsync();
    }

    /// <summary>Defines and starts a VM's domain on the source (an overlay of the test image) and waits until the guest has booted.</summary>
    public async Task BootVmOnSourceAsync(Guid vmId)
    {
        var disk = await Source.CreateOverlayAsync(GuestImagePath, $"vm-{vmId:N}.qcow2");
        var console = Path.Combine(await Source.CreateFolderAsync("consoles"), $"qkvm-{vmId:N}.log");
        using (var domain = SourceLibvirt.DefineDomain(DomainXml.Build(new DomainSpec(
            vmId, DomainOperations.DomainName(vmId), "moving", 1, 128, "qemu",
            new Dictionary<string, string> { ["vm-id"] = vmId.ToString() },
            [new DiskSpec("vda", DriverFormat: "qcow2", SourceFile: disk, BootOrder: 1, Serial: "root")],
            console))))
        {
            domain.Start();
        }

        await GuestImage.WaitForSerialLineAsync(
            console, line => line.Contains("QKVM-GUEST-READY", StringComparison.Ordinal), TimeSpan.FromSeconds(120), CancellationToken.None);
    }
}

/// <summary>Live migration through <see cref="DomainOperations"/> between two real hosts; each test boots a TCG guest (~10 s).</summary>
public sealed class MigrationTests(TwoHosts hosts) : IClassFixture<TwoHosts>
{
    private readonly MigrationJobs _migrations = new();

    private DomainOperations Operations => AgentParts.Domains(
        hosts.SourceHypervisor, TimeProvider.System, new AgentOptions { AllowUnsafeMigration = true }, _migrations);

    [Fact(Timeout = 180_000)]
    public async Task a_running_vm_migrates_live_to_the_other_host_with_progress_reported_and_a_redelivery_succeeds_without_acting()
    {
        var vmId = Guid.NewGuid();
        await hosts.BootVmOnSourceAsync(vmId);
        // 2 MiB/s: the guest's few used MiB take seconds, so progress is seen.
        var migrate = Migrate(vmId, bandwidthMiBs: 2);
        var progress = new ConcurrentQueue<DomainJobInfo>();

        var outcome = await Operations.RunAsync(migrate, TimeSpan.FromSeconds(1), CancellationToken.None, (job, _) =>
        {
            progress.Enqueue(job);
            return Task.CompletedTask;
        });

        outcome.ShouldBe(new DomainOutcome(true, DomainPowerState.Running));
        hosts.SourceLibvirt.FindDomain(vmId).ShouldBeNull("the source keeps no definition");
        using (var there = hosts.TargetLibvirt.FindDomain(vmId).ShouldNotBeNull())
        {
            there.GetState().State.ShouldBe(DomainState.Running);
        }

        progress.ShouldNotBeEmpty("progress is reported while the migration runs");
        progress.ShouldAllBe(p => p.IsActive && p.Elapsed > TimeSpan.Zero);
        progress.ShouldContain(p => p.DataTotalBytes > 0 && p.DataProcessedBytes > 0, "the figures of the copy were reported while it ran");
        _migrations.Running.ShouldBeEmpty("a finished migration is no longer registered");

        var again = await Operations.RunAsync(migrate, TimeSpan.FromSeconds(1), CancellationToken.None);

        again.ShouldBe(new DomainOutcome(true, DomainPowerState.Running));
        using var still = hosts.TargetLibvirt.FindDomain(vmId).ShouldNotBeNull();
        still.GetState().State.ShouldBe(DomainState.Running);
    }

    [Fact(Timeout = 180_000)]
    public async Task a_cancelled_migration_fails_with_MIGRATION_CANCELLED_and_the_vm_keeps_running_on_its_source()
    {
        var vmId = Guid.NewGuid();
        await hosts.BootVmOnSourceAsync(vmId);
        // 1 MiB/s: still copying when the cancel comes.
        var migrate = Migrate(vmId, bandwidthMiBs: 1);
        var progress = new ConcurrentQueue<DomainJobInfo>();
        var running = Operations.RunAsync(migrate, TimeSpan.FromSeconds(1), CancellationToken.None, (job, _) =>
        {
            progress.Enqueue(job);
            return Task.CompletedTask;
        });
        var registered = Stopwatch.StartNew();
        while (!_migrations.Running.Contains(migrate.OperationId) && registered.Elapsed < TimeSpan.FromSeconds(60) && !running.IsCompleted)
        {
            await Task.Delay(100);
        }

        // Copying by then; what CancelDomainOperationConsumer does when the control plane's cancel arrives.
        await Task.Delay(TimeSpan.FromSeconds(2));
        var cancelled = _migrations.Cancel(migrate.OperationId);
        var outcome = await running;

        cancelled.ShouldBeTrue("the migration was registered under its operation id while it ran");
        progress.ShouldNotBeEmpty("a second migration from the same connection reports its progress too");
        outcome.Succeeded.ShouldBeFalse();
        outcome.ErrorCode.ShouldBe("MIGRATION_CANCELLED");
        outcome.ErrorMessage.ShouldNotBeNull().ShouldContain("stays on this host");
        outcome.Observed.ShouldBe(DomainPowerState.Running);
        using (var here = hosts.SourceLibvirt.FindDomain(vmId).ShouldNotBeNull())
        {
            here.GetState().State.ShouldBe(DomainState.Running);
        }

        hosts.TargetLibvirt.FindDomain(vmId).ShouldBeNull("nothing is left on the target");
        _migrations.Cancel(migrate.OperationId).ShouldBeFalse("a cancel after the end finds nothing to abort");
    }

    private RunDomainOperation Migrate(Guid vmId, long bandwidthMiBs) =>
        TestHypervisor.Command(DomainOperationKind.Migrate, vmId, DateTimeOffset.UtcNow.AddMinutes(4)) with
        {
            Migration = new MigrationTarget(Guid.NewGuid(), hosts.Target.QemuSessionUri, "127.0.0.1", MaxDowntimeMs: 500, BandwidthMiBs: bandwidthMiBs),
        };
}
