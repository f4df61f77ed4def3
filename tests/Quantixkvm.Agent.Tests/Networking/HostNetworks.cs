using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Quantixkvm.Agent.Networking;
using Quantixkvm.Contracts;
using Quantixkvm.Network.Linux;
using Quantixkvm.Testing;

namespace Quantixkvm.Agent.Tests.Networking;

/// <summary>
/// A host's network stack of its own for one test: a private Open_vSwitch database, a private OVN northbound database
/// (no ovs-vswitchd or OVN daemons: the realizer writes database state) and a private network namespace for `ip` and `nft`, so
/// the machine's own interfaces are never touched. Creating a namespace needs root: as another user through `sudo -n`.
/// </summary>
public sealed class HostNetworks : IAsyncLifetime
{
    private OvsdbServer? _vswitch;
    private OvsdbServer? _northbound;
    private bool _namespaceAdded;

    public string HostName { get; } = "net-" + Guid.NewGuid().ToString("N")[..12];

    public Guid HostId => new AgentOptions { HostName = HostName }.HostId;

    public string Namespace { get; } = "qkvm-n-" + Guid.NewGuid().ToString("N")[..8];

    public OvsdbServer Vswitch => _vswitch ?? throw new InvalidOperationException("not started");

    public OvsdbServer Northbound => _northbound ?? throw new InvalidOperationException("not started");

    public IpLink Ip => IpLink.InNamespace(Namespace, HostCommand.Privilege);

    public Nftables Nft => Nftables.InNamespace(Namespace, HostCommand.Privilege);

    public async Task InitializeAsync()
    {
        try
        {
            _vswitch = await OvsdbServer.StartAsync(OvsdbServer.VswitchSchema);
            await _vswitch.ToolAsync("ovs-vsctl", "init");
            _northbound = await OvsdbServer.StartAsync(OvsdbServer.NorthboundSchema);
            await HostCommand.RunCheckedAsync("ip", ["netns", "add", Namespace]);
            _namespaceAdded = true;
        }
        catch
        {
            await DisposeAsync();
            throw;
        }
    }

    public async Task DisposeAsync()
    {
        if (_namespaceAdded)
        {
            await HostCommand.RunCheckedAsync("ip", ["netns", "delete", Namespace]);
            _namespaceAdded = false;
        }

        foreach (var server in new[] { _vswitch, _northbound })
        {
            if (server is not null)
            {
                await server.DisposeAsync();
            }
        }

        (_vswitch, _northbound) = (null, null);
    }

    /// <summary>A realizer of this host; <paramref name="ovs"/> / <paramref name="northbound"/> false: the setting is left unset.</summary>
    public NetworkRealizer Realizer(bool ovs = true, bool northbound = true, ILogger<NetworkRealizer>? logger = null) =>
        new(
            Options.Create(new AgentOptions
            {
                HostName = HostName,
                Network = new NetworkOptions
                {
                    OvsDb = ovs ? Vswitch.UnixEndpoint : null,
                    OvnNorthboundDb = northbound ? Northbound.UnixEndpoint : null,
                },
            }),
            Ip,
            Nft,
            TimeProvider.System,
            logger ?? NullLogger<NetworkRealizer>.Instance);

    /// <summary>What ovn-controller does on a real host: it creates OVN's integration bridge.</summary>
    public Task CreateIntegrationBridgeAsync() =>
        Vswitch.ToolAsync("ovs-vsctl", "add-br", NetworkKinds.OvnIntegrationBridge, "--", "set", "Bridge", NetworkKinds.OvnIntegrationBridge, "datapath_type=netdev");

    /// <summary>Runs a command inside the namespace (e.g. `ip link ...`) and returns its output.</summary>
    public Task<string> InNamespaceAsync(params string[] command) => HostCommand.RunCheckedAsync("ip", ["netns", "exec", Namespace, .. command]);
}
