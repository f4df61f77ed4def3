using System.Xml.Linq;

namespace Quantixkvm.Libvirt.Tests;

public sealed class DomainXmlTests
{
    private static readonly XNamespace Qkvm = DomainXml.MetadataNamespace;

    private static DomainSpec Spec(
        string title = "web-01",
        IReadOnlyDictionary<string, string>? metadata = null,
        string type = "kvm") =>
        new(Guid.Parse("6f1c3a52-8d0e-4b7a-9c3d-2e5f6a7b8c9d"), "web-01", title, 4, 2048, type, metadata);

    [Fact]
    public void the_built_xml_carries_every_field_of_the_spec()
    {
        XElement root = XDocument.Parse(DomainXml.Build(Spec())).Root!;

        root.Name.LocalName.ShouldBe("domain");
        root.Attribute("type")!.Value.ShouldBe("kvm");
        root.Element("name")!.Value.ShouldBe("web-01");
        root.Element("uuid")!.Value.ShouldBe("6f1c3a52-8d0e-4b7a-9c3d-2e5f6a7b8c9d");
        root.Element("title")!.Value.ShouldBe("web-01");
        root.Element("memory")!.Attribute("unit")!.Value.ShouldBe("MiB");
        root.Element("memory")!.Value.ShouldBe("2048");
        root.Element("vcpu")!.Value.ShouldBe("4");
        XElement type = root.Element("os")!.Element("type")!;
        type.Value.ShouldBe("hvm");
        type.Attribute("arch")!.Value.ShouldBe("x86_64");
        root.Element("features")!.Element("acpi").ShouldNotBeNull();
        root.Element("metadata")!.Element(Qkvm + "vm").ShouldNotBeNull();
    }

    [Fact]
    public void a_hostile_title_is_escaped_in_the_text_and_intact_when_parsed()
    {
        string xml = DomainXml.Build(Spec(title: "<evil & \"x\">"));

        xml.ShouldNotContain("<evil");
        xml.ShouldContain("&lt;evil &amp; \"x\"&gt;");
        XDocument.Parse(xml).Root!.Element("title")!.Value.ShouldBe("<evil & \"x\">");
    }

    [Fact]
    public void an_empty_title_leaves_the_title_element_out()
    {
        XDocument.Parse(DomainXml.Build(Spec(title: ""))).Root!.Element("title").ShouldBeNull();
    }

    [Fact]
    public void metadata_is_written_as_attributes_of_the_quantixkvm_element_and_read_back()
    {
        var metadata = new Dictionary<string, string> { ["tenant"] = "acme", ["evil"] = "a\"b<c>&d" };
        string xml = DomainXml.Build(Spec(metadata: metadata));

        XElement vm = XDocument.Parse(xml).Root!.Element("metadata")!.Element(Qkvm + "vm")!;
        vm.Attribute("tenant")!.Value.ShouldBe("acme");
        vm.GetPrefixOfNamespace(Qkvm).ShouldBe("qkvm");
        DomainXml.ReadMetadata(xml).ShouldBe(metadata, ignoreOrder: true);
    }

    [Fact]
    public void reading_metadata_of_a_domain_without_any_gives_an_empty_dictionary()
    {
        DomainXml.ReadMetadata("<domain type='test'><name>x</name></domain>").ShouldBeEmpty();
    }

    [Fact]
    public void reading_metadata_ignores_elements_of_other_namespaces()
    {
        const string xml = """
            <domain type='kvm'>
              <metadata>
                <other:vm xmlns:other="https://example.invalid/other" tenant="not-ours"/>
                <q:vm xmlns:q="https://quantixkvm.dev/xmlns/vm/1" tenant="ours"/>
              </metadata>
            </domain>
            """;

        DomainXml.ReadMetadata(xml).ShouldBe(new Dictionary<string, string> { ["tenant"] = "ours" });
    }

