namespace Quantixkvm.ControlPlane.Ha.Fencing;

/// <summary>The control plane's side of fencing: where secrets and leases are, and how long each fencer waits.</summary>
public sealed class FencingOptions
{
    public const string Section = "ControlPlane:Fencing";

    /// <summary>The folder of secret files; a fencer's <c>PasswordSecret</c> is a file name in it (content trimmed).</summary>
    public string SecretsDirectory { get; set; } = "/etc/quantixkvm/secrets";

    /// <summary>The shared lease folder the agents renew their leases in; null: the storage-lease fencer can prove nothing.</summary>
    public string? LeaseDirectory { get; set; }

    /// <summary>How long the agent fencer waits for the agent's <c>HostFencedBySelf</c>.</summary>
    public double AgentReplySeconds { get; set; } = 3;

    /// <summary>How long one Redfish request may take.</summary>
    public double RedfishTimeoutSeconds { get; set; } = 20;

    /// <summary>How long Redfish and IPMI wait, after the power-off, for the BMC to report the power off.</summary>
    public double PowerOffConfirmSeconds { get; set; } = 30;

    public string IpmiToolPath { get; set; } = "ipmitool";

    /// <summary>How long one ipmitool run may take (lanplus retries on its own when the BMC is silent).</summary>
    public double IpmiTimeoutSeconds { get; set; } = 20;

    /// <summary>Added to a lease's self-fence time: the agent's VMs need a moment to stop once it gave up renewing.</summary>
    public double LeaseGraceSeconds { get; set; } = 2;

    /// <summary>How often the power state and the lease are read again while waiting.</summary>
    public double PollSeconds { get; set; } = 0.25;

    internal static string? Check(FencingOptions o) =>
        o.AgentReplySeconds <= 0 ? "AgentReplySeconds must be positive"
        : o.RedfishTimeoutSeconds <= 0 ? "RedfishTimeoutSeconds must be positive"
        : o.PowerOffConfirmSeconds < 0 ? "PowerOffConfirmSeconds must not be negative"
        : o.IpmiTimeoutSeconds <= 0 ? "IpmiTimeoutSeconds must be positive"
        : o.LeaseGraceSeconds < 0 ? "LeaseGraceSeconds must not be negative"
        : o.PollSeconds <= 0 ? "PollSeconds must be positive"
        : string.IsNullOrWhiteSpace(o.IpmiToolPath) ? "IpmiToolPath must not be empty"
        : null;
}
