using System.Diagnostics;
using System.Text.Json;
using System.Xml.Linq;
using Quantixkvm.Testing;

namespace Quantixkvm.Libvirt.Tests;

/// <summary>
/// A private libvirtd (under root it runs as the 'quantixkvm' user) whose QEMU driver the class uses
/// through <see cref="LibvirtDaemon.QemuSessionUri"/>: real dir pools and image files, secrets, and
/// device attach/detach, none of which libvirt's test driver has.
/// </summary>
public sealed class SessionDaemonFixture : IAsyncLifetime
{
    private LibvirtDaemon? daemon;

    public LibvirtConnection Connection { get; private set; } = null!;

    /// <summary>A folder the daemon's user owns, so that it can build pools inside.</summary>
    public string Root => daemon!.Root;

    public async Task InitializeAsync()
    {
        daemon = await LibvirtDaemon.StartAsync();
        Connection = LibvirtConnection.Open(daemon.QemuSessionUri);
    }

    public async Task DisposeAsync()
    {
        Connection?.Dispose();
        if (daemon is not null)
        {
            await daemon.DisposeAsync();
        }
    }
}

public sealed class SessionDaemonTests : IClassFixture<SessionDaemonFixture>, IDisposable
{
    private const long MiB = 1024 * 1024;

    private readonly SessionDaemonFixture fixture;
    private readonly List<string> pools = [];
    private readonly List<Guid> domains = [];

    public SessionDaemonTests(SessionDaemonFixture fixture)
    {
        this.fixture = fixture;
    }

    private LibvirtConnection Connection => fixture.Connection;

    public void Dispose()
    {
        foreach (Guid uuid in domains)
        {
            TestDriver.Remove(Connection, uuid);
        }

        foreach (string name in pools)
        {
            using LibvirtStoragePool? pool = Connection.FindStoragePool(name);
            if (pool is null)
            {
                continue;
            }

            if (pool.IsActive)
            {
                foreach (LibvirtStorageVolume volume in pool.ListVolumes())
                {
                    using (volume)
                    {
                        volume.Delete();
                    }
                }

                pool.Destroy();
            }

            pool.Undefine();
        }
    }

    [Fact]
    public void a_real_dir_pool_holds_a_qcow2_volume_and_a_linked_clone_that_qemu_img_sees_as_an_overlay()
    {
        using LibvirtStoragePool pool = StartDirPool();
        using LibvirtStorageVolume baseImage = pool.CreateVolume(StorageVolumeXml.Build("base.qcow2", 16 * MiB, "qcow2"));
        using LibvirtStorageVolume clone = pool.CreateVolume(
            StorageVolumeXml.Build("vm1.qcow2", 16 * MiB, "qcow2", baseImage.Path, "qcow2"));

        baseImage.Path.ShouldBe(Path.Combine(fixture.Root, pool.Name, "base.qcow2"));
        clone.Path.ShouldBe(Path.Combine(fixture.Root, pool.Name, "vm1.qcow2"));
        JsonElement baseInfo = QemuImgInfo(baseImage.Path);
        baseInfo.GetProperty("format").GetString().ShouldBe("qcow2");
        baseInfo.GetProperty("virtual-size").GetInt64().ShouldBe(16 * MiB);
        baseInfo.TryGetProperty("backing-filename", out _).ShouldBeFalse();
        JsonElement cloneInfo = QemuImgInfo(clone.Path);
        cloneInfo.GetProperty("format").GetString().ShouldBe("qcow2");
        cloneInfo.GetProperty("virtual-size").GetInt64().ShouldBe(16 * MiB);
        cloneInfo.GetProperty("backing-filename").GetString().ShouldBe(baseImage.Path);
        cloneInfo.GetProperty("backing-filename-format").GetString().ShouldBe("qcow2");

        // Thin: neither image took its capacity on disk.
        clone.GetInfo().AllocationBytes.ShouldBeLessThan(16 * MiB);
        XDocument.Parse(clone.GetXml()).Root!.Element("backingStore")!.Element("path")!.Value.ShouldBe(baseImage.Path);
        pool.Refresh();
        IReadOnlyList<LibvirtStorageVolume> volumes = pool.ListVolumes();
        volumes.Select(v => v.Name).Order().ShouldBe(["base.qcow2", "vm1.qcow2"]);
        foreach (LibvirtStorageVolume volume in volumes)
        {
            volume.Dispose();
        }
    }

