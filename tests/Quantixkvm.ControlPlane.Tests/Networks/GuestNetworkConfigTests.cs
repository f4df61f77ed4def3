using Quantixkvm.ControlPlane.Networks;
using Quantixkvm.ControlPlane.ReadModels;
using Quantixkvm.Domain.Networks;
using Quantixkvm.Domain.Vms;

namespace Quantixkvm.ControlPlane.Tests.Networks;

/// <summary>The NoCloud network-config a guest gets from its NICs: DHCP where OVN serves it, static addresses elsewhere.</summary>
public sealed class GuestNetworkConfigTests
{
    private static readonly Subnet V4 = new(Guid.NewGuid(), "10.0.0.0/24", "10.0.0.1", ["10.0.0.53"], [new("10.0.0.2", "10.0.0.254")], [], true);
    private static readonly Subnet V6 = new(Guid.NewGuid(), "fd00::/64", "fd00::1", [], [new("fd00::2", "fd00::ffff")], [], true);
    private static readonly Subnet Lan = new(Guid.NewGuid(), "192.168.10.0/24", "192.168.10.1", ["192.168.10.53"], [], [], true);

    private static readonly NetworkView Overlay = new() { Id = Guid.NewGuid(), Kind = NetworkKind.Overlay, Mtu = 1442, Subnets = [V4, V6] };
    private static readonly NetworkView Bridge = new() { Id = Guid.NewGuid(), Kind = NetworkKind.Bridge, BridgeName = "br-lan", Mtu = 1500, Subnets = [Lan] };

    [Fact]
    public void an_overlay_ipv4_address_comes_from_ovn_dhcp_while_ipv6_and_bridge_addresses_are_written_with_the_first_nics_gateway()
    {
        var nics = new[]
        {
            new VmNic(Guid.NewGuid(), Bridge.Id, "02:00:00:00:00:01", NicModel.Virtio, ["192.168.10.7"]),
            new VmNic(Guid.NewGuid(), Overlay.Id, "02:00:00:00:00:02", NicModel.Virtio, ["10.0.0.5", "fd00::5"]),
        };

        var config = GuestNetworkConfig.For(nics, new Dictionary<Guid, NetworkView> { [Bridge.Id] = Bridge, [Overlay.Id] = Overlay });

        config.ShouldBe("""
            version: 2
            ethernets:
              nic0:
                match:
                  macaddress: "02:00:00:00:00:01"
                mtu: 1500
                addresses:
                  - "192.168.10.7/24"
                routes:
                  - to: 0.0.0.0/0
                    via: "192.168.10.1"
                nameservers:
                  addresses: ["192.168.10.53"]
              nic1:
                match:
                  macaddress: "02:00:00:00:00:02"
                mtu: 1442
                dhcp4: true
                addresses:
                  - "fd00::5/64"
                nameservers:
                  addresses: ["10.0.0.53"]

            """.Replace("\r\n", "\n"));
    }

    [Fact]
    public void a_vm_without_nics_gets_no_network_config()
    {
        GuestNetworkConfig.For([], new Dictionary<Guid, NetworkView>()).ShouldBeNull();
    }
}
