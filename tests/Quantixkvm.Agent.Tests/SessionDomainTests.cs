using System.Xml.Linq;
using Quantixkvm.Agent.Hypervisor;
using Quantixkvm.Agent.Storage;
using Quantixkvm.Agent.Tests.Support;
using Quantixkvm.Contracts;
using Quantixkvm.Libvirt;
using static Quantixkvm.Agent.Tests.Support.AgentParts;

namespace Quantixkvm.Agent.Tests;

/// <summary>
/// Domains with disks on a real libvirt (a private session daemon's QEMU driver), defined but never
/// started: their XML, the cloud-init seed image, and disks attached to and detached from the definition.
/// </summary>
public sealed class SessionDomainTests : IClassFixture<SessionHypervisor>, IDisposable
{
    private const long MiB = 1024 * 1024;

    private readonly SessionHypervisor _host;
    private readonly AgentOptions _options;
    private readonly DomainOperations _domains;
    private readonly StorageOperations _storage;
    private readonly List<Guid> _vms = [];
    private readonly List<string> _pools = [];

    public SessionDomainTests(SessionHypervisor host)
    {
        _host = host;
        var scratch = Path.Combine(host.Scratch, Guid.NewGuid().ToString("N"));
        _options = new AgentOptions { SeedDirectory = Path.Combine(scratch, "seeds"), ConsoleLogDirectory = Path.Combine(scratch, "console") };
        _domains = Domains(host.Hypervisor, TimeProvider.System, _options);
        _storage = StorageOps(host.Hypervisor, TimeProvider.System, _options);
    }

    private static DateTimeOffset InAMinute => DateTimeOffset.UtcNow.AddMinutes(1);

    public void Dispose()
    {
        foreach (var vmId in _vms)
        {
            TestHypervisor.Remove(_host.Libvirt, vmId);
        }

        foreach (var name in _pools)
        {
            _host.RemovePool(name);
        }
    }

    [Fact]
    public async Task a_vm_is_defined_with_its_disks_serials_a_cloud_init_seed_and_a_console_log_and_its_seed_goes_with_it()
    {
        var pool = NewPool();
        var root = await VolumeAsync(pool, "root.qcow2", "qcow2");
        var data = await VolumeAsync(pool, "data.raw", "raw");
        var vmId = NewVm();
        var create = Command(DomainOperationKind.Create, vmId) with
        {
            DesiredPowerState = DomainPowerState.Stopped,
            Disks =
            [
                new DiskAttachment(root.VolumeId, "vda", "virtio", 1, false, pool, root.Name, "qcow2"),
                new DiskAttachment(data.VolumeId, "sdb", "sata", null, false, pool, data.Name, "raw"),
            ],
            CloudInit = new CloudInitSeed(null, "instance-id: web-1\nlocal-hostname: web-1\n", "version: 2\nethernets: {}\n"),
        };

        var outcome = await _domains.RunAsync(create, TimeSpan.FromSeconds(1), CancellationToken.None);

        outcome.ShouldBe(new DomainOutcome(true, DomainPowerState.Stopped));
        using var domain = _host.Libvirt.FindDomain(vmId).ShouldNotBeNull();
        var seed = Path.Combine(_options.SeedDirectory, $"qkvm-{vmId:N}-cidata.iso");
        // libvirt keeps disks ordered by bus.
        domain.ListDisks().OrderBy(d => d.TargetDev, StringComparer.Ordinal).ShouldBe(
        [
            new DomainDisk("sdb", "disk", pool.LibvirtName, "data.raw", null, data.VolumeId.ToString("N")[..20]),
            new DomainDisk("vda", "disk", pool.LibvirtName, "root.qcow2", null, root.VolumeId.ToString("N")[..20]),
            new DomainDisk("vdz", "disk", null, null, seed, "cidata"),
        ]);
        var devices = XDocument.Parse(domain.GetXml()).Root!.Element("devices")!;
        var disks = devices.Elements("disk").OrderBy(d => d.Element("target")!.Attribute("dev")!.Value, StringComparer.Ordinal).ToList();
        disks[1].Element("driver")!.Attribute("type")!.Value.ShouldBe("qcow2");
        disks[1].Element("boot")!.Attribute("order")!.Value.ShouldBe("1");
        disks[0].Element("target")!.Attribute("bus")!.Value.ShouldBe("sata");
        disks[0].Element("readonly").ShouldBeNull();
        disks[2].Element("readonly").ShouldNotBeNull();
        disks[2].Element("driver")!.Attribute("type")!.Value.ShouldBe("raw");
        devices.Element("serial")!.Element("source")!.Attribute("path")!.Value
            .ShouldBe(Path.Combine(_options.ConsoleLogDirectory, $"qkvm-{vmId:N}.log"));
        Directory.Exists(_options.ConsoleLogDirectory).ShouldBeTrue();

        File.Exists(seed).ShouldBeTrue();
        Tools.Run("isoinfo", "-d", "-i", seed).ShouldContain("Volume id: cidata");
        Tools.Run("isoinfo", "-i", seed, "-J", "-x", "/meta-data").ShouldBe("instance-id: web-1\nlocal-hostname: web-1\n");
        Tools.Run("isoinfo", "-i", seed, "-R", "-x", "/user-data").ShouldBe("#cloud-config\n");
        Tools.Run("isoinfo", "-i", seed, "-J", "-x", "/network-config").ShouldBe("version: 2\nethernets: {}\n");

        var deleted = await _domains.RunAsync(Command(DomainOperationKind.Delete, vmId), TimeSpan.FromSeconds(1), CancellationToken.None);

        deleted.ShouldBe(new DomainOutcome(true, DomainPowerState.Unknown));
        File.Exists(seed).ShouldBeFalse("the seed is deleted with the domain");
        using var libvirtPool = _host.Libvirt.FindStoragePool(pool.LibvirtName).ShouldNotBeNull();
        libvirtPool.FindVolume("root.qcow2").ShouldNotBeNull("the VM's volumes are not the domain's to delete").Dispose();
    }

