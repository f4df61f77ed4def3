using System.Collections.Immutable;
using System.Text.RegularExpressions;

namespace Quantixkvm.Domain.Hosts;

/// <summary>
/// What a host's agent reports about it when it registers. The fleet fields (CPU features, whether its hypervisor can
/// live-migrate, the addresses other hosts migrate to) are absent from events of older agents.
/// </summary>
public sealed record HostFacts(
    string Name, int Cpus, long MemoryMiB, string CpuModel, string LibvirtUri, string AgentVersion,
    IReadOnlyList<string>? CpuFeatures = null, bool LiveMigration = false, string? MigrateAddress = null, string? PeerLibvirtUri = null)
{
    /// <summary>Value equality including the feature list (records compare lists by reference).</summary>
    public static bool Same(HostFacts a, HostFacts b) =>
        a with { CpuFeatures = null } == b with { CpuFeatures = null } && (a.CpuFeatures ?? []).SequenceEqual(b.CpuFeatures ?? []);
}

/// <summary>Liveness and life: Online → Unreachable (heartbeats stopped) → Fenced → Online again when it comes back.</summary>
public enum HostStatus
{
    Online,
    Unreachable,
    Fenced,
    Decommissioned,
}

public enum MaintenanceState
{
    None,

    /// <summary>Being evacuated: no new VMs; finishes when the host is empty.</summary>
    Entering,
    InMaintenance,
}

/// <summary>
/// How the control plane makes sure a failed host's VMs are off before HA restarts them elsewhere. Fencers are tried in
/// <c>Order</c> (names: agent, redfish, ipmi, storage-lease); passwords are named, never stored: <c>PasswordSecret</c> is
/// the name of a file in the control plane's secrets folder.
/// </summary>
public sealed record HostFencing(IReadOnlyList<string> Order, RedfishFencing? Redfish = null, IpmiFencing? Ipmi = null)
{
    public static readonly IReadOnlyList<string> Known = ["agent", "redfish", "ipmi", "storage-lease"];

    /// <summary>What a host gets when nobody configured it: ask the agent, then rely on the storage lease.</summary>
    public static HostFencing Default { get; } = new(["agent", "storage-lease"]);

    public bool SameAs(HostFencing other) => Order.SequenceEqual(other.Order) && Redfish == other.Redfish && Ipmi == other.Ipmi;

    public static string? Check(HostFencing fencing)
    {
        if (fencing.Order.Count == 0)
        {
            return "fencing needs at least one fencer";
        }

        foreach (var name in fencing.Order)
        {
            if (!Known.Contains(name))
            {
                return $"unknown fencer '{name}'; known: {string.Join(", ", Known)}";
            }
        }

        if (fencing.Order.Distinct().Count() != fencing.Order.Count)
        {
            return "a fencer is listed twice";
        }

        if (fencing.Order.Contains("redfish") && fencing.Redfish is null)
        {
            return "the redfish fencer needs its endpoint, user and password secret";
        }

        if (fencing.Order.Contains("ipmi") && fencing.Ipmi is null)
        {
            return "the ipmi fencer needs its address, user and password secret";
        }

        if (fencing.Redfish is { } r && (!Uri.TryCreate(r.Endpoint, UriKind.Absolute, out var uri) || uri.Scheme is not ("https" or "http")))
        {
            return $"redfish endpoint '{r.Endpoint}' is not an http(s) URL";
        }

        var secrets = new[] { fencing.Redfish?.PasswordSecret, fencing.Ipmi?.PasswordSecret }.OfType<string>();
        return secrets.Select(s => ResourceNames.Check("password secret", s)).FirstOrDefault(p => p is not null);
    }
}

/// <summary>A BMC's Redfish service: <c>SystemId</c> is the ComputerSystem to power off (e.g. "1" or "System.Embedded.1").</summary>
public sealed record RedfishFencing(string Endpoint, string SystemId, string Username, string PasswordSecret, bool VerifyTls = true);

public sealed record IpmiFencing(string Address, string Username, string PasswordSecret, string Interface = "lanplus");

/// <summary>A VM that maintenance could not move off its host, and why.</summary>
public sealed record StuckVm(Guid VmId, string VmName, string Reason);

public static partial class HostLabels
{
    /// <summary>Kubernetes-like keys (letters, digits, '-', '_', '.', '/'), values up to 63 characters.</summary>
    public static string? Check(string key, string value)
    {
        if (!KeyPattern().IsMatch(key))
        {
            return $"label key '{key}' must be 1-63 letters, digits, '-', '_', '.' or '/', starting with a letter or digit";
        }

        return value.Length <= 63 && ValuePattern().IsMatch(value)
            ? null
            : $"label '{key}' has value '{value}': up to 63 letters, digits, '-', '_' or '.'";
    }

    [GeneratedRegex("^[A-Za-z0-9][A-Za-z0-9._/-]{0,62}$")]
    private static partial Regex KeyPattern();

    [GeneratedRegex("^[A-Za-z0-9._-]*$")]
    private static partial Regex ValuePattern();
}

public abstract record HostCommand(CommandContext Context);

public sealed record RegisterHost(CommandContext Context, Guid HostId, HostFacts Facts) : HostCommand(Context);

/// <summary>Replaces the host's labels (an empty map clears them).</summary>
public sealed record SetHostLabels(CommandContext Context, IReadOnlyDictionary<string, string> Labels) : HostCommand(Context);

/// <summary>Puts the host into a cluster (null: out of any); the caller has checked the cluster exists.</summary>
public sealed record AssignHostToCluster(CommandContext Context, Guid? ClusterId) : HostCommand(Context);

public sealed record ConfigureFencing(CommandContext Context, HostFencing Fencing) : HostCommand(Context);

