using Quantixkvm.Testing;

namespace Quantixkvm.ControlPlane.Tests.Support;

/// <summary>
/// A test class's own PostgreSQL schema and RabbitMQ vhost, a control plane on them, and (unless a
/// class says otherwise) one registered, heartbeating host played by the test. Dropped afterwards.
/// </summary>
public class ControlPlaneFixture : IAsyncLifetime
{
    private readonly List<ControlPlaneApp> _apps = [];
    private ControlPlaneApp? _app;
    private FakeAgent? _agent;
    private bool _disposed;

    public string Schema { get; } = TestServices.UniqueName("cpt");

    public string VirtualHost { get; } = TestServices.UniqueName("cpt");

    public ControlPlaneApp App => _app ?? throw new InvalidOperationException("this fixture starts no control plane by itself");

    public FakeAgent Agent => _agent ?? throw new InvalidOperationException("this fixture starts no agent by itself");

    /// <summary>Settings of the control plane this fixture starts.</summary>
    protected virtual IReadOnlyDictionary<string, string?> Settings => new Dictionary<string, string?>();

    protected virtual bool StartsControlPlane => true;

    protected virtual bool StartsAgent => true;

    /// <summary>Another control plane on the same schema and vhost (e.g. a restart with other settings); disposed with the fixture.</summary>
    public async Task<ControlPlaneApp> StartControlPlaneAsync(
        IReadOnlyDictionary<string, string?>? settings = null, string environment = "Production", bool waitUntilReady = true)
    {
        var app = new ControlPlaneApp(Schema, VirtualHost, settings) { Environment = environment };
        _apps.Add(app);
        await app.StartAsync(waitUntilReady);
        return app;
    }

    public virtual async Task InitializeAsync()
    {
        await TestServices.CreateVirtualHostAsync(VirtualHost);
        try
        {
            if (StartsControlPlane)
            {
                _app = await StartControlPlaneAsync(Settings);
                if (StartsAgent)
                {
                    _agent = await FakeAgent.StartOnlineAsync(_app);
                }
            }
        }
        catch
        {
            // A fixture that fails to start leaves no schema or vhost behind.
            await DisposeAsync();
            throw;
        }
    }

    public virtual async Task DisposeAsync()
    {
        if (_disposed)
        {
            return;
        }

        _disposed = true;
        if (_agent is not null)
        {
            await _agent.DisposeAsync();
        }

        foreach (var app in _apps)
        {
            await app.DisposeAsync();
        }

        await TestServices.DeleteVirtualHostAsync(VirtualHost);
        await TestServices.DropSchemaAsync(Schema);
    }
}
