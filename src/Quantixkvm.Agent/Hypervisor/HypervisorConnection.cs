using Microsoft.Extensions.Logging.Abstractions;
using Quantixkvm.Libvirt;

namespace Quantixkvm.Agent.Hypervisor;

/// <summary>
/// The agent's connection to libvirt, reopened when it has died (libvirtd restarted or upgraded), so
/// the agent does not go deaf while its RabbitMQ link still looks healthy.
/// </summary>
public sealed class HypervisorConnection : IDisposable
{
    private readonly Lock _gate = new();
    private readonly ILogger _logger;
    private LibvirtConnection? _connection;

    /// <summary>Opens nothing yet: an agent started while libvirt is down runs, and connects when libvirt is back.</summary>
    public HypervisorConnection(string uri, ILogger<HypervisorConnection>? logger = null)
    {
        Uri = uri;
        _logger = logger ?? NullLogger<HypervisorConnection>.Instance;
    }

    public HypervisorConnection(LibvirtConnection connection, ILogger<HypervisorConnection>? logger = null)
        : this(connection.Uri, logger)
    {
        _connection = connection;
    }

    public string Uri { get; }

    /// <summary>Counts reopenings: after one, what the host runs may have changed behind the agent's back.</summary>
    public int Generation { get; private set; }

    /// <summary>A live connection; throws <see cref="LibvirtException"/> when libvirt cannot be reached now.</summary>
    public LibvirtConnection Connection
    {
        get
        {
            lock (_gate)
            {
                if (_connection is { IsAlive: true } live)
                {
                    return live;
                }

                var reopening = _connection is not null;
                // A dead connection is not disposed here: another thread may still be using it; its handle's finalizer closes it.
                _connection = LibvirtConnection.Open(Uri);
                if (reopening)
                {
                    Generation++;
                    _logger.LogWarning("The connection to libvirt at {LibvirtUri} had died; reopened it", Uri);
                }

                return _connection;
            }
        }
    }

    public void Dispose() => _connection?.Dispose();
}
