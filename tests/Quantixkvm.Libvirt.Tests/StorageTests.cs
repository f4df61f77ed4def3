using System.Xml.Linq;

namespace Quantixkvm.Libvirt.Tests;

/// <summary>
/// Storage pools and volumes against libvirt's test driver, whose host has a running dir pool
/// <c>default-pool</c> at <c>/default-pool</c>. The driver keeps volumes in memory and touches no files.
/// </summary>
public sealed class StorageTests : IDisposable
{
    private const string DefaultPool = "default-pool";
    private const long MiB = 1024 * 1024;

    private readonly LibvirtConnection connection = LibvirtConnection.Open(TestDriver.Uri);
    private readonly List<string> poolsToRemove = [];
    private readonly List<string> volumesToRemove = [];

    public void Dispose()
    {
        using (LibvirtStoragePool? pool = connection.FindStoragePool(DefaultPool))
        {
            foreach (string name in volumesToRemove)
            {
                using LibvirtStorageVolume? volume = pool?.FindVolume(name);
                volume?.Delete();
            }
        }

        foreach (string name in poolsToRemove)
        {
            using LibvirtStoragePool? pool = connection.FindStoragePool(name);
            if (pool is null)
            {
                continue;
            }

            if (pool.IsActive)
            {
                pool.Destroy();
            }

            pool.Undefine();
        }

        connection.Dispose();
    }

    [Fact]
    public void a_dir_pool_is_defined_inactive_then_built_started_refreshed_stopped_and_undefined()
    {
        string name = UniqueName("pool");
        Guid uuid = Guid.NewGuid();
        poolsToRemove.Add(name);

        using LibvirtStoragePool pool = connection.DefineStoragePool(StoragePoolXml.Dir(name, uuid, "/qkvm-pools/" + name));

        pool.Name.ShouldBe(name);
        pool.Uuid.ShouldBe(uuid);
        pool.IsActive.ShouldBeFalse();
        pool.GetInfo().State.ShouldBe(StoragePoolState.Inactive);

        pool.Build();
        pool.Start();
        pool.SetAutostart(true);
        pool.Refresh();

        pool.IsActive.ShouldBeTrue();
        StoragePoolInfo info = pool.GetInfo();
        info.State.ShouldBe(StoragePoolState.Running);
        info.CapacityBytes.ShouldBeGreaterThan(0);
        info.AvailableBytes.ShouldBeLessThanOrEqualTo(info.CapacityBytes);
        XElement xml = XDocument.Parse(pool.GetXml()).Root!;
        xml.Attribute("type")!.Value.ShouldBe("dir");
        xml.Element("target")!.Element("path")!.Value.ShouldBe("/qkvm-pools/" + name);
        pool.ListVolumes().ShouldBeEmpty();

        pool.Destroy();
        pool.IsActive.ShouldBeFalse();
        pool.Undefine();

        connection.FindStoragePool(name).ShouldBeNull();
    }

    [Fact]
    public void a_defined_pool_is_found_by_name_and_listed()
    {
        string name = UniqueName("pool");
        poolsToRemove.Add(name);
        using LibvirtStoragePool defined = connection.DefineStoragePool(StoragePoolXml.Dir(name, Guid.NewGuid(), "/qkvm-pools/" + name));

        using LibvirtStoragePool found = connection.FindStoragePool(name).ShouldNotBeNull();
        found.Uuid.ShouldBe(defined.Uuid);

        IReadOnlyList<LibvirtStoragePool> pools = connection.ListStoragePools();
        try
        {
            pools.Select(p => p.Name).ShouldContain(name);
            pools.Select(p => p.Name).ShouldContain(DefaultPool);
        }
        finally
        {
            foreach (LibvirtStoragePool pool in pools)
            {
                pool.Dispose();
            }
        }
    }

    [Fact]
    public void looking_up_a_pool_that_does_not_exist_gives_null()
    {
        connection.FindStoragePool(UniqueName("absent")).ShouldBeNull();
    }

