using MassTransit;
using Microsoft.Extensions.Logging.Abstractions;
using Quantixkvm.Hosting;
using Quantixkvm.Testing;
using RabbitMQ.Client;

namespace Quantixkvm.Agent.Tests;

/// <summary>
/// A queue the process must consume that has no consumer while the broker answers gets the bus restarted; a broker
/// that does not answer, or a queue not declared yet, does not. Real RabbitMQ, a vhost of the test's own.
/// </summary>
public sealed class ConsumerWatchdogTests : IAsyncLifetime
{
    private readonly string _vhost = TestServices.UniqueName("watchdog");
    private readonly string _queue = TestServices.UniqueName("watched");
    private IBusControl _bus = null!;

    private RabbitMqOptions Broker => new()
    {
        Host = TestServices.RabbitHost, Port = ushort.Parse(TestServices.RabbitPort, System.Globalization.CultureInfo.InvariantCulture),
        VirtualHost = _vhost, Username = TestServices.RabbitUser, Password = TestServices.RabbitPassword,
    };

    public async Task InitializeAsync()
    {
        await TestServices.CreateVirtualHostAsync(_vhost);
        _bus = Bus.Factory.CreateUsingRabbitMq(rabbitmq =>
        {
            rabbitmq.UseQuantixkvmBroker(Broker);
            rabbitmq.ReceiveEndpoint(_queue, e =>
            {
                e.ConfigureConsumeTopology = false;
                e.Handler<Ping>(_ => Task.CompletedTask);
            });
        });
        await _bus.StartAsync();
    }

    public async Task DisposeAsync()
    {
        await _bus.StopAsync();
        await TestServices.DeleteVirtualHostAsync(_vhost);
    }

    [Fact]
    public async Task a_queue_left_without_its_consumer_gets_the_bus_restarted_and_consumed_again()
    {
        (await ConsumersAsync()).ShouldBe(1u);
        // The consumer is gone while the broker answers: what a lost receive endpoint looks like from outside.
        await _bus.StopAsync();
        (await ConsumersAsync()).ShouldBe(0u);

        await Watchdog(Broker, _queue).CheckAsync(CancellationToken.None);

        (await ConsumersAsync()).ShouldBe(1u);
    }

    [Fact]
    public async Task a_queue_with_its_consumer_is_left_alone()
    {
        var stopped = false;
        _bus.ConnectReceiveEndpointObserver(new StopSpy(() => stopped = true));

        await Watchdog(Broker, _queue).CheckAsync(CancellationToken.None);

        stopped.ShouldBeFalse();
        (await ConsumersAsync()).ShouldBe(1u);
    }

    [Fact]
    public async Task a_queue_the_broker_does_not_have_yet_is_no_reason_to_restart()
    {
        var stopped = false;
        _bus.ConnectReceiveEndpointObserver(new StopSpy(() => stopped = true));

        await Watchdog(Broker, TestServices.UniqueName("undeclared")).CheckAsync(CancellationToken.None);

        stopped.ShouldBeFalse();
    }

    [Fact]
    public async Task a_broker_that_does_not_answer_is_reported_and_nothing_is_restarted()
    {
        var unreachable = Broker;
        unreachable.Port = 1;

        await Should.ThrowAsync<Exception>(() => Watchdog(unreachable, _queue).CheckAsync(CancellationToken.None));

        (await ConsumersAsync()).ShouldBe(1u);
    }

    private ConsumerWatchdog Watchdog(RabbitMqOptions broker, string queue) =>
        new(_bus, broker, new ConsumerWatchdogSettings([queue]) { Patience = TimeSpan.Zero }, TimeProvider.System, NullLogger<ConsumerWatchdog>.Instance);

    private async Task<uint> ConsumersAsync()
    {
        await using var connection = await Broker.ConnectionFactory("test").CreateConnectionAsync();
        await using var channel = await connection.CreateChannelAsync();
        return (await channel.QueueDeclarePassiveAsync(_queue)).ConsumerCount;
    }

    public sealed record Ping;

    /// <summary>Notices a receive endpoint being stopped (a restart stops it first).</summary>
    private sealed class StopSpy(Action stopped) : IReceiveEndpointObserver
    {
        public Task Ready(ReceiveEndpointReady ready) => Task.CompletedTask;

        public Task Stopping(ReceiveEndpointStopping stopping)
        {
            stopped();
            return Task.CompletedTask;
        }

        public Task Completed(ReceiveEndpointCompleted completed) => Task.CompletedTask;

        public Task Faulted(ReceiveEndpointFaulted faulted) => Task.CompletedTask;
    }
}
