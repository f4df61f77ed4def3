using System.Xml.Linq;

namespace Quantixkvm.Libvirt.Tests;

public sealed class NicXmlTests
{
    private static readonly Guid PortId = Guid.Parse("6f1c2a1e-1111-4222-8333-444455556666");

    private static XElement Interface(NicSpec nic) => XElement.Parse(DomainXml.Interface(nic));

    private static DomainSpec Spec(IReadOnlyList<NicSpec>? nics) =>
        new(Guid.Parse("6f1c3a52-8d0e-4b7a-9c3d-2e5f6a7b8c9d"), "web-01", "web-01", 2, 1024, "qemu", Nics: nics);

    [Fact]
    public void a_linux_bridge_nic_names_its_bridge_mac_model_and_link_and_nothing_of_open_vswitch()
    {
        XElement nic = Interface(new NicSpec("02:AA:BB:CC:DD:01", "br-vlan100", Model: "e1000"));

        nic.Attribute("type")!.Value.ShouldBe("bridge");
        nic.Element("mac")!.Attribute("address")!.Value.ShouldBe("02:aa:bb:cc:dd:01", "written in libvirt's lower case");
        nic.Element("source")!.Attribute("bridge")!.Value.ShouldBe("br-vlan100");
        nic.Element("model")!.Attribute("type")!.Value.ShouldBe("e1000");
        nic.Element("link")!.Attribute("state")!.Value.ShouldBe("up");
        nic.Element("virtualport").ShouldBeNull();
        nic.Element("vlan").ShouldBeNull();
        nic.Element("mtu").ShouldBeNull();
        nic.Element("target").ShouldBeNull();
    }

    [Fact]
    public void an_open_vswitch_nic_carries_the_virtual_port_with_its_interface_id_the_vlan_tag_mtu_and_tap_name()
    {
        XElement nic = Interface(new NicSpec(
            "02:aa:bb:cc:dd:02", "br-int", NicBridgeType.OpenVSwitch, VlanTag: 100, OvsInterfaceId: PortId,
            Mtu: 1442, LinkUp: false, TargetDev: "qk-6f1c2a1e"));

        nic.Element("source")!.Attribute("bridge")!.Value.ShouldBe("br-int");
        nic.Element("virtualport")!.Attribute("type")!.Value.ShouldBe("openvswitch");
        nic.Element("virtualport")!.Element("parameters")!.Attribute("interfaceid")!.Value.ShouldBe("6f1c2a1e-1111-4222-8333-444455556666");
        nic.Element("vlan")!.Elements("tag").Single().Attribute("id")!.Value.ShouldBe("100");
        nic.Element("mtu")!.Attribute("size")!.Value.ShouldBe("1442");
        nic.Element("link")!.Attribute("state")!.Value.ShouldBe("down");
        nic.Element("target")!.Attribute("dev")!.Value.ShouldBe("qk-6f1c2a1e");
        nic.Element("model")!.Attribute("type")!.Value.ShouldBe("virtio");
    }

    [Fact]
    public void an_open_vswitch_nic_without_an_interface_id_leaves_it_to_libvirt()
    {
        XElement nic = Interface(new NicSpec("02:aa:bb:cc:dd:03", "br-ovs", NicBridgeType.OpenVSwitch));

        nic.Element("virtualport")!.Attribute("type")!.Value.ShouldBe("openvswitch");
        nic.Element("virtualport")!.Element("parameters").ShouldBeNull();
    }

    [Fact]
    public void a_nic_on_an_existing_tap_is_an_ethernet_interface_libvirt_does_not_manage_and_names_no_bridge()
    {
        XElement nic = Interface(NicSpec.ExistingTap("02:AA:BB:CC:DD:04", "qkt6f1c2a1e1111", "e1000", mtu: 1442, linkUp: false));

        nic.Attribute("type")!.Value.ShouldBe("ethernet");
        nic.Element("mac")!.Attribute("address")!.Value.ShouldBe("02:aa:bb:cc:dd:04");
        nic.Element("target")!.Attribute("dev")!.Value.ShouldBe("qkt6f1c2a1e1111");
        nic.Element("target")!.Attribute("managed")!.Value.ShouldBe("no", "the TAP is someone else's: libvirt must neither make nor delete it");
        nic.Element("model")!.Attribute("type")!.Value.ShouldBe("e1000");
        nic.Element("mtu")!.Attribute("size")!.Value.ShouldBe("1442");
        nic.Element("link")!.Attribute("state")!.Value.ShouldBe("down");
        nic.Element("source").ShouldBeNull();
        nic.Element("virtualport").ShouldBeNull();
        DomainXml.ReadInterfaces($"<domain><devices>{nic}</devices></domain>").ShouldBe(
            [new DomainInterface("02:aa:bb:cc:dd:04", "ethernet", null, null, null, null, "e1000", false, "qkt6f1c2a1e1111", 1442)]);
    }

