using System.Net;
using Quantixkvm.Domain.Networks;

namespace Quantixkvm.Domain.Tests.Networks;

/// <summary>CIDR subnets (IPv4 and IPv6) and NIC MAC addresses: parsing with messages that name the problem, arithmetic.</summary>
public sealed class SubnetsAndAddresses
{
    [Theory]
    [InlineData("10.0.0.0/24", "10.0.0.0/24", 256)]
    [InlineData("192.168.1.128/25", "192.168.1.128/25", 128)]
    [InlineData("0.0.0.0/0", "0.0.0.0/0", 4294967296)]
    [InlineData("10.1.2.3/32", "10.1.2.3/32", 1)]
    public void an_ipv4_subnet_parses_with_its_size(string text, string canonical, long size)
    {
        var (cidr, error) = Cidr.Parse(text);

        error.ShouldBeNull();
        cidr!.ToString().ShouldBe(canonical);
        cidr.Size.ShouldBe(size);
    }

    [Fact]
    public void an_ipv6_subnet_parses_and_counts_its_addresses()
    {
        var (cidr, error) = Cidr.Parse("fd00:1::/64");

        error.ShouldBeNull();
        cidr!.Width.ShouldBe(128);
        cidr.Size.ShouldBe(System.Numerics.BigInteger.Pow(2, 64));
        cidr.At(1).ShouldBe(IPAddress.Parse("fd00:1::1"));
    }

    [Theory]
    [InlineData("10.0.0.7/24", "host bits set: the subnet is 10.0.0.0/24")]
    [InlineData("fd00::1/64", "host bits set: the subnet is fd00::/64")]
    [InlineData("10.0.0.0/33", "invalid prefix length: it must be 0 to 32")]
    [InlineData("fd00::/129", "invalid prefix length: it must be 0 to 128")]
    [InlineData("10.0.0.0/-1", "invalid prefix length")]
    [InlineData("10.0.0.0/ 8", "invalid prefix length")]
    [InlineData("10.0.0.0", "not in CIDR notation")]
    [InlineData("10.0.0.256/24", "not in CIDR notation")]
    [InlineData("fe80::1%eth0/64", "not in CIDR notation")]
    [InlineData("", "must be given in CIDR notation")]
    [InlineData(null, "must be given in CIDR notation")]
    public void a_malformed_subnet_is_refused_naming_the_problem(string? text, string message)
    {
        var (cidr, error) = Cidr.Parse(text);

        cidr.ShouldBeNull();
        error!.ShouldContain(message);
    }

    [Theory]
    [InlineData("10.0.0.0/24", "10.0.0.128/25", true)]
    [InlineData("10.0.0.0/24", "10.0.1.0/24", false)]
    [InlineData("10.0.0.0/8", "10.200.0.0/16", true)]
    [InlineData("10.0.0.0/24", "fd00::/64", false)]
    [InlineData("fd00::/48", "fd00:0:0:1::/64", true)]
    public void overlapping_subnets_are_recognised_both_ways(string a, string b, bool overlap)
    {
        var first = Cidr.Parse(a).Cidr!;
        var second = Cidr.Parse(b).Cidr!;

        first.Overlaps(second).ShouldBe(overlap);
        second.Overlaps(first).ShouldBe(overlap);
    }

    [Theory]
    [InlineData("10.0.0.0/24", "10.0.0.0", true)]
    [InlineData("10.0.0.0/24", "10.0.0.255", true)]
    [InlineData("10.0.0.0/24", "10.0.1.0", false)]
    [InlineData("10.0.0.0/24", "::ffff:10.0.0.1", false)]
    public void containment_is_by_family_and_range(string subnet, string address, bool contained) =>
        Cidr.Parse(subnet).Cidr!.Contains(IPAddress.Parse(address)).ShouldBe(contained);

    [Fact]
    public void an_offset_past_the_subnet_is_refused()
    {
        var cidr = Cidr.Parse("10.0.0.0/30").Cidr!;

        cidr.At(3).ShouldBe(IPAddress.Parse("10.0.0.3"));
        Should.Throw<ArgumentOutOfRangeException>(() => cidr.At(4));
    }

