using System.Diagnostics;
using Quantixkvm.Testing;

namespace Quantixkvm.Libvirt.Tests;

/// <summary>A private libvirtd whose QEMU driver does the device attach/detach/update the test driver lacks, and the test guest image.</summary>
public sealed class NicDaemonFixture : IAsyncLifetime
{
    public LibvirtDaemon Daemon { get; private set; } = null!;

    public LibvirtConnection Connection { get; private set; } = null!;

    public string GuestImagePath { get; private set; } = "";

    public async Task InitializeAsync()
    {
        var image = GuestImage.BuildAsync();
        Daemon = await LibvirtDaemon.StartAsync();
        Connection = LibvirtConnection.Open(Daemon.QemuSessionUri);
        GuestImagePath = await image;
    }

    public async Task DisposeAsync()
    {
        Connection?.Dispose();
        if (Daemon is not null)
        {
            await Daemon.DisposeAsync();
        }
    }
}

/// <summary>
/// NIC attach, detach and link changes through libvirt's QEMU driver: on the definition of a stopped domain, and hot-plugged
/// into a running (TCG) guest on a Linux bridge the test makes. The daemon is unprivileged, so its QEMU reaches the bridge
/// through QEMU's bridge helper, which infra/dev/install.sh makes setuid and allows the test bridges (qkvmtestbr0-9).
/// </summary>
public sealed class NicHotPlugTests(NicDaemonFixture fixture) : IClassFixture<NicDaemonFixture>, IDisposable
{
    private static readonly TimeSpan Boot = TimeSpan.FromSeconds(120);

    private readonly List<Guid> domains = [];

    private LibvirtConnection Connection => fixture.Connection;

    public void Dispose()
    {
        foreach (Guid uuid in domains)
        {
            TestDriver.Remove(Connection, uuid);
        }
    }

    [Fact]
    public void nics_are_attached_to_detached_from_and_link_changed_in_the_definition_of_a_stopped_domain()
    {
        using LibvirtDomain domain = DefineDomain(TestDriver.NewSpec() with
        {
            DomainType = "qemu",
            Nics = [new NicSpec("02:00:00:00:03:01", "qkvmbr-none")],
        });
        var ovs = new NicSpec(
            "02:00:00:00:03:02", "br-int", NicBridgeType.OpenVSwitch, "e1000", VlanTag: 12,
            OvsInterfaceId: Guid.Parse("3b0d7c1e-5f2a-4e8b-9c6d-1a2b3c4d5e6f"), Mtu: 1442, TargetDev: "qk-test-3");

        domain.AttachInterface(ovs, live: false, config: true);

        domain.ListInterfaces().ShouldBe(
        [
            new DomainInterface("02:00:00:00:03:01", "bridge", "qkvmbr-none", null, null, null, "virtio", true, null, null),
            new DomainInterface("02:00:00:00:03:02", "bridge", "br-int", "openvswitch", ovs.OvsInterfaceId, 12, "e1000", true, "qk-test-3", 1442),
        ]);

        domain.SetInterfaceLink("02:00:00:00:03:02", up: false, live: false, config: true);

        domain.ListInterfaces().ShouldBe(
        [
            new DomainInterface("02:00:00:00:03:01", "bridge", "qkvmbr-none", null, null, null, "virtio", true, null, null),
            new DomainInterface("02:00:00:00:03:02", "bridge", "br-int", "openvswitch", ovs.OvsInterfaceId, 12, "e1000", false, "qk-test-3", 1442),
        ]);

        // Any spelling of the MAC finds the NIC.
        domain.DetachInterface("02-00-00-00-03-01", live: false, config: true);

        domain.ListInterfaces().Select(n => n.Mac).ShouldBe(["02:00:00:00:03:02"]);
    }

