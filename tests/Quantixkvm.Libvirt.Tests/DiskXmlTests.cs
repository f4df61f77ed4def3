using System.Xml.Linq;

namespace Quantixkvm.Libvirt.Tests;

public sealed class DiskXmlTests
{
    private static DomainSpec Spec(IReadOnlyList<DiskSpec>? disks = null, string? serialLog = null) =>
        new(Guid.Parse("6f1c3a52-8d0e-4b7a-9c3d-2e5f6a7b8c9d"), "web-01", "web-01", 2, 1024, "qemu",
            Disks: disks, SerialLogPath: serialLog);

    private static XElement Disk(DiskSpec disk) => XElement.Parse(DomainXml.Disk(disk));

    [Fact]
    public void a_volume_disk_names_its_pool_and_volume_and_everything_the_guest_sees()
    {
        XElement disk = Disk(new DiskSpec(
            "vdb", SourcePool: "images", SourceVolume: "vm1-data.qcow2", DriverFormat: "qcow2",
            BootOrder: 2, ReadOnly: true, Serial: "qkvm-0b5a1c7e"));

        disk.Attribute("type")!.Value.ShouldBe("volume");
        disk.Attribute("device")!.Value.ShouldBe("disk");
        disk.Element("driver")!.Attribute("name")!.Value.ShouldBe("qemu");
        disk.Element("driver")!.Attribute("type")!.Value.ShouldBe("qcow2");
        disk.Element("source")!.Attribute("pool")!.Value.ShouldBe("images");
        disk.Element("source")!.Attribute("volume")!.Value.ShouldBe("vm1-data.qcow2");
        disk.Element("source")!.Attribute("file").ShouldBeNull();
        disk.Element("target")!.Attribute("dev")!.Value.ShouldBe("vdb");
        disk.Element("target")!.Attribute("bus")!.Value.ShouldBe("virtio");
        disk.Element("boot")!.Attribute("order")!.Value.ShouldBe("2");
        disk.Element("readonly").ShouldNotBeNull();
        disk.Element("serial")!.Value.ShouldBe("qkvm-0b5a1c7e");
    }

    [Fact]
    public void a_file_disk_has_a_file_source_and_leaves_out_what_was_not_asked_for()
    {
        XElement disk = Disk(new DiskSpec("sda", Bus: "sata", SourceFile: "/images/seed.raw"));

        disk.Attribute("type")!.Value.ShouldBe("file");
        disk.Element("driver")!.Attribute("type")!.Value.ShouldBe("raw");
        disk.Element("source")!.Attribute("file")!.Value.ShouldBe("/images/seed.raw");
        disk.Element("target")!.Attribute("bus")!.Value.ShouldBe("sata");
        disk.Element("boot").ShouldBeNull();
        disk.Element("readonly").ShouldBeNull();
        disk.Element("serial").ShouldBeNull();
    }

    [Fact]
    public void a_cdrom_may_be_an_empty_drive()
    {
        XElement disk = Disk(new DiskSpec("sdc", Bus: "sata", Device: "cdrom", ReadOnly: true));

        disk.Attribute("device")!.Value.ShouldBe("cdrom");
        disk.Attribute("type")!.Value.ShouldBe("file");
        disk.Element("source").ShouldBeNull();
    }

