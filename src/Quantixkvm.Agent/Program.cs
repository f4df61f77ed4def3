using MassTransit;
using Microsoft.Extensions.Options;
using Quantixkvm.Agent;
using Quantixkvm.Agent.Consumers;
using Quantixkvm.Agent.Fencing;
using Quantixkvm.Agent.Hypervisor;
using Quantixkvm.Agent.Reporting;
using Quantixkvm.Agent.Storage;
using Quantixkvm.Contracts;
using Quantixkvm.Hosting;

var builder = Host.CreateApplicationBuilder(args);
builder.UseQuantixkvmLogging("agent");

var section = builder.Configuration.GetSection(AgentOptions.Section);
builder.Services.Configure<AgentOptions>(section);
var options = section.Get<AgentOptions>() ?? new AgentOptions();
var rabbit = builder.Configuration.RabbitMqOptions();

builder.Services.AddSingleton(TimeProvider.System);
// One connection, reopened only if it dies: libvirt connections are thread-safe, and the test driver keeps its state per open connection.
builder.Services.AddSingleton(services => new HypervisorConnection(options.LibvirtUri, services.GetService<ILogger<HypervisorConnection>>()));
builder.Services.AddSingleton<StoragePools>();
builder.Services.AddSingleton<CloudInitSeeds>();
builder.Services.AddSingleton<MigrationJobs>();
builder.Services.AddSingleton<DomainOperations>();
builder.Services.AddSingleton<HostDomains>();
builder.Services.AddSingleton<OutcomeCache<DomainOutcome>>();
// Imports stream for as long as their operation's deadline allows: no client-wide timeout.
builder.Services.AddSingleton(services => new VolumeImporter(
    services.GetRequiredService<IOptions<AgentOptions>>(),
    new HttpClient(new SocketsHttpHandler { ConnectTimeout = TimeSpan.FromSeconds(30), PooledConnectionLifetime = TimeSpan.FromMinutes(5) })
    {
        Timeout = Timeout.InfiniteTimeSpan,
    }));
builder.Services.AddSingleton<RbdTool>();
builder.Services.AddSingleton<StorageOperations>();
builder.Services.AddSingleton<OutcomeCache<StorageOutcome>>();

builder.Services.AddMassTransit(bus =>
{
    bus.AddConsumer<RunDomainOperationConsumer>();
    bus.AddConsumer<RunStorageOperationConsumer>();
    bus.AddConsumer<CancelDomainOperationConsumer>();
    bus.AddConsumer<ReleaseDomainsConsumer>();
    bus.AddConsumer<FenceHostConsumer>();
    bus.UsingRabbitMq((context, rabbitmq) =>
    {
        rabbitmq.UseQuantixkvmBroker(rabbit);
        rabbitmq.ReceiveEndpoint(AgentQueues.ForHost(options.HostId), e =>
        {
            // Only the control plane sends here, by name; no fan-out bindings.
            e.ConfigureConsumeTopology = false;
            // A failed publish of an outcome is retried, never dropped to the error queue: the cache makes a retry act once.
            e.UseMessageRetry(r => r.Intervals(200, 1000, 5000, 15000));
            e.PrefetchCount = 16;
            e.ConcurrentMessageLimit = 8;
            e.ConfigureConsumer<RunDomainOperationConsumer>(context);
            e.ConfigureConsumer<RunStorageOperationConsumer>(context);
            // A cancel must reach a running migration: it is consumed beside it (ConcurrentMessageLimit above 1).
            e.ConfigureConsumer<CancelDomainOperationConsumer>(context);
            e.ConfigureConsumer<ReleaseDomainsConsumer>(context);
            e.ConfigureConsumer<FenceHostConsumer>(context);
        });
    });
});
builder.Services.AddHostedService<HostReporter>();
if (!string.IsNullOrWhiteSpace(options.LeaseDirectory))
{
    // Storage-lease fencing: only with a lease folder every host and the control plane share (see AgentOptions.LeaseDirectory).
    builder.Services.AddHostedService<LeaseKeeper>();
}

builder.Build().Run();