    [Theory]
    [InlineData("has space")]
    [InlineData("ns:key")]
    [InlineData("1starts-with-digit")]
    [InlineData("")]
    public void a_metadata_key_that_is_not_an_xml_name_is_refused(string key)
    {
        var metadata = new Dictionary<string, string> { [key] = "v" };

        Should.Throw<ArgumentException>(() => DomainXml.Build(Spec(metadata: metadata)));
    }

    [Fact]
    public void a_multi_line_title_is_refused()
    {
        Should.Throw<ArgumentException>(() => DomainXml.Build(Spec(title: "two\nlines")));
    }

    [Fact]
    public void a_control_character_that_xml_cannot_carry_is_refused()
    {
        Should.Throw<ArgumentException>(() => DomainXml.Build(Spec(title: "bell\u0007")));
    }

    [Fact]
    public void nonsensical_sizes_and_an_empty_uuid_or_name_are_refused()
    {
        Should.Throw<ArgumentOutOfRangeException>(() => DomainXml.Build(Spec() with { Vcpus = 0 }));
        Should.Throw<ArgumentOutOfRangeException>(() => DomainXml.Build(Spec() with { MemoryMiB = -1 }));
        Should.Throw<ArgumentException>(() => DomainXml.Build(Spec() with { Uuid = Guid.Empty }));
        Should.Throw<ArgumentException>(() => DomainXml.Build(Spec() with { Name = " " }));
        Should.Throw<ArgumentException>(() => DomainXml.Build(Spec() with { DomainType = "" }));
    }

    [Theory]
    [InlineData("test:///default", true, "test")]
    [InlineData("test:///default", false, "test")]
    [InlineData("test+unix:///default", true, "test")]
    [InlineData("test+tcp://host.example/default", true, "test")]
    [InlineData("TEST:///default", true, "test")]
    [InlineData("qemu:///system", true, "kvm")]
    [InlineData("qemu:///system", false, "qemu")]
    [InlineData("qemu+ssh://root@node1/system", true, "kvm")]
    [InlineData("testing:///default", false, "qemu")]
    public void the_domain_type_follows_the_uri_and_the_availability_of_kvm(string uri, bool kvm, string expected)
    {
        DomainXml.DomainTypeFor(uri, kvm).ShouldBe(expected);
    }

    [Fact]
    public void the_domain_type_for_a_qemu_uri_reflects_whether_this_machine_can_open_dev_kvm()
    {
        bool canOpen;
        try
        {
            using FileStream kvm = new("/dev/kvm", FileMode.Open, FileAccess.ReadWrite);
            canOpen = true;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            canOpen = false;
        }

        DomainXml.DomainTypeFor("qemu:///system").ShouldBe(canOpen ? "kvm" : "qemu");
        DomainXml.DomainTypeFor(TestDriver.Uri).ShouldBe("test");
    }

    [Theory]
    [InlineData("<domain type='qemu'/><domain type='kvm'/>", "kvm")]
    [InlineData("<domain type='qemu'/>", "qemu")]
    public void the_domain_type_from_capabilities_is_kvm_when_the_driver_offers_it_else_qemu(string domains, string expected)
    {
        string capabilities = $"<capabilities><host/><guest><os_type>hvm</os_type><arch name='x86_64'>{domains}</arch></guest>"
            + "<guest><os_type>hvm</os_type><arch name='aarch64'><domain type='kvm'/></arch></guest></capabilities>";

        DomainXml.DomainTypeFromCapabilities(capabilities).ShouldBe(expected);
    }

    [Fact]
    public void the_test_drivers_capabilities_give_the_test_domain_type()
    {
        using LibvirtConnection connection = LibvirtConnection.Open(TestDriver.Uri);

        DomainXml.DomainTypeFromCapabilities(connection.GetCapabilities()).ShouldBe("test");
    }

    [Fact]
    public void capabilities_without_an_x86_guest_offer_no_domain_type()
    {
        Should.Throw<ArgumentException>(() => DomainXml.DomainTypeFromCapabilities("<capabilities><host/></capabilities>"));
    }

    [Fact]
    public void an_empty_uri_has_no_domain_type()
    {
        Should.Throw<ArgumentException>(() => DomainXml.DomainTypeFor(" "));
    }
}
