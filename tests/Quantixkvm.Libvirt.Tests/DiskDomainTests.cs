namespace Quantixkvm.Libvirt.Tests;

/// <summary>Disks in domains against libvirt's test driver, which keeps them but cannot hot-plug.</summary>
public sealed class DiskDomainTests : IDisposable
{
    private readonly LibvirtConnection connection = LibvirtConnection.Open(TestDriver.Uri);
    private readonly List<Guid> defined = [];

    public void Dispose()
    {
        foreach (Guid uuid in defined)
        {
            TestDriver.Remove(connection, uuid);
        }

        connection.Dispose();
    }

    [Fact]
    public void a_domain_defined_with_disks_lists_them_with_their_sources_and_serials()
    {
        DomainSpec spec = TestDriver.NewSpec() with
        {
            Disks =
            [
                new DiskSpec("vda", SourcePool: "default-pool", SourceVolume: "root.qcow2", DriverFormat: "qcow2", BootOrder: 1, Serial: "root"),
                new DiskSpec("vdb", SourceFile: "/data/scratch.raw", Serial: "scratch"),
            ],
            SerialLogPath = "/var/log/qkvm/console.log",
        };
        defined.Add(spec.Uuid);
        using LibvirtDomain domain = connection.DefineDomain(DomainXml.Build(spec));

        domain.ListDisks().ShouldBe(
        [
            new DomainDisk("vda", "disk", "default-pool", "root.qcow2", null, "root"),
            new DomainDisk("vdb", "disk", null, null, "/data/scratch.raw", "scratch"),
        ]);
    }

    [Fact]
    public void the_test_driver_cannot_attach_or_detach_devices_and_says_so()
    {
        using LibvirtDomain test = connection.FindDomainByName("test").ShouldNotBeNull();
        string disk = DomainXml.Disk(new DiskSpec("vdz", SourceFile: "/data/hotplug.raw"));

        var attach = Should.Throw<LibvirtException>(() => test.AttachDevice(disk, live: true, config: false));
        var detach = Should.Throw<LibvirtException>(() => test.DetachDevice(disk, live: false, config: true));

        attach.ErrorCode.ShouldBe(LibvirtErrorCode.NoSupport);
        attach.Operation.ShouldBe("virDomainAttachDeviceFlags");
        detach.ErrorCode.ShouldBe(LibvirtErrorCode.NoSupport);
        detach.Operation.ShouldBe("virDomainDetachDeviceFlags");
        test.ListDisks().Select(d => d.TargetDev).ShouldNotContain("vdz");
    }
}
