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

    public OperationTimeouts Timeouts => OperationTimeoutSeconds is { } seconds
        ? OperationTimeouts.All(TimeSpan.FromSeconds(seconds))
        : OperationTimeouts.Default;

    public StorageTimeouts StorageTimeouts => OperationTimeoutSeconds is { } seconds
        ? new StorageTimeouts(TimeSpan.FromSeconds(seconds), TimeSpan.FromSeconds(seconds))
        : StorageTimeouts.Default;
}
