using MassTransit;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;
using Quantixkvm.Agent.Consumers;
using Quantixkvm.Agent.Hypervisor;
using Quantixkvm.Agent.Networking;
using Quantixkvm.Agent.Reporting;
using Quantixkvm.Agent.Storage;
using Quantixkvm.Network.Linux;

namespace Quantixkvm.Agent;

/// <summary>
/// What one host's agent is made of, apart from the process around it: its services (one libvirt connection and
/// everything acting on it, all per host) and its queue's consumers. Program.cs composes one real agent from it; the
/// fleet simulator (bench/Quantixkvm.FleetSim) composes thousands in one process, one service provider per host.
/// </summary>
public static class AgentComposition
{
    /// <summary>
    /// The host's services and consumers, read from <see cref="IOptions{AgentOptions}"/> (the caller provides it),
    /// plus its <see cref="HostReporter"/> as a plain singleton (the caller runs it, e.g. as a hosted service).
    /// </summary>
    public static IServiceCollection AddAgentHost(this IServiceCollection services)
    {
        services.TryAddSingleton(TimeProvider.System);
        // One connection, reopened only if it dies: libvirt connections are thread-safe, and the test driver keeps its state per open connection.
        services.AddSingleton(provider => new HypervisorConnection(
            provider.GetRequiredService<IOptions<AgentOptions>>().Value.LibvirtUri, provider.GetService<ILogger<HypervisorConnection>>()));
        services.AddSingleton<StoragePools>();
        services.AddSingleton<CloudInitSeeds>();
        services.AddSingleton<MigrationJobs>();
        services.AddSingleton<DomainNics>();
        services.AddSingleton<DomainOperations>();
        services.AddSingleton<HostDomains>();
        services.AddSingleton<OutcomeCache<DomainOutcome>>();
        // Imports stream for as long as their operation's deadline allows: no client-wide timeout.
        services.AddSingleton(provider => new VolumeImporter(
            provider.GetRequiredService<IOptions<AgentOptions>>(),
            new HttpClient(new SocketsHttpHandler { ConnectTimeout = TimeSpan.FromSeconds(30), PooledConnectionLifetime = TimeSpan.FromMinutes(5) })
            {
                Timeout = Timeout.InfiniteTimeSpan,
            }));
        services.AddSingleton<RbdTool>();
        services.AddSingleton<StorageOperations>();
        services.AddSingleton<OutcomeCache<StorageOutcome>>();
        services.AddSingleton<HostReporter>();
        services.AddSingleton(provider => new IpLink(provider.GetRequiredService<IOptions<AgentOptions>>().Value.Network.IpCommandPrefix));
        services.AddSingleton(provider => new Nftables(provider.GetRequiredService<IOptions<AgentOptions>>().Value.Network.IpCommandPrefix));
        // One per host: it holds the last applied revision and runs one realization at a time.
        services.AddSingleton<NetworkRealizer>();

        // One consumer per message, as MassTransit's own registration makes them; everything they hold is the host's singletons.
        services.AddTransient<RunDomainOperationConsumer>();
        services.AddTransient<RunStorageOperationConsumer>();
        services.AddTransient<CancelDomainOperationConsumer>();
        services.AddTransient<ReleaseDomainsConsumer>();
        services.AddTransient<FenceHostConsumer>();
        services.AddTransient<RealizeNetworksConsumer>();
        return services;
    }

    /// <summary>The host's own queue (<c>AgentQueues.ForHost</c>) with its consumers, built from <paramref name="host"/>'s services.</summary>
    public static void ConfigureHostQueue(this IRabbitMqReceiveEndpointConfigurator endpoint, IServiceProvider host)
    {
        // Only the control plane sends here, by name; no fan-out bindings.
        endpoint.ConfigureConsumeTopology = false;
        // A failed publish of an outcome is retried, never dropped to the error queue: the cache makes a retry act once.
        endpoint.UseMessageRetry(r => r.Intervals(200, 1000, 5000, 15000));
        endpoint.PrefetchCount = 16;
        endpoint.ConcurrentMessageLimit = 8;
        endpoint.Consumer(() => host.GetRequiredService<RunDomainOperationConsumer>());
        endpoint.Consumer(() => host.GetRequiredService<RunStorageOperationConsumer>());
        // A cancel must reach a running migration: it is consumed beside it (ConcurrentMessageLimit above 1).
        endpoint.Consumer(() => host.GetRequiredService<CancelDomainOperationConsumer>());
        endpoint.Consumer(() => host.GetRequiredService<ReleaseDomainsConsumer>());
        endpoint.Consumer(() => host.GetRequiredService<FenceHostConsumer>());
        endpoint.Consumer(() => host.GetRequiredService<RealizeNetworksConsumer>());
    }
}
