using MassTransit;
using Quantixkvm.Agent;
using Quantixkvm.Agent.Fencing;
using Quantixkvm.Agent.Reporting;
using Quantixkvm.Contracts;
using Quantixkvm.Hosting;

var builder = Host.CreateApplicationBuilder(args);
builder.UseQuantixkvmLogging("agent");

var section = builder.Configuration.GetSection(AgentOptions.Section);
builder.Services.Configure<AgentOptions>(section);
var options = section.Get<AgentOptions>() ?? new AgentOptions();
var rabbit = builder.Configuration.RabbitMqOptions();

// The host's services and its queue's consumers: the same composition the fleet simulator runs thousands of.
builder.Services.AddAgentHost();
builder.Services.AddMassTransit(bus => bus.UsingRabbitMq((context, rabbitmq) =>
{
    rabbitmq.UseQuantixkvmBroker(rabbit);
    rabbitmq.ReceiveEndpoint(AgentQueues.ForHost(options.HostId), e => e.ConfigureHostQueue(context));
}));
builder.Services.AddHostedService(services => services.GetRequiredService<HostReporter>());
builder.Services.AddSingleton(rabbit);
builder.Services.AddConsumerWatchdog(AgentQueues.ForHost(options.HostId));
if (!string.IsNullOrWhiteSpace(options.LeaseDirectory))
{
    // Storage-lease fencing: only with a lease folder every host and the control plane share (see AgentOptions.LeaseDirectory).
    builder.Services.AddHostedService<LeaseKeeper>();
}

builder.Build().Run();