    [Fact]
    public void a_domain_holds_its_nics_after_its_disks_and_reads_them_back_as_built()
    {
        var nics = new[]
        {
            new NicSpec("02:aa:bb:cc:dd:01", "br0"),
            new NicSpec("02:aa:bb:cc:dd:02", "br-int", NicBridgeType.OpenVSwitch, "rtl8139", 42, PortId, 1400, false, "qktap0"),
        };
        string xml = DomainXml.Build(Spec(nics) with { Disks = [new DiskSpec("vda", SourceFile: "/images/root.raw")] });

        XElement devices = XDocument.Parse(xml).Root!.Element("devices")!;
        devices.Elements().Select(e => e.Name.LocalName).Take(3).ShouldBe(["disk", "interface", "interface"]);
        DomainXml.ReadInterfaces(xml).ShouldBe(
        [
            new DomainInterface("02:aa:bb:cc:dd:01", "bridge", "br0", null, null, null, "virtio", true, null, null),
            new DomainInterface("02:aa:bb:cc:dd:02", "bridge", "br-int", "openvswitch", PortId, 42, "rtl8139", false, "qktap0", 1400),
        ]);
    }

    [Fact]
    public void a_domain_without_nics_has_no_interface_elements()
    {
        string xml = DomainXml.Build(Spec(null));

        XDocument.Parse(xml).Root!.Element("devices")!.Elements("interface").ShouldBeEmpty();
        DomainXml.ReadInterfaces(xml).ShouldBeEmpty();
    }

    [Fact]
    public void reading_takes_what_libvirt_writes_for_other_interface_types_and_a_trunk()
    {
        const string xml = """
            <domain type='qemu'><devices>
              <interface type='network'>
                <mac address='52:54:00:0A:0B:0C'/>
                <source network='default' bridge='virbr0'/>
                <target dev='vnet3'/>
              </interface>
              <interface type='bridge'>
                <mac address='02:00:00:00:00:09'/>
                <source bridge='br-trunk'/>
                <vlan trunk='yes'><tag id='10'/><tag id='20'/></vlan>
                <virtualport type='openvswitch'><parameters interfaceid='not-a-uuid'/></virtualport>
                <link state='up'/>
              </interface>
              <interface type='user'/>
            </devices></domain>
            """;

        DomainXml.ReadInterfaces(xml).ShouldBe(
        [
            new DomainInterface("52:54:00:0a:0b:0c", "network", "virbr0", null, null, null, null, true, "vnet3", null),
            new DomainInterface("02:00:00:00:00:09", "bridge", "br-trunk", "openvswitch", null, null, null, true, null, null),
        ]);
    }

    [Theory]
    [InlineData("02:aa:bb:cc:dd", "nic.Mac")]
    [InlineData("03:aa:bb:cc:dd:ee", "nic.Mac")]
    [InlineData("", "nic.Mac")]
    public void a_bad_mac_is_refused_naming_the_field(string mac, string field)
    {
        var error = Should.Throw<ArgumentException>(() => DomainXml.Interface(new NicSpec(mac, "br0")));

        error.ParamName.ShouldBe(field);
    }

    [Theory]
    [InlineData("", "nic.Bridge")]
    [InlineData("br0; reboot", "nic.Bridge")]
    [InlineData("a-bridge-name-too-long", "nic.Bridge")]
    [InlineData("-br0", "nic.Bridge")]
    public void a_bridge_that_is_not_an_interface_name_is_refused(string bridge, string field)
    {
        var error = Should.Throw<ArgumentException>(() => DomainXml.Interface(new NicSpec("02:00:00:00:00:01", bridge)));

        error.ParamName.ShouldBe(field);
        error.Message.ShouldContain("nic.Bridge");
    }

