using System.Xml.Linq;

namespace Quantixkvm.Libvirt.Tests;

public sealed class LibvirtDomainTests : IDisposable
{
    // libvirt's state reasons used below (libvirt-domain.h).
    private const int RunningBooted = 1;        // VIR_DOMAIN_RUNNING_BOOTED
    private const int RunningUnpaused = 5;      // VIR_DOMAIN_RUNNING_UNPAUSED
    private const int PausedUser = 1;           // VIR_DOMAIN_PAUSED_USER
    private const int ShutoffShutdown = 1;      // VIR_DOMAIN_SHUTOFF_SHUTDOWN
    private const int ShutoffDestroyed = 2;     // VIR_DOMAIN_SHUTOFF_DESTROYED

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
    public void a_defined_domain_has_the_uuid_and_name_of_its_spec_and_is_shut_off()
    {
        DomainSpec spec = TestDriver.NewSpec();

        using LibvirtDomain domain = Define(spec);

        domain.Uuid.ShouldBe(spec.Uuid);
        domain.Name.ShouldBe(spec.Name);
        domain.GetState().State.ShouldBe(DomainState.Shutoff);
    }

    [Fact]
    public void a_hostile_title_is_stored_escaped_and_read_back_intact()
    {
        const string title = "<evil & \"x\">";
        using LibvirtDomain domain = Define(TestDriver.NewSpec(title));

        string xml = domain.GetXml();

        xml.ShouldNotContain("<evil");
        xml.ShouldContain("&lt;evil &amp;");
        XDocument.Parse(xml).Root!.Element("title")!.Value.ShouldBe(title);
    }

    [Fact]
    public void the_domain_xml_libvirt_keeps_has_the_memory_vcpus_and_type_of_the_spec()
    {
        DomainSpec spec = TestDriver.NewSpec() with { Vcpus = 2, MemoryMiB = 256 };
        using LibvirtDomain domain = Define(spec);

        XElement root = XDocument.Parse(domain.GetXml()).Root!;

        root.Attribute("type")!.Value.ShouldBe("test");
        root.Element("uuid")!.Value.ShouldBe(spec.Uuid.ToString());
        root.Element("vcpu")!.Value.ShouldBe("2");
        // libvirt normalises memory to KiB.
        root.Element("memory")!.Attribute("unit")!.Value.ShouldBe("KiB");
        root.Element("memory")!.Value.ShouldBe((256 * 1024).ToString(System.Globalization.CultureInfo.InvariantCulture));
    }

    [Fact]
    public void metadata_survives_the_round_trip_through_libvirt()
    {
        var metadata = new Dictionary<string, string>
        {
            ["tenant"] = "acme",
            ["vmId"] = "0b5a1c7e-1111-2222-3333-444455556666",
            ["note"] = "<tags> & \"quotes\" 'too'",
            ["lines"] = "first\nsecond\tthird",
        };
        using LibvirtDomain domain = Define(TestDriver.NewSpec(metadata: metadata));

        IReadOnlyDictionary<string, string> read = DomainXml.ReadMetadata(domain.GetXml());

        read.ShouldBe(metadata, ignoreOrder: true);
    }

    [Fact]
    public void a_metadata_element_set_on_the_running_domain_is_read_back_there_replaced_and_removed_and_never_reaches_the_definition()
    {
        const string uri = "https://example.test/xmlns/mark/1";
        using LibvirtDomain domain = Define(TestDriver.NewSpec(metadata: new Dictionary<string, string> { ["vm-id"] = "kept" }));
        domain.Start();
        domain.GetMetadataElement(uri).ShouldBeNull();

        domain.SetMetadataElement(uri, "mark", "<mark id=\"first\"/>", live: true, config: false);
        domain.SetMetadataElement(uri, "mark", "<mark id=\"second\"/>", live: true, config: false);

        XElement live = XElement.Parse(domain.GetMetadataElement(uri).ShouldNotBeNull());
        live.Name.LocalName.ShouldBe("mark");
        live.Attribute("id")!.Value.ShouldBe("second");
        domain.GetMetadataElement(uri, inactive: true).ShouldBeNull();
        DomainXml.ReadMetadata(domain.GetXml()).ShouldContainKeyAndValue("vm-id", "kept", "the element of another namespace stays");

        domain.SetMetadataElement(uri, "mark", null, live: true, config: false);
        domain.GetMetadataElement(uri).ShouldBeNull();
    }

    [Fact]
    public void a_domain_goes_through_its_whole_lifecycle_with_the_state_libvirt_reports_at_each_step()
    {
        using LibvirtDomain domain = Define(TestDriver.NewSpec());
        domain.GetState().ShouldBe(new DomainStateInfo(DomainState.Shutoff, 0));

        domain.Start();
        domain.GetState().ShouldBe(new DomainStateInfo(DomainState.Running, RunningBooted));

        domain.Suspend();
        domain.GetState().ShouldBe(new DomainStateInfo(DomainState.Paused, PausedUser));

        domain.Resume();
        domain.GetState().ShouldBe(new DomainStateInfo(DomainState.Running, RunningUnpaused));

        domain.Reboot();
        domain.GetState().State.ShouldBe(DomainState.Running);

        // The test driver's guest obeys ACPI at once: the graceful shutdown has completed on return.
        domain.Shutdown();
        domain.GetState().ShouldBe(new DomainStateInfo(DomainState.Shutoff, ShutoffShutdown));

        domain.Start();
        domain.GetState().State.ShouldBe(DomainState.Running);

        domain.Destroy();
        domain.GetState().ShouldBe(new DomainStateInfo(DomainState.Shutoff, ShutoffDestroyed));

        // The test driver refuses VIR_DOMAIN_UNDEFINE_NVRAM, so this also exercises the fallback.
        domain.Undefine();
        connection.FindDomain(domain.Uuid).ShouldBeNull();
        Should.Throw<DomainNotFoundException>(() => domain.GetState()).Operation.ShouldBe("virDomainGetState");
    }