    [Fact]
    public void a_real_volume_grows_and_refuses_to_shrink_without_the_shrink_flag()
    {
        using LibvirtStoragePool pool = StartDirPool();
        using LibvirtStorageVolume volume = pool.CreateVolume(StorageVolumeXml.Build("data.qcow2", 16 * MiB, "qcow2"));

        volume.Resize(32 * MiB);

        volume.GetInfo().CapacityBytes.ShouldBe(32 * MiB);
        QemuImgInfo(volume.Path).GetProperty("virtual-size").GetInt64().ShouldBe(32 * MiB);
        var error = Should.Throw<LibvirtException>(() => volume.Resize(8 * MiB));
        error.ErrorCode.ShouldBe(LibvirtErrorCode.InvalidArg);
        error.Operation.ShouldBe("virStorageVolResize");
        error.Message.ShouldContain("shrink");
        volume.GetInfo().CapacityBytes.ShouldBe(32 * MiB);
    }

    [Fact]
    public void a_real_pool_copies_a_volume_and_reports_a_taken_name_as_storage_vol_exist()
    {
        using LibvirtStoragePool pool = StartDirPool();
        using LibvirtStorageVolume source = pool.CreateVolume(StorageVolumeXml.Build("seed.raw", 4 * MiB, "raw"));

        using LibvirtStorageVolume copy = pool.CreateVolumeFrom(StorageVolumeXml.Build("copy.raw", 4 * MiB, "raw"), source);
        var error = Should.Throw<LibvirtException>(() => pool.CreateVolume(StorageVolumeXml.Build("seed.raw", MiB, "raw")));

        JsonElement info = QemuImgInfo(copy.Path);
        info.GetProperty("format").GetString().ShouldBe("raw");
        info.GetProperty("virtual-size").GetInt64().ShouldBe(4 * MiB);
        error.ErrorCode.ShouldBe(LibvirtErrorCode.StorageVolExist);
        error.Operation.ShouldBe("virStorageVolCreateXML");
        error.Message.ShouldContain("seed.raw");
        copy.Delete();
        File.Exists(copy.Path).ShouldBeFalse();
        pool.FindVolume("copy.raw").ShouldBeNull();
    }

    [Fact]
    public void disks_are_attached_to_and_detached_from_the_persistent_definition_of_a_stopped_qemu_domain()
    {
        using LibvirtStoragePool pool = StartDirPool();
        pool.CreateVolume(StorageVolumeXml.Build("data.qcow2", 16 * MiB, "qcow2")).Dispose();
        using LibvirtDomain domain = DefineQemuDomain(TestSpec());
        string volumeDisk = DomainXml.Disk(new DiskSpec(
            "vdb", SourcePool: pool.Name, SourceVolume: "data.qcow2", DriverFormat: "qcow2", Serial: "qkvm-data"));
        string fileDisk = DomainXml.Disk(new DiskSpec("vdc", SourceFile: "/var/lib/qkvm/scratch.raw", Serial: "qkvm-scratch"));
        string missingPool = DomainXml.Disk(new DiskSpec("vdd", SourcePool: "absent", SourceVolume: "x.qcow2"));

        domain.AttachDevice(volumeDisk, live: false, config: true);
        domain.AttachDevice(fileDisk, live: false, config: true);

        // Even a config-only attach resolves a volume disk's pool.
        Should.Throw<LibvirtException>(() => domain.AttachDevice(missingPool, live: false, config: true))
            .ErrorCode.ShouldBe(LibvirtErrorCode.NoStoragePool);
        domain.ListDisks().ShouldBe(
        [
            new DomainDisk("vdb", "disk", pool.Name, "data.qcow2", null, "qkvm-data"),
            new DomainDisk("vdc", "disk", null, null, "/var/lib/qkvm/scratch.raw", "qkvm-scratch"),
        ]);

        domain.DetachDevice(volumeDisk, live: false, config: true);

        domain.ListDisks().Select(d => d.TargetDev).ShouldBe(["vdc"]);
        var live = Should.Throw<LibvirtException>(() => domain.AttachDevice(volumeDisk, live: true, config: false));
        live.ErrorCode.ShouldBe(LibvirtErrorCode.OperationInvalid);
        live.Operation.ShouldBe("virDomainAttachDeviceFlags");
        live.Message.ShouldContain("not running");
        var twice = Should.Throw<LibvirtException>(() => domain.AttachDevice(fileDisk, live: false, config: true));
        twice.Operation.ShouldBe("virDomainAttachDeviceFlags");
        twice.Message.ShouldContain("vdc");
    }