    public static TheoryData<NicSpec, string, string> ImpossibleNics => new()
    {
        { new NicSpec("02:00:00:00:00:01", "br0", Model: "ne2k_pci"), "nic.Model", "not one of" },
        { new NicSpec("02:00:00:00:00:01", "br0", (NicBridgeType)7), "nic.BridgeType", "not a bridge type" },
        { new NicSpec("02:00:00:00:00:01", "br0", VlanTag: 100), "nic.VlanTag", "Open vSwitch" },
        { new NicSpec("02:00:00:00:00:01", "br0", OvsInterfaceId: PortId), "nic.OvsInterfaceId", "Open vSwitch" },
        { new NicSpec("02:00:00:00:00:01", "br-int", NicBridgeType.OpenVSwitch, VlanTag: 4095), "nic.VlanTag", "1 to 4094" },
        { new NicSpec("02:00:00:00:00:01", "br-int", NicBridgeType.OpenVSwitch, VlanTag: 0), "nic.VlanTag", "1 to 4094" },
        { new NicSpec("02:00:00:00:00:01", "br-int", NicBridgeType.OpenVSwitch, OvsInterfaceId: Guid.Empty), "nic.OvsInterfaceId", "empty UUID" },
        { new NicSpec("02:00:00:00:00:01", "br0", Mtu: 576), "nic.Mtu", "1280 to 9216" },
        { new NicSpec("02:00:00:00:00:01", "br0", Mtu: 65536), "nic.Mtu", "1280 to 9216" },
        { new NicSpec("02:00:00:00:00:01", "br0", TargetDev: "tap-with-a-long-name"), "nic.TargetDev", "at most 15" },
        { new NicSpec("02:00:00:00:00:01", "br0", TargetDev: "tap 0"), "nic.TargetDev", "only letters" },
        { new NicSpec("02:00:00:00:00:01", "br0", TargetDev: "vnet7"), "nic.TargetDev", "libvirt keeps" },
        { new NicSpec("02:00:00:00:00:01", "br0", TargetDev: "macvtap1"), "nic.TargetDev", "libvirt keeps" },
        { NicSpec.ExistingTap("02:00:00:00:00:01", "vnet3"), "nic.TargetDev", "libvirt keeps" },
        { NicSpec.ExistingTap("02:00:00:00:00:01", "tap;reboot"), "nic.TargetDev", "only letters" },
        { NicSpec.ExistingTap("02:00:00:00:00:01", "qktap0") with { Bridge = "br0" }, "nic.Bridge", "must be empty" },
        { NicSpec.ExistingTap("02:00:00:00:00:01", "qktap0") with { TargetDev = null }, "nic.TargetDev", "required" },
        { NicSpec.ExistingTap("02:00:00:00:00:01", "qktap0") with { VlanTag = 10 }, "nic.VlanTag", "Open vSwitch" },
        { NicSpec.ExistingTap("02:00:00:00:00:01", "qktap0") with { OvsInterfaceId = PortId }, "nic.OvsInterfaceId", "Open vSwitch" },
    };

    [Theory]
    [MemberData(nameof(ImpossibleNics))]
    public void an_impossible_nic_is_refused_naming_the_field_and_the_rule(NicSpec nic, string field, string rule)
    {
        var error = Should.Throw<ArgumentException>(() => DomainXml.Interface(nic));

        error.ParamName.ShouldBe(field);
        error.Message.ShouldContain(rule);
    }

    [Fact]
    public void a_domain_refuses_two_nics_with_one_mac_however_written_or_one_tap_name()
    {
        var sameMac = Should.Throw<ArgumentException>(() => DomainXml.Build(Spec(
            [new NicSpec("02:00:00:00:00:01", "br0"), new NicSpec("02-00-00-00-00-01", "br1")])));
        var sameTap = Should.Throw<ArgumentException>(() => DomainXml.Build(Spec(
            [new NicSpec("02:00:00:00:00:01", "br0", TargetDev: "qktap"), new NicSpec("02:00:00:00:00:02", "br0", TargetDev: "qktap")])));
        var badSecond = Should.Throw<ArgumentException>(() => DomainXml.Build(Spec(
            [new NicSpec("02:00:00:00:00:01", "br0"), new NicSpec("02:00:00:00:00:02", "br0", Model: "pcnet")])));

        sameMac.Message.ShouldContain("two NICs");
        sameTap.Message.ShouldContain("two NICs");
        badSecond.ParamName.ShouldBe("spec.Nics[1].Model");
    }
}