    [Fact]
    public async Task creating_a_vm_defines_the_pools_of_its_disks_on_this_host_first()
    {
        var pool = DirPool(Path.Combine(_host.Root, $"pool-{Guid.NewGuid():N}"));
        _pools.Add(pool.LibvirtName);
        var vmId = NewVm();
        var volumeId = Guid.NewGuid();
        var create = Command(DomainOperationKind.Create, vmId) with
        {
            DesiredPowerState = DomainPowerState.Stopped,
            Disks = [new DiskAttachment(volumeId, "vda", "virtio", null, false, pool, "later.qcow2", "qcow2")],
        };

        var outcome = await _domains.RunAsync(create, TimeSpan.FromSeconds(1), CancellationToken.None);

        outcome.Succeeded.ShouldBeTrue(outcome.ErrorMessage);
        using var libvirtPool = _host.Libvirt.FindStoragePool(pool.LibvirtName).ShouldNotBeNull();
        libvirtPool.IsActive.ShouldBeTrue();
        File.Exists(Path.Combine(_options.SeedDirectory, $"qkvm-{vmId:N}-cidata.iso")).ShouldBeFalse("no cloud-init, no seed");
    }

    [Fact]
    public async Task a_disk_is_attached_to_and_detached_from_the_definition_of_a_stopped_domain_once_however_often_asked()
    {
        var pool = NewPool();
        var volume = await VolumeAsync(pool, "extra.qcow2", "qcow2");
        var vmId = NewVm();
        (await _domains.RunAsync(Command(DomainOperationKind.Create, vmId) with { DesiredPowerState = DomainPowerState.Stopped },
            TimeSpan.FromSeconds(1), CancellationToken.None)).Succeeded.ShouldBeTrue();
        var disk = new DiskAttachment(volume.VolumeId, "vdb", "virtio", null, false, pool, volume.Name, "qcow2");
        using var domain = _host.Libvirt.FindDomain(vmId)!;

        var attached = await _domains.RunAsync(Command(DomainOperationKind.AttachDisk, vmId) with { Disk = disk }, TimeSpan.FromSeconds(1), CancellationToken.None);
        var attachedAgain = await _domains.RunAsync(Command(DomainOperationKind.AttachDisk, vmId) with { Disk = disk }, TimeSpan.FromSeconds(1), CancellationToken.None);

        attached.ShouldBe(new DomainOutcome(true, DomainPowerState.Stopped));
        attachedAgain.ShouldBe(attached);
        domain.ListDisks().ShouldBe([new DomainDisk("vdb", "disk", pool.LibvirtName, "extra.qcow2", null, volume.VolumeId.ToString("N")[..20])]);

        var detached = await _domains.RunAsync(Command(DomainOperationKind.DetachDisk, vmId) with { Disk = disk }, TimeSpan.FromSeconds(1), CancellationToken.None);
        var detachedAgain = await _domains.RunAsync(Command(DomainOperationKind.DetachDisk, vmId) with { Disk = disk }, TimeSpan.FromSeconds(1), CancellationToken.None);

        detached.ShouldBe(new DomainOutcome(true, DomainPowerState.Stopped));
        detachedAgain.ShouldBe(detached);
        domain.ListDisks().ShouldBeEmpty();
    }