    [Fact]
    public void starting_a_running_domain_raises_libvirts_own_error()
    {
        DomainSpec spec = TestDriver.NewSpec();
        using LibvirtDomain domain = Define(spec);
        domain.Start();

        var error = Should.Throw<LibvirtException>(domain.Start);

        // libvirt 9.0's test driver reports this as VIR_ERR_INTERNAL_ERROR, not OPERATION_INVALID.
        error.Message.ShouldBe($"internal error: Domain '{spec.Name}' is already running");
        error.ErrorCode.ShouldBe(LibvirtErrorCode.InternalError);
        error.ErrorDomain.ShouldBe(TestDriver.ErrorDomainTest);
        error.Operation.ShouldBe("virDomainCreate");
        domain.GetState().State.ShouldBe(DomainState.Running);
    }

    [Fact]
    public void destroying_a_shut_off_domain_is_an_invalid_operation()
    {
        using LibvirtDomain domain = Define(TestDriver.NewSpec());

        var error = Should.Throw<LibvirtException>(domain.Destroy);

        error.ErrorCode.ShouldBe(LibvirtErrorCode.OperationInvalid);
        error.Code.ShouldBe(55);
        error.ErrorDomain.ShouldBe(TestDriver.ErrorDomainDomain);
        error.Message.ShouldBe("Requested operation is not valid: domain is not running");
        error.Operation.ShouldBe("virDomainDestroy");
    }

    [Fact]
    public void resuming_a_domain_that_is_not_paused_fails_and_leaves_it_running()
    {
        DomainSpec spec = TestDriver.NewSpec();
        using LibvirtDomain domain = Define(spec);
        domain.Start();

        var error = Should.Throw<LibvirtException>(domain.Resume);

        error.Operation.ShouldBe("virDomainResume");
        error.Message.ShouldBe($"internal error: domain '{spec.Name}' not paused");
        domain.GetState().State.ShouldBe(DomainState.Running);
    }

    [Fact]
    public void operating_on_an_undefined_domain_raises_domain_not_found()
    {
        DomainSpec spec = TestDriver.NewSpec();
        using LibvirtDomain domain = Define(spec);
        domain.Undefine();

        var error = Should.Throw<DomainNotFoundException>(domain.Start);

        error.ErrorCode.ShouldBe(LibvirtErrorCode.NoDomain);
        error.Operation.ShouldBe("virDomainCreate");
        error.Message.ShouldContain(spec.Uuid.ToString());
    }

    [Fact]
    public void undefining_a_running_domain_leaves_it_running_until_it_is_powered_off()
    {
        using LibvirtDomain domain = Define(TestDriver.NewSpec());
        domain.Start();

        domain.Undefine();
        domain.GetState().State.ShouldBe(DomainState.Running);

        domain.Destroy();
        connection.FindDomain(domain.Uuid).ShouldBeNull();
    }

    [Fact]
    public void redefining_a_domain_with_the_same_uuid_updates_its_definition()
    {
        DomainSpec spec = TestDriver.NewSpec("before");
        Define(spec).Dispose();

        using LibvirtDomain redefined = connection.DefineDomain(DomainXml.Build(spec with { Title = "after" }));

        redefined.Uuid.ShouldBe(spec.Uuid);
        XDocument.Parse(redefined.GetXml()).Root!.Element("title")!.Value.ShouldBe("after");
    }

    [Fact]
    public void a_domain_keeps_working_after_its_connection_is_disposed()
    {
        // Each domain holds a libvirt reference on its connection.
        LibvirtConnection own = LibvirtConnection.Open(TestDriver.Uri);
        DomainSpec spec = TestDriver.NewSpec();
        defined.Add(spec.Uuid);
        using LibvirtDomain domain = own.DefineDomain(DomainXml.Build(spec));
        own.Dispose();

        domain.Start();

        domain.GetState().State.ShouldBe(DomainState.Running);
    }

    [Fact]
    public void a_disposed_domain_refuses_further_calls_but_keeps_its_identity()
    {
        DomainSpec spec = TestDriver.NewSpec();
        LibvirtDomain domain = Define(spec);
        domain.Dispose();
        domain.Dispose();

        Should.Throw<ObjectDisposedException>(() => domain.GetState());
        domain.Uuid.ShouldBe(spec.Uuid);
        domain.Name.ShouldBe(spec.Name);
        using LibvirtDomain? stillThere = connection.FindDomain(spec.Uuid);
        stillThere.ShouldNotBeNull();
    }

    private LibvirtDomain Define(DomainSpec spec)
    {
        defined.Add(spec.Uuid);
        return connection.DefineDomain(DomainXml.Build(spec));
    }
}