    [Fact]
    public void libvirt_says_what_is_wrong_with_a_nic_it_cannot_attach_detach_or_update()
    {
        using LibvirtDomain domain = DefineDomain(TestDriver.NewSpec() with
        {
            DomainType = "qemu",
            Nics = [new NicSpec("02:00:00:00:04:01", "qkvmbr-none")],
        });

        // libvirt itself would add a second NIC with the same MAC to a definition.
        var twice = Should.Throw<InvalidOperationException>(() =>
            domain.AttachInterface(new NicSpec("02:00:00:00:04:01", "qkvmbr-other"), live: false, config: true));
        var missing = Should.Throw<LibvirtException>(() => domain.DetachInterface("02:00:00:00:04:99", live: false, config: true));
        var missingLink = Should.Throw<LibvirtException>(() => domain.SetInterfaceLink("02:00:00:00:04:99", up: false, live: false, config: true));
        var notRunning = Should.Throw<LibvirtException>(() =>
            domain.AttachInterface(new NicSpec("02:00:00:00:04:02", "qkvmbr-none"), live: true, config: false));

        twice.Message.ShouldContain("already has a NIC with MAC 02:00:00:00:04:01");
        missing.Operation.ShouldBe("virDomainDetachDeviceFlags");
        missing.Message.ShouldContain("02:00:00:00:04:99");
        missingLink.Operation.ShouldBe("virDomainUpdateDeviceFlags");
        missingLink.Message.ShouldContain("02:00:00:00:04:99");
        notRunning.ErrorCode.ShouldBe(LibvirtErrorCode.OperationInvalid);
        notRunning.Message.ShouldContain("not running");
        domain.ListInterfaces().Select(n => n.Mac).ShouldBe(["02:00:00:00:04:01"]);
    }

    [Fact(Timeout = 300_000)]
    public async Task a_nic_hot_plugged_into_a_running_guest_gets_a_tap_on_the_bridge_its_link_goes_down_and_it_is_detached_again()
    {
        await using var bridge = await LinuxBridge.CreateAsync();
        var boot = new NicSpec("02:00:00:00:05:01", bridge.Name, Model: "e1000");
        using LibvirtDomain domain = await BootGuestAsync(boot);
        string bootTap = domain.ListInterfaces().ShouldHaveSingleItem().TargetDev.ShouldNotBeNull("libvirt names the TAP it plugged in");
        (await bridge.PortsAsync()).ShouldBe([bootTap], "the NIC of the definition is on the bridge from the start");
        var nic = new NicSpec("02:00:00:00:05:02", bridge.Name, Model: "virtio");

        domain.AttachInterface(nic, live: true, config: true);

        DomainInterface live = domain.ListInterfaces().Where(n => n.Mac == nic.Mac).ShouldHaveSingleItem();
        live.SourceBridge.ShouldBe(bridge.Name);
        live.Model.ShouldBe("virtio");
        live.LinkUp.ShouldBeTrue();
        live.TargetDev.ShouldNotBeNullOrEmpty();
        (await bridge.PortsAsync()).Order().ShouldBe(new[] { bootTap, live.TargetDev! }.Order());
        domain.ListInterfaces(inactive: true).Select(n => n.Mac).ShouldBe([boot.Mac, nic.Mac], "also in the definition");
        Should.Throw<InvalidOperationException>(() => domain.AttachInterface(nic, live: true, config: true));

        domain.SetInterfaceLink(nic.Mac, up: false, live: true, config: true);

        domain.ListInterfaces().Select(n => n.LinkUp).ShouldBe([true, false]);
        domain.ListInterfaces(inactive: true).Select(n => n.LinkUp).ShouldBe([true, false]);

        domain.DetachInterface(nic.Mac, live: true, config: true);

        // The guest releases the device on its own time (ACPI unplug): QEMU then removes the NIC and libvirt its TAP.
        await WaitUntilAsync(() => domain.ListInterfaces().Count == 1, "the guest to release the NIC");
        domain.ListInterfaces().Select(n => n.Mac).ShouldBe([boot.Mac]);
        domain.ListInterfaces(inactive: true).Select(n => n.Mac).ShouldBe([boot.Mac]);
        await WaitUntilAsync(async () => (await bridge.PortsAsync()).Count == 1, "the TAP to leave the bridge");
        (await bridge.PortsAsync()).ShouldBe([bootTap]);
    }

