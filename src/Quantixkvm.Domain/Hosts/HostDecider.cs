using System.Collections.Immutable;

namespace Quantixkvm.Domain.Hosts;

using HostDecision = Decision<HostEvent>;

/// <summary>
/// The host aggregate: registration, labels and cluster, and the states liveness, fencing and maintenance move it
/// through (see docs/fleet.md). Heartbeats themselves are telemetry and stay out of the log; what they imply
/// (unreachable, recovered) is decided here.
/// </summary>
public static class HostDecider
{
    /// <summary>A host's id follows from its name, so an agent that restarts finds its own stream.</summary>
    public static Guid HostIdFor(string hostName) => DeterministicId.From("host", hostName);

    public static HostDecision Decide(HostCommand command, HostState state) => command switch
    {
        RegisterHost register => DecideRegister(register, state),
        _ when state.Facts is null => HostDecision.Reject(RejectionCode.NotFound, "the host is not registered", command: NameOf(command)),
        _ when state.Status == HostStatus.Decommissioned => HostDecision.Reject(
            RejectionCode.InvalidState, $"host '{state.Facts.Name}' is decommissioned", state.Describe(), NameOf(command)),
        SetHostLabels labels => DecideLabels(labels, state),
        AssignHostToCluster assign => state.ClusterId == assign.ClusterId
            ? HostDecision.Accept(null)
            : HostDecision.Accept(null, new HostClusterAssigned(state.HostId, assign.ClusterId, assign.Context.Now)),
        ConfigureFencing fencing => DecideFencing(fencing, state),
        MarkHostUnreachable unreachable => state.Status == HostStatus.Online
            ? HostDecision.Accept(null, new HostUnreachable(state.HostId, unreachable.LastHeartbeatAt, unreachable.DetectionSeconds, unreachable.Context.Now))
            : HostDecision.Accept(null),
        StartFencing start => DecideStartFencing(start, state),
        RecordFenceAttempt attempt => DecideFenceAttempt(attempt, state),
        MarkHostRecovered recovered => state.Status is HostStatus.Unreachable or HostStatus.Fenced
            ? HostDecision.Accept(null, new HostRecovered(state.HostId, state.Status == HostStatus.Fenced, recovered.Context.Now))
            : HostDecision.Accept(null),
        EnterMaintenance enter => DecideEnterMaintenance(enter, state),
        CompleteMaintenance complete => DecideCompleteMaintenance(complete, state),
        ReportEvacuationIncomplete incomplete => DecideIncomplete(incomplete, state),
        ExitMaintenance exit => state.Maintenance == MaintenanceState.None
            ? HostDecision.Accept(null)
            : HostDecision.Accept(null, new HostMaintenanceExited(state.HostId, exit.Context.Actor, exit.Context.Now)),
        DecommissionHost decommission => DecideDecommission(decommission, state),
        _ => throw new ArgumentOutOfRangeException(nameof(command), command.GetType().Name, "unknown host command"),
    };

    public static HostState Evolve(HostState state, HostEvent @event) => @event switch
    {
        HostRegistered e => state with { HostId = e.HostId, Facts = e.Facts, Status = HostStatus.Online },
        HostFactsChanged e => state with { Facts = e.Facts },
        HostLabelsChanged e => state with { Labels = e.Labels.ToImmutableSortedDictionary(StringComparer.Ordinal) },
        HostClusterAssigned e => state with { ClusterId = e.ClusterId },
        HostFencingConfigured e => state with { Fencing = e.Fencing },
        HostUnreachable => state with { Status = HostStatus.Unreachable },
        HostFencingStarted e => state with { CurrentFenceId = e.FenceId },
        HostFenceAttemptFailed => state,
        HostFencingFailed => state with { CurrentFenceId = null },
        HostFenced => state with { Status = HostStatus.Fenced, CurrentFenceId = null },
        HostRecovered => state with { Status = HostStatus.Online, CurrentFenceId = null },
        HostMaintenanceRequested e => state with { Maintenance = MaintenanceState.Entering, AllowColdMigration = e.AllowColdMigration },
        HostEvacuationIncomplete => state,
        HostMaintenanceEntered => state with { Maintenance = MaintenanceState.InMaintenance },
        HostMaintenanceExited => state with { Maintenance = MaintenanceState.None, AllowColdMigration = false },
        HostDecommissioned => state with { Status = HostStatus.Decommissioned },
        _ => state,
    };

    private static string NameOf(HostCommand command) => command switch
    {
        SetHostLabels => "set-host-labels",
        AssignHostToCluster => "assign-host-to-cluster",
        ConfigureFencing => "configure-fencing",
        EnterMaintenance => "enter-maintenance",
        ExitMaintenance => "exit-maintenance",
        DecommissionHost => "decommission-host",
        _ => command.GetType().Name,
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

        return HostFacts.Same(state.Facts, facts)
            ? HostDecision.Accept(null)
            : HostDecision.Accept(null, new HostFactsChanged(command.HostId, facts, command.Context.Now));
    }

