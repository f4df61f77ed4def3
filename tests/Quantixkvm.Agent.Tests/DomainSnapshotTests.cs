using System.Xml.Linq;
using Quantixkvm.Agent.Hypervisor;
using Quantixkvm.Agent.Tests.Support;
using Quantixkvm.Contracts;
using Quantixkvm.Libvirt;
using static Quantixkvm.Agent.Tests.Support.TestHypervisor;

namespace Quantixkvm.Agent.Tests;

/// <summary>Domain snapshots (and disks and seeds in the definition) through <see cref="DomainOperations"/>, on libvirt's test driver.</summary>
public sealed class DomainSnapshotTests : IDisposable
{
    private readonly LibvirtConnection _libvirt = LibvirtConnection.Open(LibvirtUri);
    private readonly FakeTimeProvider _clock = new();
    private readonly AgentOptions _options = new()
    {
        SeedDirectory = Path.Combine(Path.GetTempPath(), $"qkvm-seeds-{Guid.NewGuid():N}"),
        ConsoleLogDirectory = Path.Combine(Path.GetTempPath(), $"qkvm-console-{Guid.NewGuid():N}"),
    };

    private readonly DomainOperations _operations;
    private readonly List<Guid> _vms = [];
    private readonly StoragePoolSpecification _pool = AgentParts.DirPool($"/qkvm-test/{Guid.NewGuid():N}");

    public DomainSnapshotTests() => _operations = AgentParts.Domains(new HypervisorConnection(_libvirt), _clock, _options);

    private DateTimeOffset InAMinute => _clock.GetUtcNow().AddMinutes(1);

    public void Dispose()
    {
        foreach (var vmId in _vms)
        {
            Remove(_libvirt, vmId);
        }

        using (var pool = _libvirt.FindStoragePool(_pool.LibvirtName))
        {
            if (pool is not null)
            {
                pool.Destroy();
                pool.Undefine();
            }
        }

        _libvirt.Dispose();
        if (Directory.Exists(_options.SeedDirectory))
        {
            Directory.Delete(_options.SeedDirectory, recursive: true);
        }
    }

    [Fact]
    public async Task a_vm_with_a_disk_and_a_seed_gets_its_pool_and_a_read_only_seed_disk_but_no_console_log_on_the_test_driver()
    {
        var vmId = await CreateAsync(DomainPowerState.Stopped);

        using var domain = _libvirt.FindDomain(vmId).ShouldNotBeNull();
        using (var pool = _libvirt.FindStoragePool(_pool.LibvirtName).ShouldNotBeNull())
        {
            pool.IsActive.ShouldBeTrue();
        }

        domain.ListDisks().Select(d => (d.TargetDev, d.Serial)).ShouldBe([("vda", "0123456789abcdef0123"), ("vdz", "cidata")]);
        var devices = XDocument.Parse(domain.GetXml()).Root!.Element("devices")!;
        devices.Element("serial")!.Attribute("type")!.Value.ShouldBe("pty");
        Directory.Exists(_options.ConsoleLogDirectory).ShouldBeFalse();
        File.Exists(Path.Combine(_options.SeedDirectory, $"qkvm-{vmId:N}-cidata.iso")).ShouldBeTrue();
    }

    [Fact]
    public async Task a_snapshot_is_taken_without_the_read_only_seed_disk_and_a_redelivery_takes_no_second_one()
    {
        var vmId = await CreateAsync(DomainPowerState.Running);
        var take = Command(DomainOperationKind.CreateSnapshot, vmId, InAMinute) with { Snapshot = new SnapshotSpecification("before-upgrade", "kernel 6.1", true) };

        var first = await RunAsync(take);
        var again = await RunAsync(take with { OperationId = Guid.NewGuid(), Snapshot = take.Snapshot! with { Description = "other" } });

        first.ShouldBe(new DomainOutcome(true, DomainPowerState.Running));
        again.ShouldBe(first);
        using var domain = _libvirt.FindDomain(vmId)!;
        var snapshots = domain.ListSnapshots();
        snapshots.Select(s => s.Name).ShouldBe(["before-upgrade"]);
        var xml = XDocument.Parse(snapshots[0].GetXml()).Root!;
        foreach (var snapshot in snapshots)
        {
            snapshot.Dispose();
        }

        xml.Element("description")!.Value.ShouldBe("kernel 6.1");
        xml.Element("state")!.Value.ShouldBe("running");
        var disks = xml.Element("disks")!.Elements("disk").ToDictionary(d => d.Attribute("name")!.Value, d => d.Attribute("snapshot")!.Value);
        disks["vdz"].ShouldBe("no");
        disks["vda"].ShouldBe("internal");
    }