    [Theory]
    [InlineData("vdb", "virtio", "disk", "raw", null, null, null, null, "disk")]
    [InlineData("vdb", "ide", "disk", "raw", null, null, "/a", null, "disk.Bus")]
    [InlineData("vdb", "virtio", "floppy", "raw", null, null, "/a", null, "disk.Device")]
    [InlineData("vdb", "virtio", "disk", "vmdk", null, null, "/a", null, "disk.DriverFormat")]
    [InlineData("hda", "virtio", "disk", "raw", null, null, "/a", null, "disk.TargetDev")]
    [InlineData("vdb\n", "virtio", "disk", "raw", null, null, "/a", null, "disk.TargetDev")]
    [InlineData("sdb", "virtio", "disk", "raw", null, null, "/a", null, "disk.TargetDev")]
    [InlineData("vdb", "sata", "disk", "raw", null, null, "/a", null, "disk.TargetDev")]
    [InlineData("vdb", "virtio", "cdrom", "raw", null, null, "/a", null, "disk.Bus")]
    [InlineData("vdb", "virtio", "disk", "raw", "pool", null, null, null, "disk.SourceVolume")]
    [InlineData("vdb", "virtio", "disk", "raw", null, "vol", null, null, "disk.SourcePool")]
    [InlineData("vdb", "virtio", "disk", "raw", "pool", "../vol", null, null, "disk.SourceVolume")]
    [InlineData("vdb", "virtio", "disk", "raw", "pool", "vol", "/a", null, "disk")]
    [InlineData("vdb", "virtio", "disk", "raw", null, null, "relative.img", null, "disk.SourceFile")]
    [InlineData("vdb", "virtio", "disk", "raw", null, null, "/a", "has space", "disk.Serial")]
    [InlineData("vdb", "virtio", "disk", "raw", null, null, "/a", "123456789012345678901", "disk.Serial")]
    [InlineData("vdb", "virtio", "disk", "raw", null, null, "/a", "", "disk.Serial")]
    public void an_impossible_disk_is_refused_naming_the_field(
        string target, string bus, string device, string format, string? pool, string? volume, string? file, string? serial, string field)
    {
        var spec = new DiskSpec(target, bus, device, format, pool, volume, file, Serial: serial);

        Should.Throw<ArgumentException>(() => DomainXml.Disk(spec)).ParamName.ShouldBe(field);
    }

    private static readonly Guid CephSecret = Guid.Parse("0f7c2b1e-5a3d-4c6e-9b8a-7d6e5f4a3b2c");

    private static RbdDiskSource Rbd(string pool = "vms", string image = "vm1-root", string user = "libvirt") =>
        new(pool, image, [("10.0.0.1", 6789), ("mon-b.example", 3300)], user, CephSecret);

    [Fact]
    public void an_rbd_disk_is_a_raw_network_disk_naming_pool_image_monitors_user_and_ceph_secret()
    {
        XElement disk = Disk(new DiskSpec("vda", SourceRbd: Rbd(), BootOrder: 1, Serial: "qkvm-root"));

        disk.Attribute("type")!.Value.ShouldBe("network");
        disk.Attribute("device")!.Value.ShouldBe("disk");
        disk.Element("driver")!.Attribute("type")!.Value.ShouldBe("raw");
        disk.Element("driver")!.Attribute("cache")!.Value.ShouldBe("none");
        XElement source = disk.Element("source")!;
        source.Attribute("protocol")!.Value.ShouldBe("rbd");
        source.Attribute("name")!.Value.ShouldBe("vms/vm1-root");
        source.Attribute("pool").ShouldBeNull();
        source.Elements("host").Select(h => (h.Attribute("name")!.Value, h.Attribute("port")!.Value))
            .ShouldBe([("10.0.0.1", "6789"), ("mon-b.example", "3300")]);
        XElement auth = source.Element("auth")!;
        auth.Attribute("username")!.Value.ShouldBe("libvirt");
        auth.Element("secret")!.Attribute("type")!.Value.ShouldBe("ceph");
        auth.Element("secret")!.Attribute("uuid")!.Value.ShouldBe(CephSecret.ToString());
        disk.Element("target")!.Attribute("dev")!.Value.ShouldBe("vda");
        disk.Element("boot")!.Attribute("order")!.Value.ShouldBe("1");
        disk.Element("serial")!.Value.ShouldBe("qkvm-root");
    }

    [Fact]
    public void a_volume_or_file_disk_has_no_cache_mode_of_its_own()
    {
        Disk(new DiskSpec("vdb", SourceFile: "/a")).Element("driver")!.Attribute("cache").ShouldBeNull();
        Disk(new DiskSpec("vdb", SourcePool: "p", SourceVolume: "v")).Element("driver")!.Attribute("cache").ShouldBeNull();
    }