    private static HostDecision DecideLabels(SetHostLabels command, HostState state)
    {
        foreach (var (key, value) in command.Labels)
        {
            if (HostLabels.Check(key, value) is { } problem)
            {
                return HostDecision.Reject(RejectionCode.Validation, problem, state.Describe(), "set-host-labels");
            }
        }

        var labels = new SortedDictionary<string, string>(command.Labels.ToDictionary(), StringComparer.Ordinal);
        return labels.SequenceEqual(state.Labels)
            ? HostDecision.Accept(null)
            : HostDecision.Accept(null, new HostLabelsChanged(state.HostId, labels, command.Context.Now));
    }

    private static HostDecision DecideFencing(ConfigureFencing command, HostState state)
    {
        if (HostFencing.Check(command.Fencing) is { } problem)
        {
            return HostDecision.Reject(RejectionCode.Validation, problem, state.Describe(), "configure-fencing");
        }

        return state.Fencing is { } current && current.SameAs(command.Fencing)
            ? HostDecision.Accept(null)
            : HostDecision.Accept(null, new HostFencingConfigured(state.HostId, command.Fencing, command.Context.Now));
    }

    private static HostDecision DecideStartFencing(StartFencing command, HostState state)
    {
        if (state.CurrentFenceId == command.FenceId || state.Status == HostStatus.Fenced)
        {
            return HostDecision.Accept(null);
        }

        return state.Status != HostStatus.Unreachable || state.CurrentFenceId is not null
            ? HostDecision.Reject(RejectionCode.InvalidState,
                $"host '{state.Facts!.Name}' is {state.Describe()}; only an unreachable host that is not being fenced can be fenced",
                state.Describe(), "fence")
            : HostDecision.Accept(null, new HostFencingStarted(state.HostId, command.FenceId, command.Fencers, command.Context.Now));
    }

    private static HostDecision DecideFenceAttempt(RecordFenceAttempt command, HostState state)
    {
        if (state.CurrentFenceId != command.FenceId)
        {
            // A late result of a fencing that was given up (or the host came back): a fact without consequence.
            return HostDecision.Accept(null);
        }

        var now = command.Context.Now;
        if (command.Fenced)
        {
            return HostDecision.Accept(null, new HostFenced(state.HostId, command.FenceId, command.Fencer, command.Detail, now));
        }

        var failed = new HostFenceAttemptFailed(state.HostId, command.FenceId, command.Fencer, command.Detail, now);
        return command.LastFencer
            ? HostDecision.Accept(null, failed, new HostFencingFailed(state.HostId, command.FenceId, "every fencer failed; retrying", now))
            : HostDecision.Accept(null, failed);
    }

    private static HostDecision DecideEnterMaintenance(EnterMaintenance command, HostState state)
    {
        if (state.Maintenance != MaintenanceState.None)
        {
            return HostDecision.Accept(null);
        }

        return state.Status != HostStatus.Online
            ? HostDecision.Reject(RejectionCode.InvalidState,
                $"host '{state.Facts!.Name}' is {state.Describe()}: only an online host can be evacuated into maintenance", state.Describe(), "enter-maintenance")
            : HostDecision.Accept(null, new HostMaintenanceRequested(state.HostId, command.AllowColdMigration, command.Context.Actor, command.Context.Now));
    }

    private static HostDecision DecideCompleteMaintenance(CompleteMaintenance command, HostState state)
    {
        if (state.Maintenance != MaintenanceState.Entering)
        {
            return HostDecision.Accept(null);
        }

        return command.VmsRemaining > 0
            ? HostDecision.Reject(RejectionCode.InvalidState,
                $"host '{state.Facts!.Name}' still holds {command.VmsRemaining} VMs", state.Describe(), "complete-maintenance")
            : HostDecision.Accept(null, new HostMaintenanceEntered(state.HostId, command.Context.Now));
    }

    private static HostDecision DecideIncomplete(ReportEvacuationIncomplete command, HostState state) =>
        state.Maintenance != MaintenanceState.Entering || command.Stuck.Count == 0
            ? HostDecision.Accept(null)
            : HostDecision.Accept(null, new HostEvacuationIncomplete(state.HostId, command.Stuck, command.Context.Now));

    private static HostDecision DecideDecommission(DecommissionHost command, HostState state)
    {
        if (state.Maintenance != MaintenanceState.InMaintenance && state.Status != HostStatus.Fenced)
        {
            return HostDecision.Reject(RejectionCode.InvalidState,
                $"host '{state.Facts!.Name}' is {state.Describe()}: put it in maintenance first (or it must be fenced)", state.Describe(), "decommission-host");
        }

        return command.VmsRemaining > 0
            ? HostDecision.Reject(RejectionCode.InvalidState,
                $"host '{state.Facts!.Name}' still holds {command.VmsRemaining} VMs; move or delete them first", state.Describe(), "decommission-host")
            : HostDecision.Accept(null, new HostDecommissioned(state.HostId, command.Context.Actor, command.Context.Now));
    }
}
