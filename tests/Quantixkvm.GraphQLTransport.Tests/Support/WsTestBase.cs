namespace Quantixkvm.GraphQLTransport.Tests.Support;

/// <summary>A fresh server for every WebSocket test (xunit makes a new class instance per test).</summary>
public abstract class WsTestBase : IAsyncLifetime
{
    private readonly List<WsClient> _clients = [];
    private TestHost? _host;

    protected TestHost Host => _host ?? throw new InvalidOperationException("The server has not started.");

    protected virtual void Configure(GraphQLTransportOptions options)
    {
    }

    /// <summary>Connects offering exactly <paramref name="subProtocols"/>.</summary>
    protected async Task<WsClient> ConnectOfferingAsync(params string[] subProtocols)
    {
        var client = await WsClient.ConnectAsync(Host.WebSocketUri, subProtocols);
        _clients.Add(client);
        return client;
    }

    /// <summary>Connects offering graphql-transport-ws.</summary>
    protected Task<WsClient> ConnectAsync() => ConnectOfferingAsync("graphql-transport-ws");

    protected async Task<WsClient> ConnectAndInitAsync()
    {
        var client = await ConnectAsync();
        await client.InitAsync();
        return client;
    }

    public async Task InitializeAsync() => _host = await TestHost.StartAsync(Configure);

    public async Task DisposeAsync()
    {
        foreach (var client in _clients)
        {
            await client.DisposeAsync();
        }

        if (_host is not null)
        {
            await _host.DisposeAsync();
        }
    }
}
