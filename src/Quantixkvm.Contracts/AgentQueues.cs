namespace Quantixkvm.Contracts;

/// <summary>RabbitMQ queue names both sides agree on.</summary>
public static class AgentQueues
{
    /// <summary>Each host has its own durable queue, so commands wait for an agent that is down.</summary>
    public static string ForHost(Guid hostId) => $"qkvm.host.{hostId:N}";

    public const string ControlPlaneOutcomes = "qkvm.controlplane.outcomes";

    public const string ControlPlaneHosts = "qkvm.controlplane.hosts";

    /// <summary>Heartbeats are many and disposable: their own queue, so they never delay outcomes.</summary>
    public const string ControlPlaneHeartbeats = "qkvm.controlplane.heartbeats";

    /// <summary>The message types in this assembly, for schema printing.</summary>
    public static IReadOnlyList<Type> MessageTypes { get; } =
    [
        typeof(RunDomainOperation),
        typeof(DomainOperationStarted),
        typeof(DomainOperationFinished),
        typeof(HostRegistration),
        typeof(HostHeartbeat),
        typeof(HostInventory),
        typeof(RunStorageOperation),
        typeof(StorageOperationStarted),
        typeof(StorageOperationFinished),
        typeof(DomainOperationProgress),
        typeof(CancelDomainOperation),
        typeof(ReleaseDomains),
        typeof(FenceHost),
        typeof(HostFencedBySelf),
        typeof(RealizeNetworks),
        typeof(NetworksRealized),
    ];
}