    public static TheoryData<DiskSpec, string> ImpossibleRbdDisks() => new()
    {
        { new DiskSpec("vda", DriverFormat: "qcow2", SourceRbd: Rbd()), "disk.DriverFormat" },
        { new DiskSpec("vda", SourceFile: "/a", SourceRbd: Rbd()), "disk" },
        { new DiskSpec("vda", SourcePool: "p", SourceVolume: "v", SourceRbd: Rbd()), "disk" },
        { new DiskSpec("vda", SourceRbd: Rbd(pool: "a/b")), "disk.SourceRbd.CephPool" },
        { new DiskSpec("vda", SourceRbd: Rbd(pool: "")), "disk.SourceRbd.CephPool" },
        { new DiskSpec("vda", SourceRbd: Rbd(image: "root@snap")), "disk.SourceRbd.Image" },
        { new DiskSpec("vda", SourceRbd: Rbd(image: "../root")), "disk.SourceRbd.Image" },
        { new DiskSpec("vda", SourceRbd: Rbd(image: "has space")), "disk.SourceRbd.Image" },
        { new DiskSpec("vda", SourceRbd: Rbd(user: "client.libvirt")), "disk.SourceRbd.AuthUser" },
        { new DiskSpec("vda", SourceRbd: Rbd() with { Monitors = [] }), "disk.SourceRbd.Monitors" },
        { new DiskSpec("vda", SourceRbd: Rbd() with { Monitors = [("bad host", 6789)] }), "disk.SourceRbd.Monitors" },
        { new DiskSpec("vda", SourceRbd: Rbd() with { SecretUuid = Guid.Empty }), "disk.SourceRbd.SecretUuid" },
    };

    [Theory]
    [MemberData(nameof(ImpossibleRbdDisks))]
    public void an_impossible_rbd_disk_is_refused_naming_the_field(DiskSpec spec, string field)
    {
        Should.Throw<ArgumentException>(() => DomainXml.Disk(spec)).ParamName.ShouldBe(field);
    }

    [Fact]
    public void a_monitor_port_out_of_range_is_refused()
    {
        Should.Throw<ArgumentOutOfRangeException>(() => DomainXml.Disk(new DiskSpec("vda", SourceRbd: Rbd() with { Monitors = [("h", 70000)] })))
            .ParamName.ShouldBe("disk.SourceRbd.Monitors");
    }

    [Fact]
    public void an_rbd_disk_reads_back_as_its_protocol_and_image_name()
    {
        string xml = DomainXml.Build(Spec(
        [
            new DiskSpec("vda", SourceRbd: Rbd(), Serial: "root"),
            new DiskSpec("vdb", SourceFile: "/data/scratch.raw"),
        ]));

        DomainXml.ReadDisks(xml).ShouldBe(
        [
            new DomainDisk("vda", "disk", null, null, null, "root", "rbd", "vms/vm1-root"),
            new DomainDisk("vdb", "disk", null, null, "/data/scratch.raw", null),
        ]);
    }

    [Fact]
    public void a_boot_order_below_one_is_refused()
    {
        Should.Throw<ArgumentOutOfRangeException>(() => DomainXml.Disk(new DiskSpec("vda", SourceFile: "/a", BootOrder: 0)))
            .ParamName.ShouldBe("disk.BootOrder");
    }

    [Fact]
    public void a_domain_without_disks_or_log_keeps_the_pty_console_and_the_domain_wide_boot_device()
    {
        XElement root = XDocument.Parse(DomainXml.Build(Spec())).Root!;

        root.Element("os")!.Element("boot")!.Attribute("dev")!.Value.ShouldBe("hd");
        root.Element("devices")!.Elements("disk").ShouldBeEmpty();
        root.Element("devices")!.Element("serial")!.Attribute("type")!.Value.ShouldBe("pty");
        root.Element("devices")!.Element("console")!.Attribute("type")!.Value.ShouldBe("pty");
        root.Element("devices")!.Element("serial")!.Element("source").ShouldBeNull();
    }

    [Fact]
    public void the_domains_disks_come_in_order_and_without_boot_orders_the_domain_boots_from_hd()
    {
        XElement root = XDocument.Parse(DomainXml.Build(Spec(
        [
            new DiskSpec("vda", SourcePool: "images", SourceVolume: "root.qcow2", DriverFormat: "qcow2"),
            new DiskSpec("vdb", SourceFile: "/data/scratch.raw"),
        ]))).Root!;

        root.Element("devices")!.Elements("disk").Select(d => d.Element("target")!.Attribute("dev")!.Value)
            .ShouldBe(["vda", "vdb"]);
        root.Element("os")!.Element("boot")!.Attribute("dev")!.Value.ShouldBe("hd");
    }