    [Fact]
    public void starting_a_pool_that_is_already_running_raises_libvirts_own_error()
    {
        using LibvirtStoragePool pool = connection.FindStoragePool(DefaultPool).ShouldNotBeNull();

        var error = Should.Throw<LibvirtException>(pool.Start);

        error.ErrorCode.ShouldBe(LibvirtErrorCode.OperationInvalid);
        error.Operation.ShouldBe("virStoragePoolCreate");
        error.Message.ShouldContain("storage pool 'default-pool' is active");
    }

    [Fact]
    public void an_rbd_pool_definition_keeps_its_monitors_ceph_pool_and_secret()
    {
        string name = UniqueName("rbd");
        Guid secret = Guid.NewGuid();
        poolsToRemove.Add(name);

        using LibvirtStoragePool pool = connection.DefineStoragePool(
            StoragePoolXml.Rbd(name, Guid.NewGuid(), "vms", [("127.0.0.1", 6789)], "libvirt", secret));

        XElement source = XDocument.Parse(pool.GetXml()).Root!.Element("source")!;
        source.Element("name")!.Value.ShouldBe("vms");
        source.Element("host")!.Attribute("name")!.Value.ShouldBe("127.0.0.1");
        source.Element("host")!.Attribute("port")!.Value.ShouldBe("6789");
        source.Element("auth")!.Attribute("username")!.Value.ShouldBe("libvirt");
        source.Element("auth")!.Element("secret")!.Attribute("uuid")!.Value.ShouldBe(secret.ToString());
    }

    [Theory]
    [InlineData("raw")]
    [InlineData("qcow2")]
    public void a_volume_is_created_in_the_pool_with_its_format_and_capacity(string format)
    {
        using LibvirtStoragePool pool = connection.FindStoragePool(DefaultPool).ShouldNotBeNull();
        string name = UniqueName("vol") + "." + format;
        volumesToRemove.Add(name);

        using LibvirtStorageVolume volume = pool.CreateVolume(StorageVolumeXml.Build(name, 64 * MiB, format));

        volume.Name.ShouldBe(name);
        volume.Path.ShouldBe("/default-pool/" + name);
        volume.Key.ShouldBe(volume.Path);
        StorageVolumeInfo info = volume.GetInfo();
        info.Type.ShouldBe(StorageVolumeType.File);
        info.CapacityBytes.ShouldBe(64 * MiB);
        XDocument.Parse(volume.GetXml()).Root!.Element("target")!.Element("format")!.Attribute("type")!.Value.ShouldBe(format);

        using LibvirtStorageVolume found = pool.FindVolume(name).ShouldNotBeNull();
        found.Key.ShouldBe(volume.Key);
        IReadOnlyList<LibvirtStorageVolume> volumes = pool.ListVolumes();
        volumes.Select(v => v.Name).ShouldContain(name);
        foreach (LibvirtStorageVolume listed in volumes)
        {
            listed.Dispose();
        }
    }

    [Fact]
    public void creating_a_volume_whose_name_is_taken_raises_libvirts_error()
    {
        using LibvirtStoragePool pool = connection.FindStoragePool(DefaultPool).ShouldNotBeNull();
        string name = UniqueName("vol");
        volumesToRemove.Add(name);
        using LibvirtStorageVolume first = pool.CreateVolume(StorageVolumeXml.Build(name, MiB, "raw"));

        var error = Should.Throw<LibvirtException>(() => pool.CreateVolume(StorageVolumeXml.Build(name, MiB, "raw")));

        // The test driver reports a generic failure; the real storage driver says VIR_ERR_STORAGE_VOL_EXIST.
        error.ErrorCode.ShouldBe(LibvirtErrorCode.OperationFailed);
        error.Operation.ShouldBe("virStorageVolCreateXML");
        error.Message.ShouldContain("already exists");
    }

