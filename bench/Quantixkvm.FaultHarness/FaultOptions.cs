namespace Quantixkvm.FaultHarness;

/// <summary>What one run does: the workload's size, how many faults, and the platform's short timings for the run.</summary>
public sealed record FaultOptions
{
    /// <summary>Acknowledged mutations to reach (the workload runs until it has this many).</summary>
    public int Operations { get; init; } = 1_000;

    public int Faults { get; init; } = 20;

    /// <summary>VM slots (a deleted VM's slot gets a new VM).</summary>
    public int Vms { get; init; } = 30;

    /// <summary>Concurrent GraphQL clients driving the VMs.</summary>
    public int Clients { get; init; } = 4;

    public int Seed { get; init; } = 1;

    /// <summary>Every operation's deadline: short, so a lost outcome turns into TIMED_OUT within the run.</summary>
    public int OperationTimeoutSeconds { get; init; } = 10;

    /// <summary>How often the agent reports its whole inventory (drift becomes events).</summary>
    public int InventorySeconds { get; init; } = 2;

    /// <summary>
    /// How soon after each fault an operation must succeed again (check 6); null: only that one does. Three deadlines
    /// (operations in flight time out; dispatch retries with back-off after a broker outage) plus 30 s for restarts.
    /// </summary>
    public double? RecoveryBoundSeconds { get; init; } = 60;

    /// <summary>Where the control plane's and the agent's whole output is kept (controlplane.log, agent.log); none when null.</summary>
    public string? LogFolder { get; init; }

    /// <summary>How long PostgreSQL or RabbitMQ stays down in their faults.</summary>
    public double OutageSeconds { get; init; } = 3;
}