    [Fact]
    public void the_qemu_driver_accepts_a_domain_with_boot_ordered_disks_and_a_serial_log()
    {
        DomainSpec spec = TestSpec() with
        {
            Disks =
            [
                new DiskSpec("vda", SourcePool: "images", SourceVolume: "root.qcow2", DriverFormat: "qcow2", BootOrder: 2, Serial: "root"),
                new DiskSpec("sda", Bus: "sata", Device: "cdrom", SourceFile: "/iso/install.iso", BootOrder: 1, ReadOnly: true),
            ],
            SerialLogPath = Path.Combine(fixture.Root, "console.log"),
        };

        using LibvirtDomain domain = DefineQemuDomain(spec);

        XElement root = XDocument.Parse(domain.GetXml()).Root!;
        root.Element("os")!.Element("boot").ShouldBeNull();
        XElement devices = root.Element("devices")!;
        devices.Elements("disk").Select(d => d.Element("boot")!.Attribute("order")!.Value).ShouldBe(["2", "1"]);
        devices.Element("serial")!.Attribute("type")!.Value.ShouldBe("file");
        devices.Element("serial")!.Element("source")!.Attribute("path")!.Value.ShouldBe(spec.SerialLogPath);
        // Kept by libvirt: a revert restarts QEMU, which must add to the console log, not truncate it.
        devices.Element("serial")!.Element("source")!.Attribute("append")?.Value.ShouldBe("on");
        devices.Element("console")!.Element("source")!.Attribute("path")!.Value.ShouldBe(spec.SerialLogPath);
        domain.ListDisks().ShouldBe(
        [
            new DomainDisk("vda", "disk", "images", "root.qcow2", null, "root"),
            new DomainDisk("sda", "cdrom", null, null, "/iso/install.iso", null),
        ]);
    }

    [Fact]
    public void the_qemu_driver_keeps_an_rbd_network_disk_as_defined_and_attaches_and_detaches_one()
    {
        Guid secret = Guid.NewGuid();
        RbdDiskSource Rbd(string image) => new("vms", image, [("127.0.0.1", 6789)], "libvirt", secret);
        using LibvirtDomain domain = DefineQemuDomain(TestSpec() with
        {
            Disks = [new DiskSpec("vda", SourceRbd: Rbd("vm1-root"), BootOrder: 1, Serial: "root")],
        });
        string data = DomainXml.Disk(new DiskSpec("vdb", SourceRbd: Rbd("vm1-data"), Serial: "data"));

        domain.AttachDevice(data, live: false, config: true);

        domain.ListDisks().ShouldBe(
        [
            new DomainDisk("vda", "disk", null, null, null, "root", "rbd", "vms/vm1-root"),
            new DomainDisk("vdb", "disk", null, null, null, "data", "rbd", "vms/vm1-data"),
        ]);
        XElement disk = XDocument.Parse(domain.GetXml()).Root!.Element("devices")!.Element("disk")!;
        disk.Element("driver")!.Attribute("cache")!.Value.ShouldBe("none");
        disk.Element("source")!.Element("host")!.Attribute("port")!.Value.ShouldBe("6789");
        disk.Element("source")!.Element("auth")!.Element("secret")!.Attribute("uuid")!.Value.ShouldBe(secret.ToString());

        domain.DetachDevice(data, live: false, config: true);

        domain.ListDisks().Select(d => d.TargetDev).ShouldBe(["vda"]);
    }

