using System.Net;
using GraphQL;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Quantixkvm.GraphQLTransport.Tests.Support;

/// <summary>A real Kestrel server on 127.0.0.1 with a random port, wired the way the control plane wires the transport.</summary>
public sealed class TestHost : IAsyncDisposable
{
    public const int MaxDocumentBytes = 2048;
    public const int MaxRequestBytes = 16 * 1024;

    private readonly WebApplication _app;

    private TestHost(WebApplication app, Uri baseAddress)
    {
        _app = app;
        BaseAddress = baseAddress;
        Http = new HttpClient { BaseAddress = baseAddress };
    }

    public Uri BaseAddress { get; }

    public Uri GraphQLUri => new(BaseAddress, "/graphql");

    public Uri WebSocketUri => new UriBuilder(GraphQLUri) { Scheme = "ws" }.Uri;

    public HttpClient Http { get; }

    public Probe Probe => _app.Services.GetRequiredService<Probe>();

    public static async Task<TestHost> StartAsync(Action<GraphQLTransportOptions>? configure = null)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.ConfigureKestrel(kestrel => kestrel.Listen(IPAddress.Loopback, 0));
        builder.Logging.ClearProviders();
        builder.Services.AddSingleton<Probe>();
        builder.Services.AddGraphQL(graphQL => graphQL.AddSchema<TestSchema>().AddSystemTextJson());
        builder.Services.AddGraphQLTransport(options =>
        {
            options.MaxDocumentBytes = MaxDocumentBytes;
            options.MaxRequestBytes = MaxRequestBytes;
            options.ConnectionInitTimeout = TimeSpan.FromSeconds(3);
            options.UserContextFactory = http => new Dictionary<string, object?> { ["user"] = http.Request.Headers["X-User"].ToString() };
            configure?.Invoke(options);
        });

        var app = builder.Build();
        app.UseWebSockets();
        app.MapGraphQL("/graphql");
        app.MapGraphiQL("/graphiql", "/graphql");
        await app.StartAsync();
        var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.Single();
        return new TestHost(app, new Uri(address));
    }

    public async ValueTask DisposeAsync()
    {
        Http.Dispose();
        await _app.StopAsync();
        await _app.DisposeAsync();
    }
}
