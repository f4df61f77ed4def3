using System.Collections.Concurrent;
using Quantixkvm.Testing;

namespace Quantixkvm.Libvirt.Tests;

/// <summary>Two daemons and the test guest image (<see cref="TwoDaemons"/>).</summary>
public sealed class TwoDaemonsFixture : TwoDaemons;

/// <summary>Live migration of a real (TCG) guest between two daemons; each test boots its own guest (~10 s).</summary>
public sealed class MigrationTests(TwoDaemonsFixture hosts) : IClassFixture<TwoDaemonsFixture>
{
    private static readonly TimeSpan Boot = TimeSpan.FromSeconds(120);

    [Fact]
    public void the_qemu_driver_can_migrate_live_and_the_test_driver_cannot()
    {
        using var test = LibvirtConnection.Open(TestDriver.Uri);

        hosts.SourceLibvirt.GetDriverType().ShouldBe("QEMU");
        hosts.SourceLibvirt.CanMigrateLive().ShouldBeTrue();
        test.GetDriverType().ShouldBe("TEST");
        test.CanMigrateLive().ShouldBeFalse();
    }

    [Fact]
    public void a_tcp_migration_uri_brackets_an_ipv6_address()
    {
        MigrationOptions.TcpUri("127.0.0.1").ShouldBe("tcp://127.0.0.1");
        MigrationOptions.TcpUri("fd00::5").ShouldBe("tcp://[fd00::5]");
        MigrationOptions.TcpUri("[fd00::5]").ShouldBe("tcp://[fd00::5]");
    }

    [Fact(Timeout = 300_000)]
    public async Task a_running_guest_migrates_live_to_the_other_daemon_keeps_running_there_and_is_gone_from_the_source()
    {
        var (uuid, console) = await BootGuestAsync(waitUntilReady: true);
        using var domain = hosts.SourceLibvirt.FindDomain(uuid).ShouldNotBeNull();
        var jobs = new ConcurrentQueue<DomainJobInfo>();

        // A cap slows the copy enough to watch it: the guest's used memory takes seconds at 20 MiB/s.
        var migration = Task.Run(() => domain.MigrateLive(hosts.TargetLibvirt, Options(bandwidthMiBs: 20)));
        while (!migration.IsCompleted)
        {
            try
            {
                var job = domain.GetJobInfo();
                if (job.IsActive)
                {
                    jobs.Enqueue(job);
                }
            }
            catch (DomainNotFoundException)
            {
                // The migration has just finished: the source's domain is gone.
            }

            await Task.WhenAny(migration, Task.Delay(100));
        }

        using var migrated = await migration;

        migrated.Uuid.ShouldBe(uuid);
        migrated.GetState().State.ShouldBe(DomainState.Running);
        hosts.SourceLibvirt.FindDomain(uuid).ShouldBeNull("the source's definition is undefined after the migration");
        jobs.ShouldNotBeEmpty("the migration job was observable while it ran");
        var last = jobs.Last();
        last.DataTotalBytes.ShouldBeGreaterThan(0);
        last.DataProcessedBytes.ShouldBeGreaterThan(0);
        last.Elapsed.ShouldBeGreaterThan(TimeSpan.Zero);
        jobs.Select(j => j.DataProcessedBytes).ShouldBe(jobs.Select(j => j.DataProcessedBytes).Order(), "processed data only grows");

        // The guest runs on in the target's QEMU: it notices a disk hot-plugged there.
        var extra = await hosts.Target.CreateRawImageAsync($"extra-{uuid:N}.raw", 4);
        migrated.AttachDevice(DomainXml.Disk(new DiskSpec("vdb", SourceFile: extra, Serial: "after-move")), live: true, config: true);
        await GuestImage.WaitForSerialLineAsync(
            console, line => line.Contains("vdb:after-move", StringComparison.Ordinal), TimeSpan.FromSeconds(60), CancellationToken.None);

        // Persistent on the target: destroyed, it stays defined there.
        migrated.Destroy();
        using var defined = hosts.TargetLibvirt.FindDomain(uuid).ShouldNotBeNull();
        defined.GetState().State.ShouldBe(DomainState.Shutoff);
    }

    [Fact(Timeout = 300_000)]
    public async Task an_aborted_migration_fails_and_leaves_the_domain_running_on_the_source_only()
    {
        var (uuid, _) = await BootGuestAsync(waitUntilReady: true);
        using var domain = hosts.SourceLibvirt.FindDomain(uuid).ShouldNotBeNull();
        domain.SetMigrationMaxDowntime(TimeSpan.FromMilliseconds(300));

        // 1 MiB/s: the job is still copying when it is aborted.
        var migration = Task.Run(() => domain.MigrateLive(hosts.TargetLibvirt, Options(bandwidthMiBs: 1)));
        var deadline = DateTime.UtcNow.AddSeconds(60);
        while (!domain.GetJobInfo().IsActive)
        {
            migration.IsCompleted.ShouldBeFalse("the migration ended before its job was seen");
            DateTime.UtcNow.ShouldBeLessThan(deadline, "no migration job appeared");
            await Task.Delay(50);
        }

        domain.AbortJob();

        var error = await Should.ThrowAsync<LibvirtException>(migration);
        error.Operation.ShouldBe("virDomainMigrate3");
        error.ErrorCode.ShouldBe(LibvirtErrorCode.OperationAborted);
        domain.GetState().State.ShouldBe(DomainState.Running);
        hosts.TargetLibvirt.FindDomain(uuid).ShouldBeNull("nothing is left on the target");
        domain.GetJobInfo().IsActive.ShouldBeFalse();
        Should.Throw<LibvirtException>(domain.AbortJob).ErrorCode.ShouldBe(LibvirtErrorCode.OperationInvalid);
    }

    private static MigrationOptions Options(long bandwidthMiBs) =>
        new(MigrationOptions.TcpUri("127.0.0.1"), ListenAddress: "127.0.0.1", BandwidthMiBs: bandwidthMiBs, Unsafe: true);

    /// <summary>Defines and starts a guest on the source from an overlay of the test image; returns its UUID and serial log.</summary>
    private async Task<(Guid Uuid, string Console)> BootGuestAsync(bool waitUntilReady)
    {
        var uuid = Guid.NewGuid();
        var disk = await hosts.Source.CreateOverlayAsync(hosts.GuestImagePath, $"guest-{uuid:N}.qcow2");
        var console = Path.Combine(await hosts.Source.CreateFolderAsync("consoles"), $"{uuid:N}.log");
        using var domain = hosts.SourceLibvirt.DefineDomain(DomainXml.Build(new DomainSpec(
            uuid, $"qkvm-{uuid:N}", "migrating", 1, 128, "qemu",
            Disks: [new DiskSpec("vda", DriverFormat: "qcow2", SourceFile: disk, BootOrder: 1, Serial: "root")],
            SerialLogPath: console)));
        domain.Start();
        if (waitUntilReady)
        {
            await GuestImage.WaitForSerialLineAsync(console, line => line.Contains("QKVM-GUEST-READY", StringComparison.Ordinal), Boot, CancellationToken.None);
        }

        return (uuid, console);
    }
}