    [Fact]
    public async Task reverting_brings_back_the_state_the_snapshot_was_taken_in()
    {
        var vmId = await CreateAsync(DomainPowerState.Running);
        var snapshot = new SnapshotSpecification("running", "", true);
        (await RunAsync(Command(DomainOperationKind.CreateSnapshot, vmId, InAMinute) with { Snapshot = snapshot })).Succeeded.ShouldBeTrue();
        using (var domain = _libvirt.FindDomain(vmId)!)
        {
            domain.Destroy();
        }

        var outcome = await RunAsync(Command(DomainOperationKind.RevertSnapshot, vmId, InAMinute) with { Snapshot = snapshot });

        outcome.ShouldBe(new DomainOutcome(true, DomainPowerState.Running));
        StateOf(_libvirt, vmId)!.Value.State.ShouldBe(DomainState.Running);
    }

    [Fact]
    public async Task a_snapshot_is_deleted_a_missing_one_is_deleted_already_and_cannot_be_reverted_to()
    {
        var vmId = await CreateAsync(DomainPowerState.Stopped);
        var snapshot = new SnapshotSpecification("nightly", "", false);
        (await RunAsync(Command(DomainOperationKind.CreateSnapshot, vmId, InAMinute) with { Snapshot = snapshot })).Succeeded.ShouldBeTrue();

        var deleted = await RunAsync(Command(DomainOperationKind.DeleteSnapshot, vmId, InAMinute) with { Snapshot = snapshot });
        var again = await RunAsync(Command(DomainOperationKind.DeleteSnapshot, vmId, InAMinute) with { Snapshot = snapshot });
        var revert = await RunAsync(Command(DomainOperationKind.RevertSnapshot, vmId, InAMinute) with { Snapshot = snapshot });

        deleted.ShouldBe(new DomainOutcome(true, DomainPowerState.Stopped));
        again.ShouldBe(deleted);
        revert.Succeeded.ShouldBeFalse();
        revert.ErrorCode.ShouldBe("SNAPSHOT_NOT_FOUND");
        revert.ErrorMessage.ShouldNotBeNull().ShouldContain("nightly");
        using var domain = _libvirt.FindDomain(vmId)!;
        domain.FindSnapshot("nightly").ShouldBeNull();
    }

    [Fact]
    public async Task a_snapshot_operation_on_a_vm_without_a_domain_fails_with_DOMAIN_NOT_FOUND()
    {
        var vmId = Guid.NewGuid();

        var outcome = await RunAsync(Command(DomainOperationKind.CreateSnapshot, vmId, InAMinute) with { Snapshot = new SnapshotSpecification("x", "", false) });

        outcome.ErrorCode.ShouldBe("DOMAIN_NOT_FOUND");
    }

    [Fact]
    public async Task attaching_a_disk_on_the_test_driver_fails_with_libvirts_own_code()
    {
        var vmId = await CreateAsync(DomainPowerState.Stopped);
        var disk = new DiskAttachment(Guid.NewGuid(), "vdb", "virtio", null, false, _pool, "extra.qcow2", "qcow2");

        var outcome = await RunAsync(Command(DomainOperationKind.AttachDisk, vmId, InAMinute) with { Disk = disk });

        outcome.Succeeded.ShouldBeFalse();
        outcome.ErrorCode.ShouldBe("LIBVIRT_NO_SUPPORT");
        outcome.ErrorMessage.ShouldNotBeNull().ShouldStartWith("this function is not supported by the connection driver", Case.Insensitive);
        outcome.Observed.ShouldBe(DomainPowerState.Stopped);
    }

    private async Task<Guid> CreateAsync(DomainPowerState desired)
    {
        var vmId = Guid.NewGuid();
        _vms.Add(vmId);
        var create = Command(DomainOperationKind.Create, vmId, InAMinute, desired: desired) with
        {
            Disks = [new DiskAttachment(Guid.Parse("01234567-89ab-cdef-0123-456789abcdef"), "vda", "virtio", 1, false, _pool, "root.qcow2", "qcow2")],
            CloudInit = new CloudInitSeed("#cloud-config\nhostname: web-1\n", "instance-id: web-1\n", null),
        };
        var outcome = await RunAsync(create);
        outcome.Succeeded.ShouldBeTrue(outcome.ErrorMessage);
        return vmId;
    }

    private Task<DomainOutcome> RunAsync(RunDomainOperation command) =>
        _operations.RunAsync(command, TimeSpan.FromSeconds(1), CancellationToken.None);
}
