namespace Quantixkvm.Libvirt.Tests;

/// <summary>NICs in domains against libvirt's test driver (9.0), which keeps them as defined but has no device hot-plug at all.</summary>
public sealed class NicDomainTests : IDisposable
{
    private static readonly Guid PortId = Guid.Parse("0d8f5a4c-2b7e-4c1a-9f3e-5a6b7c8d9e0f");

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
    public void a_domain_defined_with_nics_holds_them_as_given_on_linux_and_open_vswitch_bridges()
    {
        DomainSpec spec = TestDriver.NewSpec() with
        {
            Nics =
            [
                new NicSpec("02:00:00:00:01:01", "br-vlan100", Model: "e1000"),
                new NicSpec("02:00:00:00:01:02", "br-int", NicBridgeType.OpenVSwitch, OvsInterfaceId: PortId, Mtu: 1442, LinkUp: false),
                new NicSpec("02:00:00:00:01:03", "br-ovs", NicBridgeType.OpenVSwitch, VlanTag: 300, TargetDev: "qk-vm1-2"),
            ],
        };
        defined.Add(spec.Uuid);
        using LibvirtDomain domain = connection.DefineDomain(DomainXml.Build(spec));

        IReadOnlyList<DomainInterface> nics = domain.ListInterfaces();

        // Compared without what libvirt fills in: interface ids and TAP names.
        nics.Select(n => n with { OvsInterfaceId = null, TargetDev = null }).ShouldBe(
        [
            new DomainInterface("02:00:00:00:01:01", "bridge", "br-vlan100", null, null, null, "e1000", true, null, null),
            new DomainInterface("02:00:00:00:01:02", "bridge", "br-int", "openvswitch", null, null, "virtio", false, null, 1442),
            new DomainInterface("02:00:00:00:01:03", "bridge", "br-ovs", "openvswitch", null, 300, "virtio", true, null, null),
        ]);
        nics.Select(n => n.TargetDev).ShouldBe(["testnet0", "testnet1", "qk-vm1-2"], "the test driver names the TAPs not given a name");
        nics[0].OvsInterfaceId.ShouldBeNull();
        nics[1].OvsInterfaceId.ShouldBe(PortId);
        nics[2].OvsInterfaceId.ShouldNotBeNull("libvirt makes up an interface id for an OVS port given none");
        domain.ListInterfaces(inactive: true).ShouldBe(nics);
    }

    [Fact]
    public void the_test_driver_cannot_attach_detach_or_update_a_nic_and_says_so()
    {
        using LibvirtDomain test = connection.FindDomainByName("test").ShouldNotBeNull();
        var nic = new NicSpec("02:00:00:00:02:01", "br0");

        var attach = Should.Throw<LibvirtException>(() => test.AttachInterface(nic, live: false, config: true));
        var detach = Should.Throw<LibvirtException>(() => test.DetachInterface(nic.Mac, live: true, config: false));
        var link = Should.Throw<LibvirtException>(() => test.SetInterfaceLink(nic.Mac, up: false, live: true, config: false));

        attach.ErrorCode.ShouldBe(LibvirtErrorCode.NoSupport);
        attach.Operation.ShouldBe("virDomainAttachDeviceFlags");
        detach.ErrorCode.ShouldBe(LibvirtErrorCode.NoSupport);
        detach.Operation.ShouldBe("virDomainDetachDeviceFlags");
        link.ErrorCode.ShouldBe(LibvirtErrorCode.NoSupport);
        link.Operation.ShouldBe("virDomainUpdateDeviceFlags");
        test.ListInterfaces().Select(n => n.Mac).ShouldNotContain(nic.Mac);
    }

    [Fact]
    public void a_bad_mac_is_refused_before_libvirt_is_asked()
    {
        using LibvirtDomain test = connection.FindDomainByName("test").ShouldNotBeNull();

        Should.Throw<ArgumentException>(() => test.DetachInterface("not-a-mac", live: true, config: false)).ParamName.ShouldBe("mac");
        Should.Throw<ArgumentException>(() => test.SetInterfaceLink("01:00:5e:00:00:01", up: true, live: true, config: false))
            .ParamName.ShouldBe("mac");
    }
}
