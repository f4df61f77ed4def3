using Quantixkvm.Domain.Storage;
using Quantixkvm.Domain.Vms;

namespace Quantixkvm.ControlPlane.Configuration;

/// <summary>The control plane's settings (section "ControlPlane"); every one has a working default.</summary>
public sealed class ControlPlaneOptions
{
    public const string Section = "ControlPlane";

    /// <summary>PostgreSQL schema holding the event store and read models; tests give each fixture its own.</summary>
    public string DatabaseSchema { get; set; } = "quantixkvm";

    /// <summary>Overrides every operation deadline when set (seconds); otherwise <see cref="OperationTimeouts.Default"/>.</summary>
    public double? OperationTimeoutSeconds { get; set; }

    /// <summary>A host whose last heartbeat is older than this is shown UNREACHABLE and gets no new VMs.</summary>
    public double HeartbeatTimeoutSeconds { get; set; } = 15;

    /// <summary>How often the deadline watcher looks for operations past their deadline.</summary>
    public double DeadlineScanSeconds { get; set; } = 1;

    /// <summary>
    /// When false, commands are recorded but not sent to agents until the control plane runs with it on
    /// again; dispatch then resumes from its checkpoint. An operator's brake, and the crash test's lever.
    /// </summary>
    public bool DispatchEnabled { get; set; } = true;

    /// <summary>How often the fleet's background work runs: liveness, HA, maintenance and DRS.</summary>
    public FleetOptions Fleet { get; set; } = new();

    /// <summary>How networks reach the hosts (section "ControlPlane:Networking").</summary>
    public NetworkingOptions Networking { get; set; } = new();

    public OperationTimeouts Timeouts => OperationTimeoutSeconds is { } seconds
        ? OperationTimeouts.All(TimeSpan.FromSeconds(seconds))
        : OperationTimeouts.Default;

    public StorageTimeouts StorageTimeouts => OperationTimeoutSeconds is { } seconds
        ? new StorageTimeouts(TimeSpan.FromSeconds(seconds), TimeSpan.FromSeconds(seconds))
        : StorageTimeouts.Default;
}

/// <summary>The fleet's background work (section "ControlPlane:Fleet").</summary>
public sealed class FleetOptions
{
    /// <summary>How often heartbeats are checked against each cluster's detection time.</summary>
    public double LivenessScanSeconds { get; set; } = 1;

    /// <summary>How often HA looks for hosts to fence and VMs to restart.</summary>
    public double HaScanSeconds { get; set; } = 1;

    /// <summary>After every fencer failed, how long before the next round.</summary>
    public double FenceRetrySeconds { get; set; } = 10;

    public double MaintenanceScanSeconds { get; set; } = 2;

    /// <summary>At most this many VMs leave one host at a time during maintenance (vSphere allows 4-8 vMotions per host).</summary>
    public int MaxMigrationsPerHost { get; set; } = 4;

    /// <summary>How often DRS evaluates each cluster whose DRS mode is not OFF.</summary>
    public double DrsIntervalSeconds { get; set; } = 300;

    /// <summary>A DRS move must lower the imbalance by at least this much to be proposed.</summary>
    public double DrsMinImprovement { get; set; } = 0.01;

    public int DrsMaxMovesPerEvaluation { get; set; } = 5;
}

/// <summary>Network realization (ADR 13): how often desired state is compared and sent.</summary>
public sealed class NetworkingOptions
{
    /// <summary>How often each host's desired network state is built and, when it changed, sent.</summary>
    public double ReconcileSeconds { get; set; } = 2;

    /// <summary>Unchanged desired state is sent again this often, so a host that lost it (a restart) converges.</summary>
    public double ResendSeconds { get; set; } = 30;

    /// <summary>A host that reported a network it could not realize is sent its state again this often: the retry.</summary>
    public double RetrySeconds { get; set; } = 10;

    /// <summary>How often ports no VM holds are looked for and released.</summary>
    public double PortJanitorSeconds { get; set; } = 5;

    /// <summary>A port this young is never released: its VM may not have taken it yet.</summary>
    public double PortGraceSeconds { get; set; } = 30;
}
