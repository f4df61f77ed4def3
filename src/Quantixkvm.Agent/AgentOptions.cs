using Quantixkvm.Domain.Hosts;

namespace Quantixkvm.Agent;

/// <summary>The node agent's settings (section "Agent").</summary>
public sealed class AgentOptions
{
    public const string Section = "Agent";

    /// <summary>The host's name in the cluster; its id is derived from it, so a restarted agent is the same host.</summary>
    public string HostName { get; set; } = Environment.MachineName;

    /// <summary>libvirt's test driver by default, so the agent runs on any machine; qemu:///system on a real host.</summary>
    public string LibvirtUri { get; set; } = "test:///default";

    public double HeartbeatSeconds { get; set; } = 5;

    public double InventorySeconds { get; set; } = 60;

    /// <summary>How long before an operation's deadline a graceful shutdown is given up, so the failure is reported in time.</summary>
    public double DeadlineMarginSeconds { get; set; } = 1;

    public Guid HostId => HostDecider.HostIdFor(HostName);
}
