using GraphQL;
using MassTransit;
using Quantixkvm.ControlPlane.Agents;
using Quantixkvm.ControlPlane.Api.GraphQL;
using Quantixkvm.ControlPlane.Api.Health;
using Quantixkvm.ControlPlane.Commands;
using Quantixkvm.ControlPlane.Configuration;
using Quantixkvm.ControlPlane.Dispatch;
using Quantixkvm.ControlPlane.EventStore;
using Quantixkvm.ControlPlane.Fleet;
using Quantixkvm.ControlPlane.Ha;
using Quantixkvm.ControlPlane.Ha.Fencing;
using Quantixkvm.ControlPlane.Networks;
using Quantixkvm.ControlPlane.ReadModels;
using Quantixkvm.Contracts;
using Quantixkvm.GraphQLTransport;
using Quantixkvm.Hosting;

var builder = WebApplication.CreateBuilder(args);
builder.UseQuantixkvmLogging("controlplane");

var section = builder.Configuration.GetSection(ControlPlaneOptions.Section);
builder.Services.Configure<ControlPlaneOptions>(section);
var options = section.Get<ControlPlaneOptions>() ?? new ControlPlaneOptions();
var postgres = builder.Configuration.GetConnectionString("Postgres")
    ?? "Host=127.0.0.1;Port=15433;Database=quantixkvm;Username=quantixkvm;Password=quantixkvm";
var rabbit = builder.Configuration.RabbitMqOptions();

builder.Services.AddSingleton(TimeProvider.System);
builder.Services.AddQuantixkvmEventStore(postgres, options);
builder.Services.AddSingleton<ChangeHub>();
builder.Services.AddScoped<AggregateCommands>();
builder.Services.AddScoped<VmCommands>();
builder.Services.AddScoped<StorageCommands>();
builder.Services.AddScoped<NetworkCommands>();
builder.Services.AddScoped<NicCommands>();
builder.Services.AddScoped<VmProvisioning>();
builder.Services.AddScoped<HostDirectory>();
builder.Services.AddHostedService<OperationDeadlineWatcher>();
builder.Services.AddScoped<FleetCommands>();
builder.Services.AddScoped<VmMoves>();
builder.Services.AddScoped<DrsRecommendations>();
builder.Services.AddSingleton(rabbit);
builder.Services.AddConsumerWatchdog(AgentQueues.ControlPlaneOutcomes, AgentQueues.ControlPlaneHosts, AgentQueues.ControlPlaneHeartbeats);
builder.Services.AddSingleton<HostQueues>();
builder.Services.AddHostFencing(builder.Configuration);
// Singletons as well as hosted services: the API runs a DRS evaluation on demand, and tests drive rounds directly.
builder.Services.AddSingleton<LivenessWatcher>();
builder.Services.AddHostedService(sp => sp.GetRequiredService<LivenessWatcher>());
builder.Services.AddSingleton<HaCoordinator>();
builder.Services.AddHostedService(sp => sp.GetRequiredService<HaCoordinator>());
builder.Services.AddSingleton<MaintenanceCoordinator>();
builder.Services.AddHostedService(sp => sp.GetRequiredService<MaintenanceCoordinator>());
builder.Services.AddSingleton<NetworkReconciler>();
builder.Services.AddHostedService(sp => sp.GetRequiredService<NetworkReconciler>());
builder.Services.AddSingleton<PortJanitor>();
builder.Services.AddHostedService(sp => sp.GetRequiredService<PortJanitor>());
builder.Services.AddSingleton<DrsEvaluator>();
builder.Services.AddHostedService(sp => sp.GetRequiredService<DrsEvaluator>());

