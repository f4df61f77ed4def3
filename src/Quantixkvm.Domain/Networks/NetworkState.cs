using System.Collections.Immutable;

namespace Quantixkvm.Domain.Networks;

/// <summary>What the network decider needs of a network: its definition, subnets, ports, and what each host last reported.</summary>
public sealed record NetworkState(
    Guid NetworkId, bool Exists, bool Deleted, string Name, NetworkKind Kind, string? BridgeName, string? Uplink, int? Vlan, int Mtu,
    string Description, long Generation)
{
    public static NetworkState Initial { get; } = new(Guid.Empty, false, false, "", NetworkKind.Bridge, null, null, null, 0, "", 0);

    /// <summary>The subnets, in the order they were added.</summary>
    public ImmutableList<Subnet> Subnets { get; init; } = [];

    /// <summary>Every subnet ever added (also removed ones), so a repeated add changes nothing.</summary>
    public ImmutableHashSet<Guid> KnownSubnets { get; init; } = [];

    public ImmutableDictionary<Guid, NetworkPort> Ports { get; init; } = ImmutableDictionary<Guid, NetworkPort>.Empty;

    /// <summary>The port each add-port command id made (also removed ones), so a repeated add finds its port.</summary>
    public ImmutableDictionary<string, Guid> PortsByCommand { get; init; } = ImmutableDictionary<string, Guid>.Empty.WithComparers(StringComparer.Ordinal);

    public ImmutableHashSet<Guid> RemovedPorts { get; init; } = [];

    /// <summary>Which port holds each MAC and each address (canonical text): both are unique within the network.</summary>
    public ImmutableDictionary<string, Guid> MacOwners { get; init; } = ImmutableDictionary<string, Guid>.Empty.WithComparers(StringComparer.Ordinal);

    public ImmutableDictionary<string, Guid> AddressOwners { get; init; } = ImmutableDictionary<string, Guid>.Empty.WithComparers(StringComparer.Ordinal);

    /// <summary>What each host last reported (recorded events only).</summary>
    public ImmutableDictionary<Guid, HostRealization> Hosts { get; init; } = ImmutableDictionary<Guid, HostRealization>.Empty;

    /// <summary>The port an add-port command made, when that command id was used here.</summary>
    public NetworkPort? PortAddedBy(string commandId) =>
        PortsByCommand.TryGetValue(commandId, out var portId) && Ports.TryGetValue(portId, out var port) ? port : null;

    public string Describe() => !Exists ? "NONEXISTENT" : Deleted ? "DELETED" : "ACTIVE";
}
