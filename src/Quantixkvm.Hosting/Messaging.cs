using System.Text.Json.Serialization;
using MassTransit;
using Microsoft.Extensions.Configuration;

namespace Quantixkvm.Hosting;

public static class Messaging
{
    /// <summary>Reads the "RabbitMq" section, with infra/dev's defaults for anything unset.</summary>
    public static RabbitMqOptions RabbitMqOptions(this IConfiguration configuration) =>
        configuration.GetSection(Hosting.RabbitMqOptions.Section).Get<RabbitMqOptions>() ?? new RabbitMqOptions();

    /// <summary>One way for both processes to connect: same broker settings, enums as names on the wire.</summary>
    public static void UseQuantixkvmBroker(this IRabbitMqBusFactoryConfigurator bus, RabbitMqOptions options)
    {
        bus.Host(options.Host, options.Port, options.VirtualHost, h =>
        {
            h.Username(options.Username);
            h.Password(options.Password);
        });
        bus.ConfigureJsonSerializerOptions(json =>
        {
            json.Converters.Add(new JsonStringEnumConverter());
            return json;
        });
    }
}
