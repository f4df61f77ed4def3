using RabbitMQ.Client;

namespace Quantixkvm.Hosting;

/// <summary>How to reach RabbitMQ (configuration section "RabbitMq"); the defaults match infra/dev.</summary>
public sealed class RabbitMqOptions
{
    public const string Section = "RabbitMq";

    public string Host { get; set; } = "127.0.0.1";
    public ushort Port { get; set; } = 15673;
    public string VirtualHost { get; set; } = "/";
    public string Username { get; set; } = "quantixkvm";
    public string Password { get; set; } = "quantixkvm";

    /// <summary>A plain RabbitMQ client connection (beside MassTransit's), named so the broker's tools show who it is.</summary>
    public ConnectionFactory ConnectionFactory(string clientName) => new()
    {
        HostName = Host, Port = Port, VirtualHost = VirtualHost, UserName = Username, Password = Password, ClientProvidedName = clientName,
    };
}
