using System.Xml.Linq;

namespace Quantixkvm.Libvirt.Tests;

public sealed class StorageXmlTests
{
    private static readonly Guid PoolUuid = Guid.Parse("0c1d2e3f-4a5b-4c6d-8e7f-901234567890");
    private static readonly Guid SecretUuid = Guid.Parse("a1b2c3d4-e5f6-4a7b-8c9d-0e1f2a3b4c5d");

    private static readonly IReadOnlyList<(string Host, int Port)> Monitors =
        [("10.0.0.1", 6789), ("10.0.0.2", 3300)];

    [Fact]
    public void a_dir_pool_has_its_name_uuid_and_target_folder()
    {
        XElement pool = XDocument.Parse(StoragePoolXml.Dir("images", PoolUuid, "/var/lib/qkvm/images")).Root!;

        pool.Name.LocalName.ShouldBe("pool");
        pool.Attribute("type")!.Value.ShouldBe("dir");
        pool.Element("name")!.Value.ShouldBe("images");
        pool.Element("uuid")!.Value.ShouldBe(PoolUuid.ToString());
        pool.Element("target")!.Element("path")!.Value.ShouldBe("/var/lib/qkvm/images");
    }

    [Fact]
    public void an_rbd_pool_names_the_ceph_pool_every_monitor_and_the_cephx_secret()
    {
        XElement pool = XDocument.Parse(
            StoragePoolXml.Rbd("ceph-vms", PoolUuid, "vms", Monitors, "libvirt", SecretUuid)).Root!;

        pool.Attribute("type")!.Value.ShouldBe("rbd");
        pool.Element("name")!.Value.ShouldBe("ceph-vms");
        XElement source = pool.Element("source")!;
        source.Element("name")!.Value.ShouldBe("vms");
        source.Elements("host")
            .Select(h => (h.Attribute("name")!.Value, h.Attribute("port")!.Value))
            .ShouldBe([("10.0.0.1", "6789"), ("10.0.0.2", "3300")]);
        XElement auth = source.Element("auth")!;
        auth.Attribute("type")!.Value.ShouldBe("ceph");
        auth.Attribute("username")!.Value.ShouldBe("libvirt");
        auth.Element("secret")!.Attribute("uuid")!.Value.ShouldBe(SecretUuid.ToString());
        pool.Element("target").ShouldBeNull();
    }

    [Theory]
    [InlineData("", "name")]
    [InlineData("a/b", "name")]
    [InlineData("..", "name")]
    [InlineData("x..y", "name")]
    [InlineData("tab\there", "name")]
    [InlineData("bell\u0007", "name")]
    public void a_pool_name_that_is_not_a_plain_name_is_refused_naming_the_field(string name, string field)
    {
        Should.Throw<ArgumentException>(() => StoragePoolXml.Dir(name, PoolUuid, "/pools/x")).ParamName.ShouldBe(field);
        Should.Throw<ArgumentException>(() => StoragePoolXml.Rbd(name, PoolUuid, "vms", Monitors, "libvirt", SecretUuid))
            .ParamName.ShouldBe(field);
    }

    [Theory]
    [InlineData("relative/path")]
    [InlineData("/pools/../etc")]
    [InlineData("")]
    [InlineData("/pools/new\nline")]
    public void a_dir_pool_target_must_be_a_clean_absolute_path(string path)
    {
        Should.Throw<ArgumentException>(() => StoragePoolXml.Dir("images", PoolUuid, path)).ParamName.ShouldBe("targetPath");
    }

