namespace Quantixkvm.GraphQLTransport.Tests.Support;

/// <summary>One test server shared by the tests of a class.</summary>
public sealed class ServerFixture : IAsyncLifetime
{
    private TestHost? _host;

    public TestHost Host => _host ?? throw new InvalidOperationException("The server has not started.");

    public async Task InitializeAsync() => _host = await TestHost.StartAsync();

    public async Task DisposeAsync()
    {
        if (_host is not null)
        {
            await _host.DisposeAsync();
        }
    }
}
