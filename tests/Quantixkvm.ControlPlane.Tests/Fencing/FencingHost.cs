using MassTransit;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Quantixkvm.ControlPlane.Ha.Fencing;
using Quantixkvm.ControlPlane.Tests.Support;
using Quantixkvm.Domain.Hosts;
using Quantixkvm.Hosting;

namespace Quantixkvm.ControlPlane.Tests.Fencing;

/// <summary>
/// The fencing services as the control plane wires them (AddHostFencing, the reply consumer on a temporary endpoint),
/// in a small host of their own: on a test's RabbitMQ vhost, or on an in-memory bus when no agent is involved.
/// </summary>
public sealed class FencingHost : IAsyncDisposable
{
    private readonly IHost _host;

    private FencingHost(IHost host) => _host = host;

    public HostFencers Fencers => _host.Services.GetRequiredService<HostFencers>();

    public AgentFenceReplies Replies => _host.Services.GetRequiredService<AgentFenceReplies>();

    public IHostFencer Fencer(string name) => Fencers.Find(name) ?? throw new InvalidOperationException($"no fencer '{name}' is registered");

    /// <summary>Settings are keys under ControlPlane:Fencing (e.g. "AgentReplySeconds").</summary>
    public static async Task<FencingHost> StartAsync(IReadOnlyDictionary<string, string?> settings, string? virtualHost = null)
    {
        var builder = Host.CreateApplicationBuilder();
        builder.Logging.ClearProviders();
        builder.Configuration.AddInMemoryCollection(settings.ToDictionary(s => $"{FencingOptions.Section}:{s.Key}", s => s.Value));
        builder.Services.AddHostFencing(builder.Configuration);
        builder.Services.AddOptions<MassTransitHostOptions>().Configure(o => o.WaitUntilStarted = true);
        builder.Services.AddMassTransit(bus =>
        {
            bus.AddConsumer<HostFencedBySelfConsumer>();
            if (virtualHost is null)
            {
                bus.UsingInMemory();
                return;
            }

            bus.UsingRabbitMq((context, rabbitmq) =>
            {
                rabbitmq.UseQuantixkvmBroker(FakeAgent.BrokerOptions(virtualHost));
                // As recommended for Program.cs: each control plane process gets its own copy of every reply.
                rabbitmq.ReceiveEndpoint(new TemporaryEndpointDefinition("qkvm-controlplane-fencing"), DefaultEndpointNameFormatter.Instance,
                    e => e.ConfigureConsumer<HostFencedBySelfConsumer>(context));
            });
        });
        var host = builder.Build();
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        await host.StartAsync(cts.Token);
        return new FencingHost(host);
    }

    public static FenceTarget Target(HostFencing config, Guid? hostId = null) =>
        new(hostId ?? Guid.NewGuid(), $"node-{Guid.NewGuid():N}"[..11], Guid.NewGuid(), config);

    public async ValueTask DisposeAsync()
    {
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        await _host.StopAsync(cts.Token);
        _host.Dispose();
    }
}

/// <summary>A folder of the test's own (secrets, leases, a fake tool), deleted afterwards.</summary>
public sealed class TempFolder : IDisposable
{
    public string Path { get; } = Directory.CreateTempSubdirectory("qkvm-fencing-").FullName;

    public string Write(string name, string content)
    {
        var file = System.IO.Path.Combine(Path, name);
        File.WriteAllText(file, content);
        return file;
    }

    public void Dispose()
    {
        try
        {
            Directory.Delete(Path, recursive: true);
        }
        catch (IOException)
        {
            // Best effort: a temp folder left behind harms nothing.
        }
    }
}
