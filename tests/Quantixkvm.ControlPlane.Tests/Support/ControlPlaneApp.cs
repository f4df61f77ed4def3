using System.Text.Json.Nodes;
using MassTransit;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.Extensions.DependencyInjection;
using Quantixkvm.Testing;

namespace Quantixkvm.ControlPlane.Tests.Support;

/// <summary>
/// The control plane in-process on a test server, on its class's own PostgreSQL schema and RabbitMQ
/// vhost. Settings go in as host settings (command-line style), so Program sees them before it reads
/// its configuration.
/// </summary>
public sealed class ControlPlaneApp : WebApplicationFactory<Program>
{
    private readonly IReadOnlyDictionary<string, string?> _settings;

    public ControlPlaneApp(string schema, string virtualHost, IReadOnlyDictionary<string, string?>? overrides = null)
    {
        Schema = schema;
        VirtualHost = virtualHost;
        var settings = new Dictionary<string, string?>
        {
            ["ConnectionStrings:Postgres"] = TestServices.Postgres,
            ["ControlPlane:DatabaseSchema"] = schema,
            ["RabbitMq:Host"] = TestServices.RabbitHost,
            ["RabbitMq:Port"] = TestServices.RabbitPort,
            ["RabbitMq:Username"] = TestServices.RabbitUser,
            ["RabbitMq:Password"] = TestServices.RabbitPassword,
            ["RabbitMq:VirtualHost"] = virtualHost,
        };
        foreach (var (key, value) in overrides ?? new Dictionary<string, string?>())
        {
            settings[key] = value;
        }

        _settings = settings;
    }

    public string Schema { get; }

    /// <summary>The hosting environment; Production unless a test asks for another.</summary>
    public string Environment { get; init; } = "Production";

    public string VirtualHost { get; }

    /// <summary>Watches the control plane's own bus: which agent messages it has finished consuming.</summary>
    public ConsumeProbe Consumed { get; } = new();

    /// <summary>Starts the host and waits until /readyz says PostgreSQL and the bus (with its queues bound) are ready.</summary>
    public async Task StartAsync(bool waitUntilReady = true)
    {
        _ = Server;
        Services.GetRequiredService<IBus>().ConnectConsumeObserver(Consumed);
        if (!waitUntilReady)
        {
            return;
        }

        using var http = CreateClient();
        await Eventually.WaitAsync(async () =>
        {
            using var response = await http.GetAsync("/readyz");
            return response.IsSuccessStatusCode;
        }, "the control plane to be ready (/readyz 200)", TimeSpan.FromSeconds(30));
    }

    /// <summary>A GraphQL client; with a correlation id, every request carries it as X-Correlation-Id.</summary>
    public GraphQLClient Api(Guid? correlationId = null)
    {
        var http = CreateClient();
        if (correlationId is { } id)
        {
            http.DefaultRequestHeaders.Add("X-Correlation-Id", id.ToString());
        }

        return new GraphQLClient(http);
    }

    public EventTable Events => new(Schema);

    public async Task<T> InScopeAsync<T>(Func<IServiceProvider, Task<T>> action)
    {
        await using var scope = Services.CreateAsyncScope();
        return await action(scope.ServiceProvider);
    }

    protected override void ConfigureWebHost(IWebHostBuilder builder)
    {
        // As operators run it (no ASPNETCORE_ENVIRONMENT). Development's scope validation refuses to
        // start the control plane: see StartupTests' skipped test.
        builder.UseEnvironment(Environment);
        foreach (var (key, value) in _settings)
        {
            builder.UseSetting(key, value);
        }
    }
}

/// <summary>GraphQL calls the tests repeat.</summary>
public static class Api
{
    public const string OperationFields = "id kind status vmId hostId commandId actor force error { code message } startedAt acceptedByHostAt finishedAt deadline";
    public const string VmFields = "id name vcpus memoryMiB powerState desiredPowerState version currentOperation { id status }";

    public static async Task<JsonNode> CreateVmAsync(
        this GraphQLClient api, string name, bool start = false, string? commandId = null, Guid? hostId = null, int vcpus = 1, int memoryMiB = 256)
    {
        var data = await api.DataAsync(
            $"mutation($input: CreateVmInput!) {{ createVm(input: $input) {{ operation {{ {OperationFields} }} vm {{ {VmFields} }} }} }}",
            new { input = new { name, vcpus, memoryMiB, start, commandId, hostId = hostId?.ToString() } });
        return data["createVm"]!;
    }

    public static Task<JsonNode> SendLifecycleAsync(
        this GraphQLClient api, string mutation, string vmId, string? commandId = null, int? expectedVersion = null, bool? force = null)
    {
        var forceArgument = mutation == "stopVm" ? ", $force: Boolean" : "";
        var forceValue = mutation == "stopVm" ? ", force: $force" : "";
        return api.SendAsync(
            $"mutation($id: ID!, $commandId: ID, $expectedVersion: Int{forceArgument}) {{ {mutation}(id: $id, commandId: $commandId, expectedVersion: $expectedVersion{forceValue}) "
            + $"{{ operation {{ {OperationFields} }} vm {{ {VmFields} }} }} }}",
            new { id = vmId, commandId, expectedVersion, force });
    }

    public static async Task<JsonNode?> OperationAsync(this GraphQLClient api, string operationId) =>
        (await api.DataAsync($"query($id: ID!) {{ operation(id: $id) {{ {OperationFields} }} }}", new { id = operationId }))["operation"];

    public static async Task<JsonNode?> VmAsync(this GraphQLClient api, string vmId) =>
        (await api.DataAsync($"query($id: ID!) {{ vm(id: $id) {{ {VmFields} }} }}", new { id = vmId }))["vm"];

    public static Task<JsonNode> OperationEndsAsync(this GraphQLClient api, string operationId, string status, TimeSpan? timeout = null) =>
        Eventually.WaitAsync(
            async () => (await api.OperationAsync(operationId))!,
            o => o["status"]!.GetValue<string>() == status,
            $"operation {operationId} to be {status}", timeout);

    public static string Str(this JsonNode node, string path)
    {
        JsonNode? current = node;
        foreach (var part in path.Split('.'))
        {
            current = current?[part];
        }

        return current?.GetValue<string>() ?? throw new InvalidOperationException($"{path} is missing in {node.ToJsonString()}");
    }
}
