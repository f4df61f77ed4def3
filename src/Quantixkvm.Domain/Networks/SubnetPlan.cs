using System.Net;
using System.Net.Sockets;
using System.Numerics;

namespace Quantixkvm.Domain.Networks;

/// <summary>
/// A subnet with its addresses as numbers, for the decisions about them: checking a new subnet, checking a fixed
/// address, and finding the first free one. Allocation walks each pool from its start, jumping over reserved ranges and
/// stepping over taken addresses, so it costs the number of addresses taken, never the size of the subnet (a /8 or an
/// IPv6 /64 is never enumerated).
/// </summary>
internal sealed class SubnetPlan
{
    private readonly List<(BigInteger Start, BigInteger End)> _pools;
    private readonly List<(BigInteger Start, BigInteger End)> _reserved;

    private SubnetPlan(Subnet subnet, Cidr cidr, BigInteger gateway, List<(BigInteger, BigInteger)> pools, List<(BigInteger, BigInteger)> reserved)
    {
        Subnet = subnet;
        Cidr = cidr;
        Gateway = gateway;
        _pools = pools;
        _reserved = reserved;
    }

    public Subnet Subnet { get; }

    public Cidr Cidr { get; }

    public BigInteger Gateway { get; }

    /// <summary>IPv4 needs a gateway and one address besides network and broadcast: /30; IPv6 the same room: /126.</summary>
    public const int MaxIpv4Prefix = 30;

    public const int MaxIpv6Prefix = 126;

    /// <summary>The plan of a recorded subnet (checked when it was added).</summary>
    public static SubnetPlan Of(Subnet subnet)
    {
        var cidr = Cidr.Parse(subnet.Cidr).Cidr!;
        return new SubnetPlan(
            subnet, cidr, Cidr.ToNumber(IPAddress.Parse(subnet.Gateway)), [.. subnet.AllocationPools.Select(Numbers)], [.. subnet.ReservedRanges.Select(Numbers)]);
    }

    /// <summary>The subnet an <see cref="AddSubnet"/> asks for, in canonical form, or a message naming the problem.</summary>
    public static (Subnet? Subnet, string? Error) Define(Guid subnetId, AddSubnet command)
    {
        var (cidr, cidrError) = Cidr.Parse(command.Cidr);
        if (cidr is null)
        {
            return (null, cidrError);
        }

        var maxPrefix = cidr.Family == AddressFamily.InterNetwork ? MaxIpv4Prefix : MaxIpv6Prefix;
        if (cidr.PrefixLength > maxPrefix)
        {
            return (null, $"subnet {cidr} is too small: it needs room for a gateway and at least one address (/{maxPrefix} or wider)");
        }

        var (firstUsable, lastUsable) = Usable(cidr);
        var usable = $"{Show(cidr, firstUsable)}-{Show(cidr, lastUsable)}";

        var gateway = firstUsable;
        if (command.Gateway is not null)
        {
            var (address, error) = InSubnet(cidr, "gateway", command.Gateway);
            if (address is null)
            {
                return (null, error);
            }

            gateway = Cidr.ToNumber(address);
            if (WhyNotAHost(cidr, gateway) is { } problem)
            {
                return (null, $"gateway {problem}");
            }
        }

        var dns = new List<string>();
        foreach (var server in command.DnsServers ?? [])
        {
            var (address, error) = Cidr.ParseAddress("DNS server", server);
            if (address is null)
            {
                return (null, error);
            }

            if (dns.Contains(address.ToString()))
            {
                return (null, $"DNS server {address} is given twice");
            }

            dns.Add(address.ToString());
        }

        var pools = new List<(BigInteger Start, BigInteger End)>();
        foreach (var pool in command.AllocationPools ?? [])
        {
            var (range, error) = ParseRange(cidr, "allocation pool", pool);
            if (range is not { } r)
            {
                return (null, error);
            }

            if (r.Start < firstUsable || r.End > lastUsable)
            {
                return (null, $"allocation pool {Show(cidr, r)} is not inside the usable addresses of {cidr} ({usable})");
            }

            if (Overlapping(pools, r) is { } other)
            {
                return (null, $"allocation pools {Show(cidr, other)} and {Show(cidr, r)} overlap");
            }

            pools.Add(r);
        }

        if (pools.Count == 0)
        {
            pools.Add((firstUsable, lastUsable));
        }

        var reserved = new List<(BigInteger Start, BigInteger End)>();
        foreach (var range in command.ReservedRanges ?? [])
        {
            var (parsed, error) = ParseRange(cidr, "reserved range", range);
            if (parsed is not { } r)
            {
                return (null, error);
            }

            reserved.Add(r);
        }

        var subnet = new Subnet(
            subnetId, cidr.ToString(), Show(cidr, gateway), dns, [.. pools.Select(p => Range(cidr, p))], [.. reserved.Select(r => Range(cidr, r))],
            command.DhcpEnabled);
        return (subnet, null);
    }