    [Fact]
    public void a_generated_mac_is_stable_locally_administered_unicast_and_differs_per_nic()
    {
        var vm = Guid.Parse("6f1c7d0e-8a41-4c55-9d7e-1b2c3d4e5f60");

        var first = MacAddress.For(vm, 0);

        MacAddress.For(vm, 0).ShouldBe(first);
        MacAddress.For(vm, 1).ShouldNotBe(first);
        MacAddress.For(vm, 0, attempt: 1).ShouldNotBe(first);
        var octet = Convert.ToByte(first[..2], 16);
        (octet & 0b10).ShouldBe(0b10, "locally administered");
        (octet & 0b01).ShouldBe(0, "unicast");
        MacAddress.Normalize(first).Mac.ShouldBe(first);
    }

    [Theory]
    [InlineData("02-00-00-AA-BB-CC", "02:00:00:aa:bb:cc", null)]
    [InlineData("01:00:5e:00:00:01", null, "multicast")]
    [InlineData("02:00:00:aa:bb", null, "not a MAC address")]
    [InlineData("02:00:00:aa:bb:zz", null, "not a MAC address")]
    [InlineData(null, null, "not a MAC address")]
    public void a_given_mac_is_normalised_or_refused(string? text, string? mac, string? message)
    {
        var (normalized, error) = MacAddress.Normalize(text);

        normalized.ShouldBe(mac);
        if (message is null)
        {
            error.ShouldBeNull();
        }
        else
        {
            error!.ShouldContain(message);
        }
    }

    [Fact]
    public void a_port_mac_is_stable_per_port_locally_administered_and_unlike_a_vm_nic_mac()
    {
        var port = Guid.Parse("6f1c7d0e-8a41-4c55-9d7e-1b2c3d4e5f60");

        var first = MacAddress.ForPort(port);

        MacAddress.ForPort(port).ShouldBe(first);
        MacAddress.ForPort(port, attempt: 1).ShouldNotBe(first);
        MacAddress.For(port, 0).ShouldNotBe(first);
        (Convert.ToByte(first[..2], 16) & 0b11).ShouldBe(0b10, "locally administered unicast");
    }

    [Theory]
    [InlineData("10.0.0.1", "10.0.0.1")]
    [InlineData("FD00::0:1", "fd00::1")]
    [InlineData("::ffff:10.0.0.1", "::ffff:10.0.0.1")]
    public void an_address_parses_to_its_canonical_form(string text, string canonical) =>
        Cidr.ParseAddress("address", text).Address!.ToString().ShouldBe(canonical);

    [Theory]
    [InlineData("10.1", "address '10.1' is not an IP address")]
    [InlineData("10", "address '10' is not an IP address")]
    [InlineData("010.0.0.1", "address '010.0.0.1' is not an IP address")]
    [InlineData("10.0.0.256", "address '10.0.0.256' is not an IP address")]
    [InlineData("fe80::1%eth0", "address 'fe80::1%eth0' is not an IP address")]
    [InlineData(" ", "address must be an IP address")]
    [InlineData(null, "address must be an IP address")]
    public void a_shorthand_or_malformed_address_is_refused(string? text, string message)
    {
        var (address, error) = Cidr.ParseAddress("address", text);

        address.ShouldBeNull();
        error!.ShouldStartWith(message, Case.Sensitive);
    }

    [Theory]
    [InlineData("10.0.0.0/24", "10.0.0.255")]
    [InlineData("10.0.0.0/30", "10.0.0.3")]
    [InlineData("10.0.0.0/31", null)]
    [InlineData("fd00::/64", null)]
    public void only_ipv4_subnets_of_slash_30_or_wider_have_a_broadcast_address(string subnet, string? broadcast) =>
        (Cidr.Parse(subnet).Cidr!.Broadcast?.ToString()).ShouldBe(broadcast);

    [Fact]
    public void an_offset_is_measured_from_the_network_address()
    {
        var cidr = Cidr.Parse("fd00::/64").Cidr!;

        cidr.OffsetOf(IPAddress.Parse("fd00::ff")).ShouldBe(255);
        cidr.At(cidr.OffsetOf(IPAddress.Parse("fd00::ffff:0:0:1"))).ShouldBe(IPAddress.Parse("fd00::ffff:0:0:1"));
        Should.Throw<ArgumentOutOfRangeException>(() => cidr.OffsetOf(IPAddress.Parse("fd01::1")));
    }
}