    [Fact]
    public void a_disk_with_a_boot_order_removes_the_domain_wide_boot_device_which_libvirt_refuses_alongside()
    {
        XElement root = XDocument.Parse(DomainXml.Build(Spec(
        [
            new DiskSpec("vda", SourceFile: "/data/root.qcow2", DriverFormat: "qcow2", BootOrder: 1),
            new DiskSpec("sda", Bus: "sata", Device: "cdrom", SourceFile: "/iso/install.iso", BootOrder: 2),
        ]))).Root!;

        root.Element("os")!.Element("boot").ShouldBeNull();
        root.Element("os")!.Element("type")!.Value.ShouldBe("hvm");
        root.Element("devices")!.Elements("disk").Select(d => d.Element("boot")!.Attribute("order")!.Value).ShouldBe(["1", "2"]);
    }

    [Fact]
    public void two_disks_with_the_same_target_or_boot_order_are_refused()
    {
        Should.Throw<ArgumentException>(() => DomainXml.Build(Spec(
            [new DiskSpec("vda", SourceFile: "/a"), new DiskSpec("vda", SourceFile: "/b")])))
            .ParamName.ShouldBe("spec.Disks");
        Should.Throw<ArgumentException>(() => DomainXml.Build(Spec(
            [new DiskSpec("vda", SourceFile: "/a", BootOrder: 1), new DiskSpec("vdb", SourceFile: "/b", BootOrder: 1)])))
            .ParamName.ShouldBe("spec.Disks");
        Should.Throw<ArgumentException>(() => DomainXml.Build(Spec([new DiskSpec("vda", Bus: "scsi", SourceFile: "/a")])))
            .ParamName.ShouldBe("spec.Disks[0].TargetDev");
    }

    [Fact]
    public void a_serial_log_path_sends_the_serial_console_and_its_console_alias_to_that_file()
    {
        XElement devices = XDocument.Parse(DomainXml.Build(Spec(serialLog: "/var/log/qkvm/web-01.log"))).Root!.Element("devices")!;

        XElement serial = devices.Element("serial")!;
        serial.Attribute("type")!.Value.ShouldBe("file");
        serial.Element("source")!.Attribute("path")!.Value.ShouldBe("/var/log/qkvm/web-01.log");
        serial.Element("target")!.Attribute("port")!.Value.ShouldBe("0");
        XElement console = devices.Element("console")!;
        console.Attribute("type")!.Value.ShouldBe("file");
        console.Element("source")!.Attribute("path")!.Value.ShouldBe("/var/log/qkvm/web-01.log");
        console.Element("target")!.Attribute("type")!.Value.ShouldBe("serial");
    }

    [Fact]
    public void a_relative_serial_log_path_is_refused()
    {
        Should.Throw<ArgumentException>(() => DomainXml.Build(Spec(serialLog: "web-01.log")))
            .ParamName.ShouldBe("spec.SerialLogPath");
    }

    [Fact]
    public void reading_disks_gives_target_source_and_serial_of_every_disk_with_a_target()
    {
        const string xml = """
            <domain type='kvm'>
              <devices>
                <disk type='volume' device='disk'>
                  <source pool='images' volume='root.qcow2'/>
                  <target dev='vda' bus='virtio'/>
                  <serial>qkvm-root</serial>
                </disk>
                <disk type='file' device='cdrom'>
                  <target dev='sda' bus='sata'/>
                </disk>
                <disk type='file' device='disk'>
                  <source file='/data/x.raw'/>
                  <target dev='vdb' bus='virtio'/>
                </disk>
                <disk type='file' device='disk'><source file='/no/target'/></disk>
                <interface type='network'/>
              </devices>
            </domain>
            """;

        DomainXml.ReadDisks(xml).ShouldBe(
        [
            new DomainDisk("vda", "disk", "images", "root.qcow2", null, "qkvm-root"),
            new DomainDisk("sda", "cdrom", null, null, null, null),
            new DomainDisk("vdb", "disk", null, null, "/data/x.raw", null),
        ]);
    }

    [Fact]
    public void the_disks_a_spec_builds_read_back_as_the_same_disks()
    {
        string xml = DomainXml.Build(Spec(
        [
            new DiskSpec("vda", SourcePool: "images", SourceVolume: "root.qcow2", DriverFormat: "qcow2", Serial: "root"),
            new DiskSpec("vdb", SourceFile: "/data/scratch.raw", Serial: "scratch"),
        ]));

        DomainXml.ReadDisks(xml).ShouldBe(
        [
            new DomainDisk("vda", "disk", "images", "root.qcow2", null, "root"),
            new DomainDisk("vdb", "disk", null, null, "/data/scratch.raw", "scratch"),
        ]);
    }
}