    /// <summary>Null when <paramref name="address"/> (inside this subnet) may be given to a port; else why not. Taken is checked apart.</summary>
    public string? WhyNotAssignable(IPAddress address)
    {
        var number = Cidr.ToNumber(address);
        if (WhyNotAHost(Cidr, number) is { } problem)
        {
            return $"address {problem}";
        }

        if (number == Gateway)
        {
            return $"address {address} is the gateway of subnet {Cidr}";
        }

        return Overlapping(_reserved, (number, number)) is { } range
            ? $"address {address} is reserved in subnet {Cidr} (range {Show(Cidr, range)})"
            : null;
    }

    /// <summary>The first address of the pools (in their order) that is not the gateway, not reserved and not taken; null when full.</summary>
    public IPAddress? FirstFree(Func<IPAddress, bool> isTaken)
    {
        foreach (var (start, end) in _pools)
        {
            var candidate = start;
            while (candidate <= end)
            {
                if (Overlapping(_reserved, (candidate, candidate)) is { } reserved)
                {
                    candidate = reserved.End + 1;
                    continue;
                }

                var address = Cidr.FromNumber(candidate, Cidr.Family);
                if (candidate != Gateway && !isTaken(address))
                {
                    return address;
                }

                candidate++;
            }
        }

        return null;
    }

    /// <summary>Null when <paramref name="number"/> is a host address of the subnet: not its network address, not its IPv4 broadcast.</summary>
    private static string? WhyNotAHost(Cidr cidr, BigInteger number)
    {
        var address = Cidr.FromNumber(number, cidr.Family);
        if (number == cidr.First)
        {
            return $"{address} is the network address of {cidr}";
        }

        return cidr.Broadcast is { } broadcast && address.Equals(broadcast) ? $"{address} is the broadcast address of {cidr}" : null;
    }

    private static (BigInteger Start, BigInteger End)? Overlapping(List<(BigInteger Start, BigInteger End)> ranges, (BigInteger Start, BigInteger End) range)
    {
        foreach (var r in ranges)
        {
            if (r.Start <= range.End && range.Start <= r.End)
            {
                return r;
            }
        }

        return null;
    }

    private static (BigInteger First, BigInteger Last) Usable(Cidr cidr) => (cidr.First + 1, cidr.Broadcast is null ? cidr.Last : cidr.Last - 1);

    private static (IPAddress? Address, string? Error) InSubnet(Cidr cidr, string what, string text)
    {
        var (address, error) = Cidr.ParseAddress(what, text);
        if (address is null)
        {
            return (null, error);
        }

        return cidr.Contains(address) ? (address, null) : (null, $"{what} {address} is not in subnet {cidr}");
    }

    private static ((BigInteger Start, BigInteger End)? Range, string? Error) ParseRange(Cidr cidr, string what, AddressRange range)
    {
        var (start, startError) = InSubnet(cidr, $"{what} start", range.Start);
        if (start is null)
        {
            return (null, startError);
        }

        var (end, endError) = InSubnet(cidr, $"{what} end", range.End);
        if (end is null)
        {
            return (null, endError);
        }

        var (first, last) = (Cidr.ToNumber(start), Cidr.ToNumber(end));
        return first > last ? (null, $"{what} {start}-{end} starts after it ends") : ((first, last), null);
    }

    private static (BigInteger, BigInteger) Numbers(AddressRange range) =>
        (Cidr.ToNumber(IPAddress.Parse(range.Start)), Cidr.ToNumber(IPAddress.Parse(range.End)));

    private static string Show(Cidr cidr, BigInteger number) => Cidr.FromNumber(number, cidr.Family).ToString();

    private static string Show(Cidr cidr, (BigInteger Start, BigInteger End) range) => $"{Show(cidr, range.Start)}-{Show(cidr, range.End)}";

    private static AddressRange Range(Cidr cidr, (BigInteger Start, BigInteger End) range) => new(Show(cidr, range.Start), Show(cidr, range.End));
}
