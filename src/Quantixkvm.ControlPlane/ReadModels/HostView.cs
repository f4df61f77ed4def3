using JasperFx.Events;
using Marten.Events.Aggregation;
using Quantixkvm.Domain.Hosts;

namespace Quantixkvm.ControlPlane.ReadModels;

/// <summary>A registered host: the facts its agent reported. Liveness comes from <see cref="HostLiveness"/>.</summary>
public sealed record HostView
{
    public Guid Id { get; init; }
    public string Name { get; init; } = "";
    public int Cpus { get; init; }
    public long MemoryMiB { get; init; }
    public string CpuModel { get; init; } = "";
    public string LibvirtUri { get; init; } = "";
    public string AgentVersion { get; init; } = "";
    public DateTimeOffset RegisteredAt { get; init; }
    public long Version { get; init; }

    public static HostView? After(HostView? view, IEvent @event) => @event.Data switch
    {
        HostRegistered e => From(e.HostId, e.Facts) with { RegisteredAt = e.RegisteredAt, Version = @event.Version },
        HostFactsChanged e when view is not null => From(e.HostId, e.Facts) with { RegisteredAt = view.RegisteredAt, Version = @event.Version },
        _ => view,
    };

    private static HostView From(Guid id, HostFacts facts) => new()
    {
        Id = id, Name = facts.Name, Cpus = facts.Cpus, MemoryMiB = facts.MemoryMiB, CpuModel = facts.CpuModel,
        LibvirtUri = facts.LibvirtUri, AgentVersion = facts.AgentVersion,
    };
}

public sealed class HostViewProjection : SingleStreamProjection<HostView, Guid>
{
    public override HostView? Evolve(HostView? snapshot, Guid id, IEvent e) => HostView.After(snapshot, e);
}

/// <summary>
/// The last heartbeat of a host's agent. Telemetry, not history: a document overwritten in place,
/// never an event (see docs/adr).
/// </summary>
public sealed record HostLiveness
{
    public Guid Id { get; init; }
    public DateTimeOffset LastHeartbeatAt { get; init; }
    public int DomainCount { get; init; }
}
