using System.Collections.Concurrent;
using System.Threading.Channels;
using MassTransit;
using Quantixkvm.Contracts;
using Quantixkvm.Hosting;
using Quantixkvm.Testing;

namespace Quantixkvm.ControlPlane.Tests.Support;

/// <summary>
/// The test plays a host's node agent over the real broker: registers, sends heartbeats, reads its
/// own host queue and reports outcomes, exactly with the contract messages the real agent uses.
/// </summary>
public sealed class FakeAgent : IAsyncDisposable
{
    private readonly IBusControl _bus;
    private readonly Channel<RunDomainOperation> _inbox = Channel.CreateUnbounded<RunDomainOperation>();
    private readonly ConcurrentQueue<RunDomainOperation> _received = new();
    private CancellationTokenSource? _heartbeats;
    private Task? _heartbeatLoop;

    private FakeAgent(Guid hostId, string name, string virtualHost)
    {
        HostId = hostId;
        Name = name;
        _bus = MassTransit.Bus.Factory.CreateUsingRabbitMq(rabbitmq =>
        {
            rabbitmq.UseQuantixkvmBroker(BrokerOptions(virtualHost));
            rabbitmq.ReceiveEndpoint(AgentQueues.ForHost(hostId), e =>
            {
                // As the real agent: only the control plane sends here, by queue name.
                e.ConfigureConsumeTopology = false;
                e.Handler<RunDomainOperation>(async context =>
                {
                    _received.Enqueue(context.Message);
                    await _inbox.Writer.WriteAsync(context.Message);
                });
            });
        });
    }

    public Guid HostId { get; }

    public string Name { get; }

    /// <summary>Every operation message the host queue has delivered so far, duplicates included.</summary>
    public IReadOnlyList<RunDomainOperation> Received => [.. _received];

    public IBus Bus => _bus;

    public static RabbitMqOptions BrokerOptions(string virtualHost) => new()
    {
        Host = TestServices.RabbitHost,
        Port = ushort.Parse(TestServices.RabbitPort, System.Globalization.CultureInfo.InvariantCulture),
        Username = TestServices.RabbitUser,
        Password = TestServices.RabbitPassword,
        VirtualHost = virtualHost,
    };

    /// <summary>Connects to the vhost and starts reading the host queue (nothing is published yet).</summary>
    public static async Task<FakeAgent> ConnectAsync(string virtualHost, string? name = null, Guid? hostId = null)
    {
        var agent = new FakeAgent(hostId ?? Guid.NewGuid(), name ?? TestServices.UniqueName("host"), virtualHost);
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        await agent._bus.StartAsync(cts.Token);
        return agent;
    }

    /// <summary>Registers, starts heartbeats, and waits until the control plane shows the host ONLINE.</summary>
    public static async Task<FakeAgent> StartOnlineAsync(ControlPlaneApp app, int cpus = 64, long memoryMiB = 1024 * 1024)
    {
        var agent = await ConnectAsync(app.VirtualHost);
        await agent.RegisterAsync(cpus, memoryMiB);
        agent.StartHeartbeats(TimeSpan.FromMilliseconds(250));
        await agent.WaitUntilAsync(app, "ONLINE");
        return agent;
    }

    public async Task<Guid> RegisterAsync(int cpus = 64, long memoryMiB = 1024 * 1024)
    {
        var messageId = NewId.NextGuid();
        await _bus.Publish(
            new HostRegistration(HostId, Name, cpus, memoryMiB, "test-cpu", "test:///default", "test-agent", DateTimeOffset.UtcNow),
            c => c.MessageId = messageId);
        return messageId;
    }

    public async Task<Guid> HeartbeatAsync()
    {
        var messageId = NewId.NextGuid();
        await _bus.Publish(new HostHeartbeat(HostId, Name, 0, DateTimeOffset.UtcNow), c => c.MessageId = messageId);
        return messageId;
    }

    public void StartHeartbeats(TimeSpan interval)
    {
        _heartbeats = new CancellationTokenSource();
        var token = _heartbeats.Token;
        _heartbeatLoop = Task.Run(async () =>
        {
            while (!token.IsCancellationRequested)
            {
                try
                {
                    await HeartbeatAsync();
                    await Task.Delay(interval, token);
                }
                catch (OperationCanceledException)
                {
                    return;
                }
            }
        });
    }

    public async Task StopHeartbeatsAsync()
    {
        if (_heartbeats is null)
        {
            return;
        }

        await _heartbeats.CancelAsync();
        await _heartbeatLoop!;
        _heartbeats.Dispose();
        _heartbeats = null;
    }

    public Task WaitUntilAsync(ControlPlaneApp app, string state, TimeSpan? timeout = null) =>
        Eventually.WaitAsync(
            async () => (await app.Api().DataAsync("query($id: ID!) { host(id: $id) { state } }", new { id = HostId.ToString() }))["host"],
            host => host?["state"]?.GetValue<string>() == state,
            $"host {Name} to be {state}", timeout);

    /// <summary>The next operation message for this host that matches, skipping others.</summary>
    public async Task<RunDomainOperation> NextOperationAsync(Func<RunDomainOperation, bool>? match = null, TimeSpan? timeout = null)
    {
        var limit = timeout ?? Eventually.DefaultTimeout;
        using var cts = new CancellationTokenSource(limit);
        try
        {
            while (true)
            {
                var message = await _inbox.Reader.ReadAsync(cts.Token);
                if (match is null || match(message))
                {
                    return message;
                }
            }
        }
        catch (OperationCanceledException)
        {
            throw new TimeoutException($"no matching RunDomainOperation on {AgentQueues.ForHost(HostId)} within {limit}; received: "
                + string.Join(", ", Received.Select(r => $"{r.Kind} {r.OperationId}")));
        }
    }

    public Task<RunDomainOperation> NextOperationAsync(Guid operationId, TimeSpan? timeout = null) =>
        NextOperationAsync(m => m.OperationId == operationId, timeout);

    public async Task<Guid> ReportStartedAsync(RunDomainOperation operation)
    {
        var messageId = NewId.NextGuid();
        await _bus.Publish(
            new DomainOperationStarted(operation.OperationId, operation.CommandId, operation.CorrelationId, operation.Domain.VmId, HostId, DateTimeOffset.UtcNow),
            c =>
            {
                c.MessageId = messageId;
                c.CorrelationId = operation.CorrelationId;
            });
        return messageId;
    }

    public async Task<Guid> ReportFinishedAsync(
        RunDomainOperation operation, bool succeeded, DomainPowerState observed, string? errorCode = null, string? errorMessage = null)
    {
        var messageId = NewId.NextGuid();
        await _bus.Publish(
            new DomainOperationFinished(
                operation.OperationId, operation.CommandId, operation.CorrelationId, operation.Domain.VmId, HostId, succeeded, observed,
                errorCode, errorMessage, DateTimeOffset.UtcNow),
            c =>
            {
                c.MessageId = messageId;
                c.CorrelationId = operation.CorrelationId;
            });
        return messageId;
    }

    public async Task<Guid> ReportInventoryAsync(params InventoryDomain[] domains)
    {
        var messageId = NewId.NextGuid();
        await _bus.Publish(new HostInventory(HostId, domains, DateTimeOffset.UtcNow), c => c.MessageId = messageId);
        return messageId;
    }

    public async ValueTask DisposeAsync()
    {
        await StopHeartbeatsAsync();
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        await _bus.StopAsync(cts.Token);
    }
}