    [Fact(Timeout = 300_000)]
    public async Task a_guest_uses_taps_made_for_it_at_boot_and_hot_plugged_and_libvirt_leaves_them_in_place_when_the_nic_goes()
    {
        await using var bootTap = await ExistingTap.CreateAsync(mtu: 1400);
        await using var hotTap = await ExistingTap.CreateAsync(mtu: 1400);
        (LibvirtDomain domain, string console) = await BootGuestWithConsoleAsync(NicSpec.ExistingTap("02:00:00:00:06:01", bootTap.Name, mtu: 1400));
        using var _ = domain;
        (await bootTap.StateAsync()).ShouldBe((true, true), "the guest's QEMU holds the TAP it was given");
        (await hotTap.StateAsync()).ShouldBe((true, false));
        var nic = NicSpec.ExistingTap("02:00:00:00:06:02", hotTap.Name, "virtio", mtu: 1400);

        domain.AttachInterface(nic, live: true, config: true);

        domain.ListInterfaces().Where(n => n.Mac == nic.Mac).ShouldHaveSingleItem()
            .ShouldBe(new DomainInterface(nic.Mac, "ethernet", null, null, null, null, "virtio", true, hotTap.Name, 1400));
        domain.ListInterfaces(inactive: true).Select(n => n.Mac).ShouldBe(["02:00:00:00:06:01", nic.Mac], "also in the definition");
        await WaitUntilAsync(async () => (await hotTap.StateAsync()).Carrier, "QEMU to open the hot-plugged TAP");
        // The guest sees the NIC (no DHCP server answers here).
        await GuestImage.WaitForSerialLineAsync(
            console, line => line.StartsWith("QKVM-NET eth1 02:00:00:00:06:02 ", StringComparison.Ordinal), Boot, CancellationToken.None);

        domain.DetachInterface(nic.Mac, live: true, config: true);

        await WaitUntilAsync(() => domain.ListInterfaces().Count == 1, "the guest to release the NIC");
        await GuestImage.WaitForSerialLineAsync(console, line => line == "QKVM-NET-GONE eth1", Boot, CancellationToken.None);
        await WaitUntilAsync(async () => !(await hotTap.StateAsync()).Carrier, "QEMU to close the TAP");
        (await hotTap.StateAsync()).ShouldBe((true, false), "managed='no': the TAP is not libvirt's to delete");
        (await bootTap.StateAsync()).ShouldBe((true, true));
    }

    private LibvirtDomain DefineDomain(DomainSpec spec)
    {
        domains.Add(spec.Uuid);
        return Connection.DefineDomain(DomainXml.Build(spec));
    }

    /// <summary>Defines and starts a guest with the NIC from an overlay of the test image and waits until its init runs.</summary>
    private async Task<LibvirtDomain> BootGuestAsync(NicSpec nic) => (await BootGuestWithConsoleAsync(nic)).Domain;

    /// <summary>As <see cref="BootGuestAsync"/>, with the guest's serial log.</summary>
    private async Task<(LibvirtDomain Domain, string Console)> BootGuestWithConsoleAsync(NicSpec nic)
    {
        var uuid = Guid.NewGuid();
        var disk = await fixture.Daemon.CreateOverlayAsync(fixture.GuestImagePath, $"guest-{uuid:N}.qcow2");
        var console = Path.Combine(await fixture.Daemon.CreateFolderAsync("consoles"), $"{uuid:N}.log");
        LibvirtDomain domain = DefineDomain(new DomainSpec(
            uuid, $"qkvm-{uuid:N}", "nic hot-plug", 1, 128, "qemu",
            Disks: [new DiskSpec("vda", DriverFormat: "qcow2", SourceFile: disk, BootOrder: 1, Serial: "root")],
            SerialLogPath: console,
            Nics: [nic]));
        domain.Start();
        await GuestImage.WaitForSerialLineAsync(
            console, line => line.Contains("QKVM-GUEST-READY", StringComparison.Ordinal), Boot, CancellationToken.None);
        return (domain, console);
    }

    private static Task WaitUntilAsync(Func<bool> condition, string what) =>
        WaitUntilAsync(() => Task.FromResult(condition()), what);

    private static async Task WaitUntilAsync(Func<Task<bool>> condition, string what)
    {
        var waited = Stopwatch.StartNew();
        while (!await condition())
        {
            if (waited.Elapsed > TimeSpan.FromSeconds(60))
            {
                throw new TimeoutException($"gave up waiting for {what}");
            }

            await Task.Delay(200);
        }
    }
}
