namespace Quantixkvm.Domain.Hosts;

using HostDecision = Decision<HostEvent>;

/// <summary>What a host's agent reports about it when it registers.</summary>
public sealed record HostFacts(string Name, int Cpus, long MemoryMiB, string CpuModel, string LibvirtUri, string AgentVersion);

public abstract record HostCommand(CommandContext Context);

public sealed record RegisterHost(CommandContext Context, Guid HostId, HostFacts Facts) : HostCommand(Context);

public abstract record HostEvent(Guid HostId);

public sealed record HostRegistered(Guid HostId, HostFacts Facts, DateTimeOffset RegisteredAt) : HostEvent(HostId);

public sealed record HostFactsChanged(Guid HostId, HostFacts Facts, DateTimeOffset ChangedAt) : HostEvent(HostId);

public sealed record HostState(Guid HostId, HostFacts? Facts)
{
    public static HostState Initial { get; } = new(Guid.Empty, null);
}

/// <summary>
/// The host aggregate as far as the spine needs it: registration. Liveness (heartbeats) is
/// telemetry and stays out of the event log.
/// </summary>
public static class HostDecider
{
    /// <summary>A host's id follows from its name, so an agent that restarts finds its own stream.</summary>
    public static Guid HostIdFor(string hostName) => DeterministicId.From("host", hostName);

    public static HostDecision Decide(HostCommand command, HostState state) => command switch
    {
        RegisterHost register => DecideRegister(register, state),
        _ => throw new ArgumentOutOfRangeException(nameof(command), command.GetType().Name, "unknown host command"),
    };

    public static HostState Evolve(HostState state, HostEvent @event) => @event switch
    {
        HostRegistered e => new HostState(e.HostId, e.Facts),
        HostFactsChanged e => state with { Facts = e.Facts },
        _ => state,
    };

    private static HostDecision DecideRegister(RegisterHost command, HostState state)
    {
        var facts = command.Facts;
        if (string.IsNullOrWhiteSpace(facts.Name) || facts.Cpus <= 0 || facts.MemoryMiB <= 0)
        {
            return HostDecision.Reject(
                RejectionCode.Validation,
                $"a host needs a name and positive capacity (name '{facts.Name}', {facts.Cpus} CPUs, {facts.MemoryMiB} MiB)",
                command: "register");
        }

        if (state.Facts is null)
        {
            return HostDecision.Accept(null, new HostRegistered(command.HostId, facts, command.Context.Now));
        }

        return state.Facts == facts
            ? HostDecision.Accept(null)
            : HostDecision.Accept(null, new HostFactsChanged(command.HostId, facts, command.Context.Now));
    }
}
