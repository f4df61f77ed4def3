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
}