    [Fact]
    public void the_rbd_builder_refuses_what_libvirt_or_ceph_would_misread()
    {
        Should.Throw<ArgumentException>(() => StoragePoolXml.Dir("images", Guid.Empty, "/p")).ParamName.ShouldBe("uuid");
        Should.Throw<ArgumentException>(() => StoragePoolXml.Rbd("p", PoolUuid, "a/b", Monitors, "libvirt", SecretUuid))
            .ParamName.ShouldBe("cephPoolName");
        Should.Throw<ArgumentException>(() => StoragePoolXml.Rbd("p", PoolUuid, "vms", [], "libvirt", SecretUuid))
            .ParamName.ShouldBe("monitors");
        Should.Throw<ArgumentException>(() => StoragePoolXml.Rbd("p", PoolUuid, "vms", [("bad host", 6789)], "libvirt", SecretUuid))
            .ParamName.ShouldBe("monitors");
        Should.Throw<ArgumentOutOfRangeException>(() => StoragePoolXml.Rbd("p", PoolUuid, "vms", [("h", 0)], "libvirt", SecretUuid))
            .ParamName.ShouldBe("monitors");
        Should.Throw<ArgumentException>(() => StoragePoolXml.Rbd("p", PoolUuid, "vms", Monitors, "client.admin", SecretUuid))
            .ParamName.ShouldBe("authUser");
        Should.Throw<ArgumentException>(() => StoragePoolXml.Rbd("p", PoolUuid, "vms", Monitors, "", SecretUuid))
            .ParamName.ShouldBe("authUser");
        Should.Throw<ArgumentException>(() => StoragePoolXml.Rbd("p", PoolUuid, "vms", Monitors, "libvirt", Guid.Empty))
            .ParamName.ShouldBe("secretUuid");
    }

    [Fact]
    public void a_volume_is_thin_and_carries_its_name_capacity_in_bytes_and_format()
    {
        XElement volume = XDocument.Parse(StorageVolumeXml.Build("disk0.qcow2", 10L << 30, "qcow2")).Root!;

        volume.Name.LocalName.ShouldBe("volume");
        volume.Element("name")!.Value.ShouldBe("disk0.qcow2");
        volume.Element("capacity")!.Attribute("unit")!.Value.ShouldBe("bytes");
        volume.Element("capacity")!.Value.ShouldBe("10737418240");
        volume.Element("allocation")!.Value.ShouldBe("0");
        volume.Element("target")!.Element("format")!.Attribute("type")!.Value.ShouldBe("qcow2");
        volume.Element("backingStore").ShouldBeNull();
    }

    [Fact]
    public void a_linked_clone_is_a_qcow2_volume_with_a_backing_store_of_a_stated_format()
    {
        XElement volume = XDocument.Parse(
            StorageVolumeXml.Build("vm1.qcow2", 1L << 30, "qcow2", "/pools/images/base.raw", "raw")).Root!;

        XElement backing = volume.Element("backingStore")!;
        backing.Element("path")!.Value.ShouldBe("/pools/images/base.raw");
        backing.Element("format")!.Attribute("type")!.Value.ShouldBe("raw");
    }

    [Fact]
    public void impossible_volumes_are_refused_naming_the_field()
    {
        Should.Throw<ArgumentException>(() => StorageVolumeXml.Build("../x", 1, "raw")).ParamName.ShouldBe("name");
        Should.Throw<ArgumentOutOfRangeException>(() => StorageVolumeXml.Build("x", 0, "raw")).ParamName.ShouldBe("capacityBytes");
        Should.Throw<ArgumentException>(() => StorageVolumeXml.Build("x", 1, "vmdk")).ParamName.ShouldBe("format");
        Should.Throw<ArgumentException>(() => StorageVolumeXml.Build("x", 1, "raw", "/p/base", "raw")).ParamName.ShouldBe("format");
        Should.Throw<ArgumentException>(() => StorageVolumeXml.Build("x", 1, "qcow2", "/p/base")).ParamName.ShouldBe("backingFormat");
        Should.Throw<ArgumentException>(() => StorageVolumeXml.Build("x", 1, "qcow2", "/p/base", "iso")).ParamName.ShouldBe("backingFormat");
        Should.Throw<ArgumentException>(() => StorageVolumeXml.Build("x", 1, "qcow2", null, "raw")).ParamName.ShouldBe("backingFormat");
        Should.Throw<ArgumentException>(() => StorageVolumeXml.Build("x", 1, "qcow2", "base.qcow2", "qcow2")).ParamName.ShouldBe("backingPath");
    }

