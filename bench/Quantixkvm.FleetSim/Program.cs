using System.Globalization;
using MassTransit;
using Quantixkvm.Agent;
using Quantixkvm.Agent.Reporting;
using Quantixkvm.Contracts;
using Quantixkvm.FleetSim;
using Quantixkvm.Hosting;

// K simulated hosts in one process, each a real agent (src/Quantixkvm.Agent's services, consumers and HostReporter) with
// its own AgentOptions, its own queue and its own libvirt test-driver connection to a generated node XML. Started by the
// `scale` bench (bench/Quantixkvm.Bench/ScaleScenario.cs); RabbitMQ settings come from the environment as for the agent.
//   Quantixkvm.FleetSim --hosts K --dir DIR [--name-prefix sim] [--heartbeat-seconds 10] [--inventory-seconds 60] [--hosts-per-connection 1000]
// Prints "ready K" once every host's reporter runs; then reads commands from stdin: "silence NAME" stops that host's
// reporter (a host death as the control plane sees it), "stop" (or end of input) ends the process.
var options = FleetOptions.Parse(args);
var builder = Host.CreateApplicationBuilder([]);
builder.Logging.SetMinimumLevel(LogLevel.Warning);
using var app = builder.Build();
var loggers = app.Services.GetRequiredService<ILoggerFactory>();
var rabbit = builder.Configuration.RabbitMqOptions();

Directory.CreateDirectory(options.Folder);
var hosts = new List<SimulatedHost>(options.Hosts);
for (var i = 0; i < options.Hosts; i++)
{
    hosts.Add(SimulatedHost.Create(i, options, loggers));
}

// One bus (one AMQP connection) per shard of hosts: RabbitMQ allows 2,047 channels per connection by default, and every
// receive endpoint holds one.
var buses = new List<IBusControl>();
foreach (var shard in hosts.Chunk(options.HostsPerConnection))
{
    var bus = Bus.Factory.CreateUsingRabbitMq(rabbitmq =>
    {
        rabbitmq.UseQuantixkvmBroker(rabbit);
        foreach (var host in shard)
        {
            rabbitmq.ReceiveEndpoint(AgentQueues.ForHost(host.Options.HostId), e => e.ConfigureHostQueue(host.Services));
        }
    });
    foreach (var host in shard)
    {
        host.Bus = bus;
    }

    await bus.StartAsync(TimeSpan.FromMinutes(10));
    buses.Add(bus);
    Console.WriteLine($"bus {buses.Count} started ({shard.Length} hosts)");
}

// Spread the hosts' first reports over one heartbeat interval, as a fleet that did not boot in the same millisecond does:
// their heartbeats then arrive evenly instead of in one burst per interval.
var spread = TimeSpan.FromSeconds(options.HeartbeatSeconds) / Math.Max(1, hosts.Count);
var started = DateTime.UtcNow;
for (var i = 0; i < hosts.Count; i++)
{
    await hosts[i].Reporter.StartAsync(CancellationToken.None);
    var due = started + spread * (i + 1);
    if (due - DateTime.UtcNow is { TotalMilliseconds: > 1 } wait)
    {
        await Task.Delay(wait);
    }
}

Console.WriteLine($"ready {hosts.Count}");
var byName = hosts.ToDictionary(h => h.Options.HostName);
while (Console.ReadLine() is { } line && line != "stop")
{
    if (line.StartsWith("silence ", StringComparison.Ordinal) && byName.TryGetValue(line[8..].Trim(), out var host))
    {
        await host.Reporter.StopAsync(CancellationToken.None);
        Console.WriteLine($"silenced {host.Options.HostName}");
    }
}

foreach (var host in hosts)
{
    await host.Reporter.StopAsync(CancellationToken.None);
}

foreach (var bus in buses)
{
    await bus.StopAsync(TimeSpan.FromSeconds(30));
}

foreach (var host in hosts)
{
    await host.Services.DisposeAsync();
}

namespace Quantixkvm.FleetSim
{
    public sealed record FleetOptions(int Hosts, string Folder, string NamePrefix, double HeartbeatSeconds, double InventorySeconds, int HostsPerConnection)
    {
        public static FleetOptions Parse(string[] args)
        {
            string? Value(string name) => Array.IndexOf(args, name) is var i and >= 0 && i + 1 < args.Length ? args[i + 1] : null;
            double Number(string name, double fallback) => Value(name) is { } v ? double.Parse(v, CultureInfo.InvariantCulture) : fallback;
            return new FleetOptions(
                (int)Number("--hosts", 10),
                Path.GetFullPath(Value("--dir") ?? Path.Combine(Path.GetTempPath(), "qkvm-fleet")),
                Value("--name-prefix") ?? "sim",
                Number("--heartbeat-seconds", 10),
                Number("--inventory-seconds", 60),
                (int)Number("--hosts-per-connection", 1000));
        }
    }

    /// <summary>One simulated host: a real agent's services in a provider of their own, on a test-driver node of its own.</summary>
    public sealed class SimulatedHost
    {
        private SimulatedHost(AgentOptions options, ServiceProvider services)
        {
            Options = options;
            Services = services;
        }

        public AgentOptions Options { get; }

        public ServiceProvider Services { get; }

        /// <summary>The shared bus this host publishes through; set before its reporter starts.</summary>
        public IBus? Bus { get; set; }

        public HostReporter Reporter => Services.GetRequiredService<HostReporter>();

        public static SimulatedHost Create(int index, FleetOptions fleet, ILoggerFactory loggers)
        {
            var node = Path.Combine(fleet.Folder, $"host-{index}.xml");
            File.WriteAllText(node, NodeXml(index));
            var options = new AgentOptions
            {
                HostName = $"{fleet.NamePrefix}-{index:D5}",
                LibvirtUri = $"test://{node}",
                HeartbeatSeconds = fleet.HeartbeatSeconds,
                InventorySeconds = fleet.InventorySeconds,
                SeedDirectory = Path.Combine(fleet.Folder, "seeds"),
                WorkDirectory = Path.Combine(fleet.Folder, "work"),
                ConsoleLogDirectory = Path.Combine(fleet.Folder, "console"),
                // Thousands of simulated hosts share this machine's kernel: none may touch its bridges.
                Network = new NetworkOptions { Enabled = false },
            };
            SimulatedHost? host = null;
            var services = new ServiceCollection()
                .AddSingleton(loggers)
                .AddSingleton(typeof(ILogger<>), typeof(Logger<>))
                .AddSingleton(Microsoft.Extensions.Options.Options.Create(options))
                .AddSingleton(_ => host!.Bus ?? throw new InvalidOperationException("the host's bus has not been set"))
                .AddAgentHost()
                .BuildServiceProvider();
            host = new SimulatedHost(options, services);
            return host;
        }

        /// <summary>
        /// libvirt's test-driver node format: capacities vary by host (16 to 64 CPUs, 64 to 512 GiB) so placement has a
        /// real choice to make; no domains yet: the control plane's creates define them.
        /// </summary>
        public static string NodeXml(int index)
        {
            var sockets = 1 + index % 4;
            var memoryKiB = 64L * 1024 * 1024 * (1 + index % 8);
            return $"""
                <node>
                  <cpu>
                    <mhz>2400</mhz>
                    <model>x86_64</model>
                    <active>{sockets * 16}</active>
                    <nodes>1</nodes>
                    <sockets>{sockets}</sockets>
                    <cores>8</cores>
                    <threads>2</threads>
                  </cpu>
                  <memory>{memoryKiB}</memory>
                </node>
                """;
        }
    }
}
