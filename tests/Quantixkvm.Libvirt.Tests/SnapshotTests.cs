using System.Xml.Linq;

namespace Quantixkvm.Libvirt.Tests;

/// <summary>
/// Domain snapshots against libvirt's test driver. The shared running domain <c>test</c> is only
/// snapshotted and reverted to a running state (other classes rely on it running); state changes
/// are tried on domains of this class's own.
/// </summary>
public sealed class SnapshotTests : IDisposable
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
    public void a_snapshot_of_the_test_domain_is_created_found_listed_reverted_to_and_deleted()
    {
        using LibvirtDomain test = connection.FindDomainByName("test").ShouldNotBeNull();
        string name = UniqueName();

        using (LibvirtDomainSnapshot created = test.CreateSnapshot(SnapshotXml.Build(name, "before <change> & more", diskOnly: false)))
        {
            created.Name.ShouldBe(name);
            created.DomainUuid.ShouldBe(test.Uuid);
            XElement xml = XDocument.Parse(created.GetXml()).Root!;
            xml.Element("name")!.Value.ShouldBe(name);
            xml.Element("description")!.Value.ShouldBe("before <change> & more");
            xml.Element("state")!.Value.ShouldBe("running");
        }

        using LibvirtDomainSnapshot found = test.FindSnapshot(name).ShouldNotBeNull();
        IReadOnlyList<LibvirtDomainSnapshot> all = test.ListSnapshots();
        all.Select(s => s.Name).ShouldContain(name);
        foreach (LibvirtDomainSnapshot snapshot in all)
        {
            snapshot.Dispose();
        }

        test.RevertToSnapshot(found);
        test.GetState().State.ShouldBe(DomainState.Running);

        found.Delete();
        test.FindSnapshot(name).ShouldBeNull();
    }

    [Fact]
    public void reverting_brings_back_the_state_of_the_snapshot_or_the_one_the_flags_ask_for()
    {
        using LibvirtDomain domain = DefineRunning();
        using LibvirtDomainSnapshot snapshot = domain.CreateSnapshot(SnapshotXml.Build("running", "", false));
        domain.Destroy();
        domain.GetState().State.ShouldBe(DomainState.Shutoff);

        domain.RevertToSnapshot(snapshot);
        domain.GetState().State.ShouldBe(DomainState.Running);

        domain.RevertToSnapshot(snapshot, SnapshotRevertFlags.Paused);
        domain.GetState().State.ShouldBe(DomainState.Paused);
    }

    [Fact]
    public void a_second_snapshot_has_the_first_as_parent_and_the_first_has_none()
    {
        using LibvirtDomain domain = DefineRunning();
        using LibvirtDomainSnapshot first = domain.CreateSnapshot(SnapshotXml.Build("first", "", false));
        using LibvirtDomainSnapshot second = domain.CreateSnapshot(SnapshotXml.Build("second", "", false));

        first.GetParentName().ShouldBeNull();
        second.GetParentName().ShouldBe("first");
        domain.ListSnapshots().Select(s => s.Name).Order().ShouldBe(["first", "second"]);

        first.Delete();
        second.GetParentName().ShouldBeNull();
        domain.FindSnapshot("first").ShouldBeNull();
    }

    [Fact]
    public void the_test_driver_refuses_disk_only_snapshots_with_libvirts_error()
    {
        using LibvirtDomain domain = DefineRunning();

        var error = Should.Throw<LibvirtException>(
            () => domain.CreateSnapshot(SnapshotXml.Build("disks", "", diskOnly: true), SnapshotCreateFlags.DiskOnly));

        error.ErrorCode.ShouldBe(LibvirtErrorCode.InvalidArg);
        error.Operation.ShouldBe("virDomainSnapshotCreateXML");
        error.Message.ShouldContain("0x10");
    }

    [Fact]
    public void a_snapshot_cannot_be_reverted_onto_another_domain()
    {
        using LibvirtDomain one = DefineRunning();
        using LibvirtDomain other = DefineRunning();
        using LibvirtDomainSnapshot snapshot = one.CreateSnapshot(SnapshotXml.Build("mine", "", false));

        Should.Throw<ArgumentException>(() => other.RevertToSnapshot(snapshot)).ParamName.ShouldBe("snapshot");
    }

    [Fact]
    public void looking_up_a_snapshot_that_does_not_exist_gives_null()
    {
        using LibvirtDomain domain = DefineRunning();

        domain.FindSnapshot("absent").ShouldBeNull();
        domain.ListSnapshots().ShouldBeEmpty();
    }

    [Fact]
    public void the_flags_have_the_numbers_of_libvirt_domain_snapshot_h()
    {
        ((uint)SnapshotCreateFlags.DiskOnly).ShouldBe(16u);
        ((uint)SnapshotCreateFlags.Atomic).ShouldBe(128u);
        ((uint)SnapshotCreateFlags.Live).ShouldBe(256u);
        ((uint)SnapshotRevertFlags.Running).ShouldBe(1u);
        ((uint)SnapshotRevertFlags.Paused).ShouldBe(2u);
        ((uint)SnapshotRevertFlags.Force).ShouldBe(4u);
    }

    private LibvirtDomain DefineRunning()
    {
        DomainSpec spec = TestDriver.NewSpec();
        defined.Add(spec.Uuid);
        LibvirtDomain domain = connection.DefineDomain(DomainXml.Build(spec));
        domain.Start();
        return domain;
    }

    private static string UniqueName() => $"qkvm-snap-{Guid.NewGuid():N}"[..22];
}
