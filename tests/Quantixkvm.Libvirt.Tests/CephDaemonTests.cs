using System.Globalization;
using Quantixkvm.Testing;

namespace Quantixkvm.Libvirt.Tests;

/// <summary>The private Ceph cluster of infra/dev/ceph.sh (started if it does not run, and left running).</summary>
public sealed class CephClusterFixture : IAsyncLifetime
{
    public CephCluster Cluster { get; private set; } = null!;

    public async Task InitializeAsync() => Cluster = await CephCluster.StartAsync();

    public Task DisposeAsync() => Task.CompletedTask;
}

/// <summary>
/// The binding against a real Ceph cluster through a private session libvirtd: an rbd pool with a ceph secret, an RBD
/// clone, deleting a clone's source with its snapshots, and a QEMU domain started from an RBD network disk. The Ceph pool
/// is shared with other tests: images are named uniquely and removed.
/// </summary>
public sealed class CephDaemonTests : IClassFixture<SessionDaemonFixture>, IClassFixture<CephClusterFixture>, IDisposable
{
    private const long MiB = 1024 * 1024;

    private readonly SessionDaemonFixture daemon;
    private readonly CephCluster ceph;
    private readonly List<string> images = [];
    private string? poolName;
    private Guid? domainUuid;
    private Guid? secretUuid;

    public CephDaemonTests(SessionDaemonFixture daemon, CephClusterFixture ceph)
    {
        this.daemon = daemon;
        this.ceph = ceph.Cluster;
    }

    private LibvirtConnection Connection => daemon.Connection;

    public void Dispose()
    {
        if (domainUuid is Guid uuid)
        {
            TestDriver.Remove(Connection, uuid);
        }

        ceph.TryRemove([.. Enumerable.Reverse(images)]);
        try
        {
            using LibvirtStoragePool? pool = poolName is null ? null : Connection.FindStoragePool(poolName);
            if (pool?.IsActive == true)
            {
                pool.Destroy();
            }

            pool?.Undefine();
            using LibvirtSecret? secret = secretUuid is Guid s ? Connection.FindSecret(s) : null;
            secret?.Undefine();
        }
        catch (LibvirtException)
        {
            // Best effort.
        }
    }

    [Fact]
    public void an_rbd_clone_keeps_its_source_until_deleted_with_its_snapshots_and_a_qemu_domain_starts_from_an_rbd_network_disk()
    {
        (string host, int port) = Monitor();
        Guid secret = Guid.NewGuid();
        secretUuid = secret;
        using (LibvirtSecret defined = Connection.DefineSecret(SecretXml.Ceph(secret, $"client.{ceph.User} {secret:N}")))
        {
            defined.SetValue(Convert.FromBase64String(ceph.Key));
        }

        poolName = $"qkvm-ceph-{Guid.NewGuid():N}"[..22];
        using LibvirtStoragePool pool = Connection.DefineStoragePool(
            StoragePoolXml.Rbd(poolName, Guid.NewGuid(), ceph.Pool, [(host, port)], ceph.User, secret));
        pool.Start();
        string baseName = Image("base");
        string cloneName = Image("clone");
        using LibvirtStorageVolume source = pool.CreateVolume(StorageVolumeXml.Build(baseName, 4 * MiB, "raw"));
        using LibvirtStorageVolume clone = pool.CreateVolumeFrom(StorageVolumeXml.Build(cloneName, 4 * MiB, "raw"), source);

        clone.Path.ShouldBe($"{ceph.Pool}/{cloneName}");
        ceph.Parent(cloneName).ShouldNotBeNull().ShouldStartWith($"{ceph.Pool}/{baseName}@libvirt-");

        // A QEMU domain (no OS: it sits in the firmware) opens the clone through QEMU's rbd driver.
        DomainSpec spec = TestDriver.NewSpec() with
        {
            DomainType = "qemu",
            Disks = [new DiskSpec("vda", SourceRbd: new RbdDiskSource(ceph.Pool, cloneName, [(host, port)], ceph.User, secret), Serial: "rbd-root")],
        };
        domainUuid = spec.Uuid;
        using (LibvirtDomain domain = Connection.DefineDomain(DomainXml.Build(spec)))
        {
            domain.Start();
            domain.GetState().State.ShouldBe(DomainState.Running);
            domain.Destroy();
        }

        // The source holds the protected snapshot its clone depends on.
        Should.Throw<LibvirtException>(() => source.Delete(StorageVolumeDeleteFlags.WithSnapshots)).Operation.ShouldBe("virStorageVolDelete");
        clone.Delete();
        Should.Throw<LibvirtException>(() => source.Delete()).Operation.ShouldBe("virStorageVolDelete");
        source.Delete(StorageVolumeDeleteFlags.WithSnapshots);

        ceph.Images().ShouldNotContain(baseName);
        ceph.Images().ShouldNotContain(cloneName);
    }

    private (string Host, int Port) Monitor()
    {
        int colon = ceph.Monitor.LastIndexOf(':');
        return (ceph.Monitor[..colon], int.Parse(ceph.Monitor[(colon + 1)..], CultureInfo.InvariantCulture));
    }

    private string Image(string suffix)
    {
        string name = CephCluster.UniqueImage(suffix);
        images.Add(name);
        return name;
    }
}