    [Fact]
    public async Task detaching_never_removes_another_volume_that_holds_the_device_name()
    {
        var pool = NewPool();
        var mine = await VolumeAsync(pool, "mine.qcow2", "qcow2");
        var other = await VolumeAsync(pool, "other.qcow2", "qcow2");
        var vmId = NewVm();
        (await _domains.RunAsync(Command(DomainOperationKind.Create, vmId) with
        {
            DesiredPowerState = DomainPowerState.Stopped,
            Disks = [new DiskAttachment(other.VolumeId, "vdb", "virtio", null, false, pool, other.Name, "qcow2")],
        }, TimeSpan.FromSeconds(1), CancellationToken.None)).Succeeded.ShouldBeTrue();

        var outcome = await _domains.RunAsync(Command(DomainOperationKind.DetachDisk, vmId) with
        {
            Disk = new DiskAttachment(mine.VolumeId, "vdb", "virtio", null, false, pool, mine.Name, "qcow2"),
        }, TimeSpan.FromSeconds(1), CancellationToken.None);

        outcome.Succeeded.ShouldBeTrue();
        using var domain = _host.Libvirt.FindDomain(vmId)!;
        domain.ListDisks().ShouldHaveSingleItem().SourceVolume.ShouldBe("other.qcow2");
    }

    [Fact]
    public async Task an_attach_without_its_disk_fails_with_INVALID_SPEC()
    {
        var vmId = NewVm();
        (await _domains.RunAsync(Command(DomainOperationKind.Create, vmId) with { DesiredPowerState = DomainPowerState.Stopped },
            TimeSpan.FromSeconds(1), CancellationToken.None)).Succeeded.ShouldBeTrue();

        var outcome = await _domains.RunAsync(Command(DomainOperationKind.AttachDisk, vmId), TimeSpan.FromSeconds(1), CancellationToken.None);

        outcome.ShouldBe(DomainOutcome.Fail(DomainPowerState.Stopped, "INVALID_SPEC", "a AttachDisk operation needs its disk"));
    }

    private StoragePoolSpecification NewPool()
    {
        var spec = DirPool(Path.Combine(_host.Root, $"pool-{Guid.NewGuid():N}"));
        _pools.Add(spec.LibvirtName);
        return spec;
    }

    private async Task<VolumeSpecification> VolumeAsync(StoragePoolSpecification pool, string name, string format)
    {
        var volume = new VolumeSpecification(Guid.NewGuid(), name, format, 8 * MiB);
        var outcome = await _storage.RunAsync(StorageCommand(StorageOperationKind.CreateVolume, pool, InAMinute, volume), CancellationToken.None);
        outcome.Succeeded.ShouldBeTrue(outcome.ErrorMessage);
        return volume;
    }

    private Guid NewVm()
    {
        var vmId = Guid.NewGuid();
        _vms.Add(vmId);
        return vmId;
    }

    private static RunDomainOperation Command(DomainOperationKind kind, Guid vmId) => TestHypervisor.Command(kind, vmId, InAMinute);
}