    [Fact]
    public void looking_up_a_volume_that_does_not_exist_gives_null()
    {
        using LibvirtStoragePool pool = connection.FindStoragePool(DefaultPool).ShouldNotBeNull();

        pool.FindVolume(UniqueName("absent")).ShouldBeNull();
    }

    [Fact]
    public void a_volume_cloned_with_create_volume_from_is_a_separate_volume_of_the_same_capacity()
    {
        using LibvirtStoragePool pool = connection.FindStoragePool(DefaultPool).ShouldNotBeNull();
        string sourceName = UniqueName("src");
        string cloneName = UniqueName("clone");
        volumesToRemove.Add(sourceName);
        volumesToRemove.Add(cloneName);
        using LibvirtStorageVolume source = pool.CreateVolume(StorageVolumeXml.Build(sourceName, 8 * MiB, "raw"));

        using LibvirtStorageVolume clone = pool.CreateVolumeFrom(StorageVolumeXml.Build(cloneName, 8 * MiB, "raw"), source);

        clone.Name.ShouldBe(cloneName);
        clone.Path.ShouldNotBe(source.Path);
        clone.GetInfo().CapacityBytes.ShouldBe(8 * MiB);
        source.Delete();
        pool.FindVolume(cloneName).ShouldNotBeNull().Dispose();
    }

    [Fact]
    public void a_deleted_volume_is_gone_and_its_object_then_reports_libvirts_not_found_error()
    {
        using LibvirtStoragePool pool = connection.FindStoragePool(DefaultPool).ShouldNotBeNull();
        string name = UniqueName("vol");
        using LibvirtStorageVolume volume = pool.CreateVolume(StorageVolumeXml.Build(name, MiB, "qcow2"));

        volume.Delete();

        pool.FindVolume(name).ShouldBeNull();
        var error = Should.Throw<LibvirtException>(() => volume.GetInfo());
        error.ErrorCode.ShouldBe(LibvirtErrorCode.NoStorageVol);
        error.Operation.ShouldBe("virStorageVolGetInfo");
    }

    [Fact]
    public void the_test_driver_cannot_resize_a_volume_and_says_so()
    {
        using LibvirtStoragePool pool = connection.FindStoragePool(DefaultPool).ShouldNotBeNull();
        string name = UniqueName("vol");
        volumesToRemove.Add(name);
        using LibvirtStorageVolume volume = pool.CreateVolume(StorageVolumeXml.Build(name, MiB, "raw"));

        var error = Should.Throw<LibvirtException>(() => volume.Resize(2 * MiB));

        error.ErrorCode.ShouldBe(LibvirtErrorCode.NoSupport);
        error.Operation.ShouldBe("virStorageVolResize");
        Should.Throw<ArgumentOutOfRangeException>(() => volume.Resize(0));
    }

    [Fact]
    public void the_test_driver_has_no_secrets_and_says_so()
    {
        var error = Should.Throw<LibvirtException>(
            () => connection.DefineSecret(SecretXml.Ceph(Guid.NewGuid(), "client.libvirt secret")));

        error.ErrorCode.ShouldBe(LibvirtErrorCode.NoSupport);
        error.Operation.ShouldBe("virSecretDefineXML");
        Should.Throw<LibvirtException>(() => connection.FindSecret(Guid.NewGuid())).ErrorCode.ShouldBe(LibvirtErrorCode.NoSupport);
    }

    [Fact]
    public void a_disposed_pool_refuses_further_calls()
    {
        LibvirtStoragePool pool = connection.FindStoragePool(DefaultPool).ShouldNotBeNull();
        pool.Dispose();

        Should.Throw<ObjectDisposedException>(() => pool.GetInfo());
        Should.Throw<ObjectDisposedException>(() => pool.FindVolume("x"));
        pool.Dispose();
    }

    private static string UniqueName(string prefix) => $"qkvm-{prefix}-{Guid.NewGuid():N}"[..(prefix.Length + 17)];
}
