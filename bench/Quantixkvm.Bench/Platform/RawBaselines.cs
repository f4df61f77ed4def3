using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.Json.Serialization;
using Marten;
using Npgsql;
using Quantixkvm.Bench.Reporting;
using Quantixkvm.Contracts;
using Quantixkvm.ControlPlane.EventStore;
using Quantixkvm.Testing;
using RabbitMQ.Client;
using RabbitMQ.Client.Events;

namespace Quantixkvm.Bench.Platform;

/// <summary>What one baseline measured: each sample's latency, and how many completed per second.</summary>
public sealed record BaselineRun(Latencies Latencies, int Concurrency, double PerSecond);

/// <summary>
/// The floors an end-to-end command is compared with, on the same machine and services: a RabbitMQ request/reply
/// round-trip (a command is two such hops: to the agent and back) and a PostgreSQL commit of one event-sized row.
/// </summary>
public static class RawBaselines
{
    /// <summary>
    /// Requesters publish a command-sized message to a durable queue, a responder on a connection of its own (as the agent
    /// is another process) publishes it back to the requester's reply queue; the time until the reply is received.
    /// Durable queues, persistent messages and publisher confirms awaited, as MassTransit sends.
    /// </summary>
    public static async Task<BaselineRun> RabbitMqRoundTripsAsync(int requesters, TimeSpan duration)
    {
        var vhost = TestServices.UniqueName("bench_raw");
        await TestServices.CreateVirtualHostAsync(vhost);
        try
        {
            var factory = new ConnectionFactory
            {
                HostName = TestServices.RabbitHost, Port = int.Parse(TestServices.RabbitPort, CultureInfo.InvariantCulture),
                UserName = TestServices.RabbitUser, Password = TestServices.RabbitPassword, VirtualHost = vhost,
            };
            var confirms = new CreateChannelOptions(publisherConfirmationsEnabled: true, publisherConfirmationTrackingEnabled: true);
            await using var responderConnection = await factory.CreateConnectionAsync("bench-responder");
            await using var responderChannel = await responderConnection.CreateChannelAsync(confirms);
            await responderChannel.QueueDeclareAsync("bench.requests", durable: true, exclusive: false, autoDelete: false);
            await responderChannel.BasicQosAsync(0, 16, false);
            var responder = new AsyncEventingBasicConsumer(responderChannel);
            responder.ReceivedAsync += async (_, delivery) =>
            {
                var reply = new BasicProperties { Persistent = true, CorrelationId = delivery.BasicProperties.CorrelationId };
                await responderChannel.BasicPublishAsync("", delivery.BasicProperties.ReplyTo!, false, reply, delivery.Body);
                await responderChannel.BasicAckAsync(delivery.DeliveryTag, false);
            };
            await responderChannel.BasicConsumeAsync("bench.requests", autoAck: false, responder);

            await using var requesterConnection = await factory.CreateConnectionAsync("bench-requesters");
            var body = CommandMessageBody();
            var samples = new List<double>[requesters];
            var clock = Stopwatch.StartNew();
            await Task.WhenAll(Enumerable.Range(0, requesters).Select(async r =>
            {
                samples[r] = [];
                await using var channel = await requesterConnection.CreateChannelAsync(confirms);
                var replyQueue = (await channel.QueueDeclareAsync("", durable: true, exclusive: true, autoDelete: true)).QueueName;
                TaskCompletionSource? waiting = null;
                var consumer = new AsyncEventingBasicConsumer(channel);
                consumer.ReceivedAsync += (_, _) =>
                {
                    waiting?.TrySetResult();
                    return Task.CompletedTask;
                };
                await channel.BasicConsumeAsync(replyQueue, autoAck: true, consumer);
                var properties = new BasicProperties { Persistent = true, ReplyTo = replyQueue };
                while (clock.Elapsed < duration)
                {
                    waiting = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
                    var started = Stopwatch.GetTimestamp();
                    await channel.BasicPublishAsync("", "bench.requests", false, properties, body);
                    await waiting.Task;
                    samples[r].Add(Stopwatch.GetElapsedTime(started).TotalMilliseconds);
                }
            }));
            var all = samples.SelectMany(s => s).ToList();
            return new BaselineRun(new Latencies($"RabbitMQ round-trip, {requesters} requester(s)", all), requesters, all.Count / clock.Elapsed.TotalSeconds);
        }
        finally
        {
            await TestServices.DeleteVirtualHostAsync(vhost);
        }
    }