/// <summary>The liveness watcher saw no heartbeat for longer than the cluster's detection time.</summary>
public sealed record MarkHostUnreachable(CommandContext Context, DateTimeOffset? LastHeartbeatAt, double DetectionSeconds) : HostCommand(Context);

public sealed record StartFencing(CommandContext Context, Guid FenceId, IReadOnlyList<string> Fencers) : HostCommand(Context);

/// <summary>One fencer's verdict. <c>LastFencer</c>: no other fencer is left to try in this round.</summary>
public sealed record RecordFenceAttempt(CommandContext Context, Guid FenceId, string Fencer, bool Fenced, string Detail, bool LastFencer)
    : HostCommand(Context);

/// <summary>Heartbeats arrive again.</summary>
public sealed record MarkHostRecovered(CommandContext Context) : HostCommand(Context);

public sealed record EnterMaintenance(CommandContext Context, bool AllowColdMigration) : HostCommand(Context);

/// <summary>The evacuation found the host empty (<c>VmsRemaining</c> counted by the caller).</summary>
public sealed record CompleteMaintenance(CommandContext Context, int VmsRemaining) : HostCommand(Context);

public sealed record ReportEvacuationIncomplete(CommandContext Context, IReadOnlyList<StuckVm> Stuck) : HostCommand(Context);

public sealed record ExitMaintenance(CommandContext Context) : HostCommand(Context);

public sealed record DecommissionHost(CommandContext Context, int VmsRemaining) : HostCommand(Context);

public abstract record HostEvent(Guid HostId);

public sealed record HostRegistered(Guid HostId, HostFacts Facts, DateTimeOffset RegisteredAt) : HostEvent(HostId);

public sealed record HostFactsChanged(Guid HostId, HostFacts Facts, DateTimeOffset ChangedAt) : HostEvent(HostId);

public sealed record HostLabelsChanged(Guid HostId, IReadOnlyDictionary<string, string> Labels, DateTimeOffset ChangedAt) : HostEvent(HostId);

public sealed record HostClusterAssigned(Guid HostId, Guid? ClusterId, DateTimeOffset AssignedAt) : HostEvent(HostId);

public sealed record HostFencingConfigured(Guid HostId, HostFencing Fencing, DateTimeOffset ConfiguredAt) : HostEvent(HostId);

public sealed record HostUnreachable(Guid HostId, DateTimeOffset? LastHeartbeatAt, double DetectionSeconds, DateTimeOffset DetectedAt) : HostEvent(HostId);

public sealed record HostFencingStarted(Guid HostId, Guid FenceId, IReadOnlyList<string> Fencers, DateTimeOffset StartedAt) : HostEvent(HostId);

public sealed record HostFenceAttemptFailed(Guid HostId, Guid FenceId, string Fencer, string Reason, DateTimeOffset FailedAt) : HostEvent(HostId);

public sealed record HostFencingFailed(Guid HostId, Guid FenceId, string Reason, DateTimeOffset FailedAt) : HostEvent(HostId);

/// <summary>The host's VMs are known to be off: HA may restart them elsewhere. <c>Evidence</c> is the fencer's own account.</summary>
public sealed record HostFenced(Guid HostId, Guid FenceId, string Fencer, string Evidence, DateTimeOffset FencedAt) : HostEvent(HostId);

/// <summary>Heartbeats are back. <c>WasFenced</c>: its old VMs may run elsewhere now; their domains here are released.</summary>
public sealed record HostRecovered(Guid HostId, bool WasFenced, DateTimeOffset RecoveredAt) : HostEvent(HostId);

public sealed record HostMaintenanceRequested(Guid HostId, bool AllowColdMigration, string Actor, DateTimeOffset RequestedAt) : HostEvent(HostId);

public sealed record HostEvacuationIncomplete(Guid HostId, IReadOnlyList<StuckVm> Stuck, DateTimeOffset ReportedAt) : HostEvent(HostId);

public sealed record HostMaintenanceEntered(Guid HostId, DateTimeOffset EnteredAt) : HostEvent(HostId);

public sealed record HostMaintenanceExited(Guid HostId, string Actor, DateTimeOffset ExitedAt) : HostEvent(HostId);

public sealed record HostDecommissioned(Guid HostId, string Actor, DateTimeOffset DecommissionedAt) : HostEvent(HostId);

public sealed record HostState(Guid HostId, HostFacts? Facts)
{
    public static HostState Initial { get; } = new(Guid.Empty, null);

    public HostStatus Status { get; init; } = HostStatus.Online;

    public MaintenanceState Maintenance { get; init; } = MaintenanceState.None;

    public bool AllowColdMigration { get; init; }

    public Guid? ClusterId { get; init; }

    public ImmutableSortedDictionary<string, string> Labels { get; init; } = ImmutableSortedDictionary<string, string>.Empty;

    public HostFencing? Fencing { get; init; }

    /// <summary>The fencing round under way, if any.</summary>
    public Guid? CurrentFenceId { get; init; }

    public string Describe() => Describe(Status, Maintenance, CurrentFenceId is not null);

    /// <summary>One word for a host's state, for the decider's refusals and the read model alike.</summary>
    public static string Describe(HostStatus status, MaintenanceState maintenance, bool fencing) => maintenance switch
    {
        // Decommissioning needs maintenance (or fencing) first: the end state is named, not the way there.
        _ when status == HostStatus.Decommissioned => "DECOMMISSIONED",
        MaintenanceState.Entering => "ENTERING_MAINTENANCE",
        MaintenanceState.InMaintenance => "IN_MAINTENANCE",
        _ when fencing => "FENCING",
        _ => status.ToString().ToUpperInvariant(),
    };
}
