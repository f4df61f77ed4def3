using MassTransit;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Quantixkvm.Hosting;
using Quantixkvm.Testing;

namespace Quantixkvm.Agent.Tests.Support;

/// <summary>
/// A MassTransit bus on the real RabbitMQ (a vhost of one test class), with an "observer" endpoint
/// that records the message types it is given into a <see cref="MessageLog"/>, in order.
/// </summary>
public static class TestBus
{
    public const string ObserverQueue = "test.observer";

    public static RabbitMqOptions Options(string vhost) => new()
    {
        Host = TestServices.RabbitHost,
        Port = ushort.Parse(TestServices.RabbitPort, System.Globalization.CultureInfo.InvariantCulture),
        Username = TestServices.RabbitUser,
        Password = TestServices.RabbitPassword,
        VirtualHost = vhost,
    };

    /// <summary>Builds a host whose bus has started (endpoints bound) by the time StartAsync returns.</summary>
    public static IHost Build(
        string vhost,
        MessageLog log,
        Type[] observed,
        Action<IServiceCollection>? services = null,
        Action<IBusRegistrationConfigurator>? registrations = null,
        Action<IBusRegistrationContext, IRabbitMqBusFactoryConfigurator>? endpoints = null)
    {
        var builder = new HostApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true, EnvironmentName = "Test" });
        builder.Logging.ClearProviders();
        builder.Logging.AddSimpleConsole().SetMinimumLevel(LogLevel.Error);
        builder.Services.AddSingleton(log);
        builder.Services.Configure<MassTransitHostOptions>(o =>
        {
            o.WaitUntilStarted = true;
            o.StartTimeout = TimeSpan.FromSeconds(60);
            o.StopTimeout = TimeSpan.FromSeconds(30);
        });
        services?.Invoke(builder.Services);
        var recorders = observed.Select(t => typeof(Recorder<>).MakeGenericType(t)).ToArray();
        builder.Services.AddMassTransit(bus =>
        {
            foreach (var recorder in recorders)
            {
                bus.AddConsumer(recorder);
            }

            registrations?.Invoke(bus);
            bus.UsingRabbitMq((context, rabbitmq) =>
            {
                rabbitmq.UseQuantixkvmBroker(Options(vhost));
                endpoints?.Invoke(context, rabbitmq);
                rabbitmq.ReceiveEndpoint(ObserverQueue, e =>
                {
                    // One at a time, in queue order: the log's order is the order the broker got them in.
                    e.ConcurrentMessageLimit = 1;
                    e.PrefetchCount = 64;
                    foreach (var recorder in recorders)
                    {
                        e.ConfigureConsumer(context, recorder);
                    }
                });
            });
        });
        return builder.Build();
    }
}