    /// <summary>
    /// Writers each INSERT one event-sized JSON row and COMMIT, one transaction per row, in a scratch schema: the floor of
    /// every append the control plane makes (it makes three per command: the request, the start and the outcome).
    /// </summary>
    public static async Task<BaselineRun> PostgresCommitsAsync(int writers, TimeSpan duration)
    {
        var schema = TestServices.UniqueName("bench_commit");
        var json = EventJson();
        await using var data = NpgsqlDataSource.Create(new NpgsqlConnectionStringBuilder(BenchArgs.Postgres) { MaxPoolSize = Math.Max(writers, 1) + 2 }.ConnectionString);
        await using (var create = data.CreateCommand(
            $"CREATE SCHEMA {schema}; CREATE TABLE {schema}.events (seq_id bigserial PRIMARY KEY, id uuid NOT NULL, data jsonb NOT NULL, timestamp timestamptz NOT NULL DEFAULT now())"))
        {
            await create.ExecuteNonQueryAsync();
        }

        try
        {
            var samples = new List<double>[writers];
            var clock = Stopwatch.StartNew();
            await Task.WhenAll(Enumerable.Range(0, writers).Select(async w =>
            {
                samples[w] = [];
                await using var connection = await data.OpenConnectionAsync();
                while (clock.Elapsed < duration)
                {
                    var started = Stopwatch.GetTimestamp();
                    await using var transaction = await connection.BeginTransactionAsync();
                    await using var insert = new NpgsqlCommand($"INSERT INTO {schema}.events (id, data) VALUES ($1, $2::jsonb)", connection, transaction);
                    insert.Parameters.Add(new NpgsqlParameter { Value = Guid.NewGuid() });
                    insert.Parameters.Add(new NpgsqlParameter { Value = json });
                    await insert.ExecuteNonQueryAsync();
                    await transaction.CommitAsync();
                    samples[w].Add(Stopwatch.GetElapsedTime(started).TotalMilliseconds);
                }
            }));
            var all = samples.SelectMany(s => s).ToList();
            return new BaselineRun(new Latencies($"PostgreSQL commit, {writers} writer(s)", all), writers, all.Count / clock.Elapsed.TotalSeconds);
        }
        finally
        {
            await using var drop = data.CreateCommand($"DROP SCHEMA IF EXISTS {schema} CASCADE");
            await drop.ExecuteNonQueryAsync();
        }
    }

    /// <summary>An operation request as the event store serializes it (the control plane's own serializer settings).</summary>
    public static string EventJson()
    {
        using var store = DocumentStore.For(options => EventStoreSetup.ConfigureEvents(options, BenchArgs.Postgres, "bench_unused"));
        return store.Options.Serializer().ToJson(AppendScenario.SampleEvent(Guid.NewGuid()));
    }

    /// <summary>A start command to an agent as it travels: the message in MassTransit's JSON envelope, with its headers and host block.</summary>
    public static byte[] CommandMessageBody()
    {
        var json = new JsonSerializerOptions(JsonSerializerDefaults.Web) { Converters = { new JsonStringEnumConverter() } };
        var operationId = Guid.NewGuid();
        var message = new RunDomainOperation(
            operationId, "bench-command-0000000000000000", Guid.NewGuid(), Guid.NewGuid(), DomainOperationKind.Start, false,
            new DomainSpecification(Guid.NewGuid(), "bench-vm-000", 1, 64), DomainPowerState.Running, DateTimeOffset.UtcNow.AddMinutes(2), Disks: []);
        var envelope = new JsonObject
        {
            ["messageId"] = Guid.NewGuid().ToString(),
            ["correlationId"] = operationId.ToString(),
            ["conversationId"] = Guid.NewGuid().ToString(),
            ["sourceAddress"] = "rabbitmq://127.0.0.1:15673/bench_0000000000000/controlplane_bus_0000000000000000000000000000",
            ["destinationAddress"] = "rabbitmq://127.0.0.1:15673/bench_0000000000000/qkvm-agent-00000000-0000-0000-0000-000000000000",
            ["messageType"] = new JsonArray("urn:message:Quantixkvm.Contracts:RunDomainOperation"),
            ["message"] = JsonSerializer.SerializeToNode(message, json),
            ["sentTime"] = DateTimeOffset.UtcNow.ToString("O"),
            ["headers"] = new JsonObject(),
            ["host"] = new JsonObject
            {
                ["machineName"] = Environment.MachineName, ["processName"] = "Quantixkvm.ControlPlane", ["processId"] = Environment.ProcessId,
                ["assembly"] = "Quantixkvm.ControlPlane", ["assemblyVersion"] = "1.0.0.0", ["frameworkVersion"] = Environment.Version.ToString(),
                ["massTransitVersion"] = "8.5.12.0", ["operatingSystemVersion"] = Environment.OSVersion.ToString(),
            },
        };
        return Encoding.UTF8.GetBytes(envelope.ToJsonString());
    }
}