    [Fact]
    public void a_ceph_secret_is_persistent_private_and_used_for_ceph()
    {
        XElement secret = XDocument.Parse(SecretXml.Ceph(SecretUuid, "client.libvirt secret")).Root!;

        secret.Name.LocalName.ShouldBe("secret");
        secret.Attribute("ephemeral")!.Value.ShouldBe("no");
        secret.Attribute("private")!.Value.ShouldBe("yes");
        secret.Element("uuid")!.Value.ShouldBe(SecretUuid.ToString());
        secret.Element("usage")!.Attribute("type")!.Value.ShouldBe("ceph");
        secret.Element("usage")!.Element("name")!.Value.ShouldBe("client.libvirt secret");
    }

    [Fact]
    public void a_ceph_secret_needs_a_uuid_and_a_usage_name()
    {
        Should.Throw<ArgumentException>(() => SecretXml.Ceph(Guid.Empty, "x")).ParamName.ShouldBe("uuid");
        Should.Throw<ArgumentException>(() => SecretXml.Ceph(SecretUuid, " ")).ParamName.ShouldBe("usageName");
        Should.Throw<ArgumentException>(() => SecretXml.Ceph(SecretUuid, "two\nlines")).ParamName.ShouldBe("usageName");
    }

    [Fact]
    public void a_snapshot_has_its_name_and_description_and_leaves_memory_out_only_when_disk_only()
    {
        XElement full = XDocument.Parse(SnapshotXml.Build("before-upgrade", "kernel 6.1 -> 6.6\n<&>", diskOnly: false)).Root!;
        XElement diskOnly = XDocument.Parse(SnapshotXml.Build("nightly", "", diskOnly: true)).Root!;

        full.Name.LocalName.ShouldBe("domainsnapshot");
        full.Element("name")!.Value.ShouldBe("before-upgrade");
        full.Element("description")!.Value.ShouldBe("kernel 6.1 -> 6.6\n<&>");
        full.Element("memory").ShouldBeNull();
        diskOnly.Element("description").ShouldBeNull();
        diskOnly.Element("memory")!.Attribute("snapshot")!.Value.ShouldBe("no");
    }

    [Fact]
    public void a_snapshot_leaves_out_the_disks_it_is_told_to_and_refuses_what_is_not_a_device_name()
    {
        XElement snapshot = XDocument.Parse(SnapshotXml.Build("s1", "", diskOnly: false, ["vdz", "sdb"])).Root!;

        snapshot.Element("disks")!.Elements("disk")
            .Select(d => (d.Attribute("name")!.Value, d.Attribute("snapshot")!.Value))
            .ShouldBe([("vdz", "no"), ("sdb", "no")]);
        XDocument.Parse(SnapshotXml.Build("s1", "", false, [])).Root!.Element("disks").ShouldBeNull();
        Should.Throw<ArgumentException>(() => SnapshotXml.Build("s1", "", false, ["/dev/vda"])).ParamName.ShouldBe("excludedDisks");
        Should.Throw<ArgumentException>(() => SnapshotXml.Build("s1", "", false, ["vdz", "vdz"])).ParamName.ShouldBe("excludedDisks");
    }

    [Fact]
    public void a_snapshot_name_must_be_a_plain_name()
    {
        Should.Throw<ArgumentException>(() => SnapshotXml.Build("a/b", "", false)).ParamName.ShouldBe("name");
        Should.Throw<ArgumentException>(() => SnapshotXml.Build("", "", false)).ParamName.ShouldBe("name");
        Should.Throw<ArgumentException>(() => SnapshotXml.Build("ok", "bell\u0007", false)).ParamName.ShouldBe("description");
    }
}