    [Fact]
    public void a_disk_only_snapshot_of_a_stopped_domain_puts_a_qcow2_overlay_on_its_disk()
    {
        using LibvirtStoragePool pool = StartDirPool();
        using LibvirtStorageVolume disk = pool.CreateVolume(StorageVolumeXml.Build("root.qcow2", 16 * MiB, "qcow2"));
        using LibvirtDomain domain = DefineQemuDomain(TestSpec() with
        {
            Disks = [new DiskSpec("vda", SourceFile: disk.Path, DriverFormat: "qcow2")],
        });

        using LibvirtDomainSnapshot snapshot = domain.CreateSnapshot(
            SnapshotXml.Build("nightly", "", diskOnly: true), SnapshotCreateFlags.DiskOnly | SnapshotCreateFlags.Atomic);

        string overlay = domain.ListDisks().ShouldHaveSingleItem().SourceFile.ShouldNotBeNull();
        overlay.ShouldNotBe(disk.Path);
        JsonElement info = QemuImgInfo(overlay);
        info.GetProperty("format").GetString().ShouldBe("qcow2");
        info.GetProperty("backing-filename").GetString().ShouldBe(disk.Path);
        domain.FindSnapshot("nightly").ShouldNotBeNull().Dispose();
        XDocument.Parse(snapshot.GetXml()).Root!.Element("state")!.Value.ShouldBe("shutoff");
        File.Delete(overlay);
    }

    [Fact]
    public void the_domain_type_the_daemons_capabilities_offer_is_one_it_accepts_a_domain_of()
    {
        string type = DomainXml.DomainTypeFromCapabilities(Connection.GetCapabilities());

        type.ShouldBeOneOf("qemu", "kvm");
        using LibvirtDomain domain = DefineQemuDomain(TestSpec() with { DomainType = type });
        XDocument.Parse(domain.GetXml()).Root!.Attribute("type")!.Value.ShouldBe(type);
    }

    [Fact]
    public void a_ceph_secret_is_defined_given_its_value_found_and_undefined()
    {
        Guid uuid = Guid.NewGuid();
        string usage = $"client.libvirt {uuid:N}";

        using (LibvirtSecret secret = Connection.DefineSecret(SecretXml.Ceph(uuid, usage)))
        {
            secret.Uuid.ShouldBe(uuid);
            secret.SetValue("AQBx-not-a-real-cephx-key=="u8.ToArray());
        }

        string poolName = UniqueName("rbd");
        pools.Add(poolName);
        using (LibvirtStoragePool rbd = Connection.DefineStoragePool(
            StoragePoolXml.Rbd(poolName, Guid.NewGuid(), "vms", [("127.0.0.1", 6789)], "libvirt", uuid)))
        {
            XDocument.Parse(rbd.GetXml()).Root!.Element("source")!.Element("auth")!.Element("secret")!
                .Attribute("uuid")!.Value.ShouldBe(uuid.ToString());
        }

        using LibvirtSecret found = Connection.FindSecret(uuid).ShouldNotBeNull();
        found.Undefine();
        Connection.FindSecret(uuid).ShouldBeNull();
        var error = Should.Throw<LibvirtException>(() => found.SetValue([1, 2, 3]));
        error.ErrorCode.ShouldBe(LibvirtErrorCode.NoSecret);
        error.Operation.ShouldBe("virSecretSetValue");
    }

    private LibvirtStoragePool StartDirPool()
    {
        string name = UniqueName("pool");
        pools.Add(name);
        LibvirtStoragePool pool = Connection.DefineStoragePool(
            StoragePoolXml.Dir(name, Guid.NewGuid(), Path.Combine(fixture.Root, name)));
        pool.Build();
        pool.Start();
        return pool;
    }

    private static DomainSpec TestSpec() => TestDriver.NewSpec() with { DomainType = "qemu" };

    private LibvirtDomain DefineQemuDomain(DomainSpec spec)
    {
        domains.Add(spec.Uuid);
        return Connection.DefineDomain(DomainXml.Build(spec));
    }

    /// <summary><c>qemu-img info --output=json</c> of an image, run without a shell.</summary>
    private static JsonElement QemuImgInfo(string path)
    {
        var start = new ProcessStartInfo("qemu-img")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (string argument in new[] { "info", "--output=json", path })
        {
            start.ArgumentList.Add(argument);
        }

        using Process process = Process.Start(start) ?? throw new InvalidOperationException("qemu-img did not start");
        Task<string> error = process.StandardError.ReadToEndAsync();
        string output = process.StandardOutput.ReadToEnd();
        process.WaitForExit();
        process.ExitCode.ShouldBe(0, $"qemu-img info {path}: {error.Result}");
        return JsonDocument.Parse(output).RootElement.Clone();
    }

    private static string UniqueName(string prefix) => $"qkvm-{prefix}-{Guid.NewGuid():N}"[..(prefix.Length + 17)];
}
