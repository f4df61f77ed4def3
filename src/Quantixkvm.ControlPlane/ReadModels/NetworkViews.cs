using JasperFx.Events;
using Marten.Events.Aggregation;
using Quantixkvm.Domain.Networks;

namespace Quantixkvm.ControlPlane.ReadModels;

/// <summary>A port of a network: a VM NIC's MAC, addresses and security groups.</summary>
public sealed record NetworkPortView(
    Guid PortId, Guid VmId, string Mac, IReadOnlyList<PortAddress> Addresses, IReadOnlyList<Guid> SecurityGroupIds, DateTimeOffset AddedAt);

/// <summary>What one host last reported of a network: the generation it holds, or why it could not apply one.</summary>
public sealed record NetworkHostView(Guid HostId, long Generation, string? Error, string Summary, DateTimeOffset ReportedAt);

/// <summary>A network: its definition, subnets, ports (with their addresses: the IPAM state), and per host what is realized.</summary>
public sealed record NetworkView
{
    public Guid Id { get; init; }
    public string Name { get; init; } = "";
    public NetworkKind Kind { get; init; }
    public string? BridgeName { get; init; }
    public string? Uplink { get; init; }
    public int? Vlan { get; init; }
    public int Mtu { get; init; }
    public string Description { get; init; } = "";

    /// <summary>Counts the changes hosts must apply; a host holding this generation is up to date.</summary>
    public long Generation { get; init; }

    public IReadOnlyList<Subnet> Subnets { get; init; } = [];
    public IReadOnlyList<NetworkPortView> Ports { get; init; } = [];
    public IReadOnlyList<NetworkHostView> Hosts { get; init; } = [];
    public DateTimeOffset CreatedAt { get; init; }
    public DateTimeOffset? DeletedAt { get; init; }
    public long Version { get; init; }

    public static NetworkView? After(NetworkView? view, IEvent @event)
    {
        var updated = (@event.Data, view) switch
        {
            (NetworkCreated e, _) => new NetworkView
            {
                Id = e.NetworkId, Name = e.Name, Kind = e.Kind, BridgeName = e.BridgeName, Uplink = e.Uplink, Vlan = e.Vlan, Mtu = e.Mtu,
                Description = e.Description, Generation = 1, CreatedAt = e.CreatedAt,
            },
            (_, null) => null,
            (NetworkUpdated e, _) => view with { Mtu = e.Mtu, Description = e.Description, Generation = e.Generation },
            (NetworkSubnetAdded e, _) => view with { Subnets = [.. view.Subnets, e.Subnet], Generation = e.Generation },
            (NetworkSubnetRemoved e, _) => view with { Subnets = [.. view.Subnets.Where(s => s.SubnetId != e.SubnetId)], Generation = e.Generation },
            (NetworkPortAdded e, _) => view with
            {
                Ports = [.. view.Ports, new NetworkPortView(e.Port.PortId, e.Port.VmId, e.Port.Mac, e.Port.Addresses, e.Port.SecurityGroupIds, e.AddedAt)],
                Generation = e.Generation,
            },
            (NetworkPortRemoved e, _) => view with { Ports = [.. view.Ports.Where(p => p.PortId != e.PortId)], Generation = e.Generation },
            (NetworkPortSecurityGroupsSet e, _) => view with
            {
                Ports = [.. view.Ports.Select(p => p.PortId == e.PortId ? p with { SecurityGroupIds = e.SecurityGroupIds } : p)],
                Generation = e.Generation,
            },
            (NetworkRealizedOnHost e, _) => WithHost(view, new NetworkHostView(e.HostId, e.Generation, null, e.Summary, e.RealizedAt)),
            (NetworkRealizationFailed e, _) => WithHost(view, new NetworkHostView(
                e.HostId, view.Hosts.FirstOrDefault(h => h.HostId == e.HostId)?.Generation ?? 0, e.Error, "", e.FailedAt)),
            (NetworkDeleted e, _) => view with { DeletedAt = e.DeletedAt },
            _ => view,
        };
        return updated is null ? null : updated with { Version = @event.Version };
    }

    /// <summary>A failure keeps the generation the host last held: it still holds that one.</summary>
    private static NetworkView WithHost(NetworkView view, NetworkHostView host) =>
        view with { Hosts = [.. view.Hosts.Where(h => h.HostId != host.HostId), host] };
}

public sealed class NetworkViewProjection : SingleStreamProjection<NetworkView, Guid>
{
    public override NetworkView? Evolve(NetworkView? snapshot, Guid id, IEvent e) => NetworkView.After(snapshot, e);
}

/// <summary>A security group with its rules.</summary>
public sealed record SecurityGroupView
{
    public Guid Id { get; init; }
    public string Name { get; init; } = "";
    public string Description { get; init; } = "";
    public IReadOnlyList<SecurityGroupRule> Rules { get; init; } = [];
    public DateTimeOffset CreatedAt { get; init; }
    public DateTimeOffset? DeletedAt { get; init; }
    public long Version { get; init; }

    public static SecurityGroupView? After(SecurityGroupView? view, IEvent @event)
    {
        var updated = (@event.Data, view) switch
        {
            (SecurityGroupCreated e, _) => new SecurityGroupView { Id = e.GroupId, Name = e.Name, Description = e.Description, CreatedAt = e.CreatedAt },
            (_, null) => null,
            (SecurityGroupRuleAdded e, _) => view with { Rules = [.. view.Rules, e.Rule] },
            (SecurityGroupRuleRemoved e, _) => view with { Rules = [.. view.Rules.Where(r => r.RuleId != e.RuleId)] },
            (SecurityGroupDeleted e, _) => view with { DeletedAt = e.DeletedAt },
            _ => view,
        };
        return updated is null ? null : updated with { Version = @event.Version };
    }
}

public sealed class SecurityGroupViewProjection : SingleStreamProjection<SecurityGroupView, Guid>
{
    public override SecurityGroupView? Evolve(SecurityGroupView? snapshot, Guid id, IEvent e) => SecurityGroupView.After(snapshot, e);
}
