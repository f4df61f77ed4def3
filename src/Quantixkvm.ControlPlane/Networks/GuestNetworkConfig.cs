using System.Globalization;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using Quantixkvm.ControlPlane.ReadModels;
using Quantixkvm.Domain.Networks;
using Quantixkvm.Domain.Vms;

namespace Quantixkvm.ControlPlane.Networks;

/// <summary>
/// The NoCloud network-config (version 2) that tells a guest its NICs' addresses, for a VM created with cloud-init and
/// no network-config of its own. Each NIC is matched by its MAC. An IPv4 subnet with DHCP on an overlay network is left to
/// OVN's DHCP (dhcp4); every other address is written statically (bridge and OVS networks have no DHCP server of ours),
/// with the first NIC's gateways as the default routes and the subnets' DNS servers.
/// </summary>
public static class GuestNetworkConfig
{
    public static string? For(IReadOnlyList<VmNic> nics, IReadOnlyDictionary<Guid, NetworkView> networks)
    {
        if (nics.Count == 0)
        {
            return null;
        }

        var yaml = new StringBuilder("version: 2\nethernets:\n");
        for (var index = 0; index < nics.Count; index++)
        {
            var nic = nics[index];
            if (!networks.TryGetValue(nic.NetworkId, out var network))
            {
                continue;
            }

            var subnets = nic.Addresses
                .Select(address => (Address: address, Subnet: network.Subnets.FirstOrDefault(s => Cidr.Parse(s.Cidr).Cidr?.Contains(System.Net.IPAddress.Parse(address)) == true)))
                .Where(a => a.Subnet is not null)
                .ToList();
            var dhcp4 = network.Kind == NetworkKind.Overlay && subnets.Any(a => a.Subnet!.DhcpEnabled && IsIpv4(a.Address));
            var statics = subnets.Where(a => !(dhcp4 && IsIpv4(a.Address))).ToList();
            yaml.Append(CultureInfo.InvariantCulture, $"  nic{index}:\n    match:\n      macaddress: {Quote(nic.Mac)}\n");
            yaml.Append(CultureInfo.InvariantCulture, $"    mtu: {network.Mtu}\n");
            if (dhcp4)
            {
                yaml.Append("    dhcp4: true\n");
            }

            if (statics.Count > 0)
            {
                yaml.Append("    addresses:\n");
                foreach (var (address, subnet) in statics)
                {
                    yaml.Append("      - ").Append(Quote($"{address}/{Cidr.Parse(subnet!.Cidr).Cidr!.PrefixLength}")).Append('\n');
                }

                // One default route per family, from the first NIC: several would compete.
                var gateways = index == 0 ? statics.Select(a => a.Subnet!.Gateway).ToList() : [];
                if (gateways.Count > 0)
                {
                    yaml.Append("    routes:\n");
                    foreach (var gateway in gateways)
                    {
                        yaml.Append("      - to: ").Append(IsIpv4(gateway) ? "0.0.0.0/0" : "::/0").Append("\n        via: ").Append(Quote(gateway)).Append('\n');
                    }
                }
            }

            var dns = subnets.SelectMany(a => a.Subnet!.DnsServers).Distinct().ToList();
            if (dns.Count > 0 && statics.Count > 0)
            {
                yaml.Append("    nameservers:\n      addresses: [").Append(string.Join(", ", dns.Select(Quote))).Append("]\n");
            }
        }

        return yaml.ToString();
    }

    private static bool IsIpv4(string address) => System.Net.IPAddress.Parse(address).AddressFamily == AddressFamily.InterNetwork;

    /// <summary>JSON strings are YAML strings: whatever an address holds, it cannot break the document.</summary>
    private static string Quote(string value) => JsonSerializer.Serialize(value);
}