builder.Services.AddMassTransit(bus =>
{
    bus.AddConsumer<OperationOutcomeConsumer>();
    bus.AddConsumer<StorageOutcomeConsumer>();
    bus.AddConsumer<HostReportConsumer>();
    bus.AddConsumer<HeartbeatConsumer>();
    bus.AddConsumer<MigrationProgressConsumer>();
    bus.AddConsumer<HostFencedBySelfConsumer>();
    bus.AddConsumer<NetworkRealizationConsumer>();
    bus.UsingRabbitMq((context, rabbitmq) =>
    {
        rabbitmq.UseQuantixkvmBroker(rabbit);
        rabbitmq.ReceiveEndpoint(AgentQueues.ControlPlaneOutcomes, e =>
        {
            e.UseMessageRetry(r => r.Intervals(100, 500, 2000, 5000));
            // Reports on one VM are decided in the order they arrived ("started" before "finished");
            // reports on different VMs still run in parallel.
            var byVm = e.CreatePartitioner(16);
            e.ConfigureConsumer<OperationOutcomeConsumer>(context, consumer =>
            {
                consumer.Message<DomainOperationStarted>(m => m.UsePartitioner(byVm, x => x.Message.VmId));
                consumer.Message<DomainOperationFinished>(m => m.UsePartitioner(byVm, x => x.Message.VmId));
            });
            e.ConfigureConsumer<StorageOutcomeConsumer>(context, consumer =>
            {
                consumer.Message<StorageOperationStarted>(m => m.UsePartitioner(byVm, x => x.Message.TargetId));
                consumer.Message<StorageOperationFinished>(m => m.UsePartitioner(byVm, x => x.Message.TargetId));
            });
        });
        rabbitmq.ReceiveEndpoint(AgentQueues.ControlPlaneHosts, e =>
        {
            e.UseMessageRetry(r => r.Intervals(100, 500, 2000, 5000));
            e.ConfigureConsumer<HostReportConsumer>(context);
            e.ConfigureConsumer<NetworkRealizationConsumer>(context);
        });
        rabbitmq.ReceiveEndpoint(AgentQueues.ControlPlaneHeartbeats, e =>
        {
            e.PrefetchCount = 2 * HeartbeatConsumer.MaxBatch;
            e.ConfigureConsumer<HeartbeatConsumer>(context, HeartbeatConsumer.Configure);
            // Progress is telemetry too: many, small, and never in the way of outcomes.
            e.ConfigureConsumer<MigrationProgressConsumer>(context);
        });
        // The fencing waiters are in memory: every control plane process gets its own copy of each reply
        // (an auto-delete queue), never a competing-consumer share of it.
        rabbitmq.ReceiveEndpoint(new TemporaryEndpointDefinition("qkvm-controlplane-fencing"), DefaultEndpointNameFormatter.Instance,
            e => e.ConfigureConsumer<HostFencedBySelfConsumer>(context));
    });
});

builder.Services.AddGraphQL(graphql => graphql
    .AddSchema<QuantixkvmSchema>()
    // Relaxed escaping: responses are JSON documents, never embedded in HTML, so "+" and "'" stay readable.
    .AddSystemTextJson(json => json.Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping)
    .AddErrorInfoProvider<ApiErrorInfoProvider>()
    // Bounds the work one document can ask for (nested lists fan out into reads). Introspection reads only the
    // in-memory schema, so it is not counted: explorers' deep introspection queries must keep working.
    .AddComplexityAnalyzer(complexity =>
    {
        complexity.MaxDepth = 15;
        complexity.MaxComplexity = 10_000;
        var standard = complexity.DefaultComplexityImpactDelegate;
        complexity.DefaultComplexityImpactDelegate = field =>
            field.FieldDefinition.Name.StartsWith("__", StringComparison.Ordinal) || field.ParentType.Name.StartsWith("__", StringComparison.Ordinal)
                ? new GraphQL.Validation.Complexity.FieldComplexityResult(0, 0)
                : standard(field);
    })
    .AddGraphTypes(typeof(QuantixkvmSchema).Assembly));
builder.Services.AddGraphQLTransport(transport => transport.UserContextFactory = RequestContext.For);
builder.Services.AddQuantixkvmHealth();

var app = builder.Build();

// Every log line of a request carries its correlation id, which its commands and events carry on.
app.Use(async (http, next) =>
{
    var correlation = RequestContext.CorrelationOf(http);
    using (Serilog.Context.LogContext.PushProperty(Logging.CorrelationId, correlation))
    {
        await next(http);
    }
});
app.UseWebSockets();
app.MapGraphQL("/graphql");
app.MapGraphiQL("/graphiql", "/graphql");
app.MapGet("/", () => Results.Redirect("/graphiql"));
app.MapQuantixkvmHealth();

app.Run();

/// <summary>Entry point, visible to the integration tests' host factory.</summary>
public partial class Program;
