using Quantixkvm.Libvirt;
using Quantixkvm.Testing;

namespace Quantixkvm.EndToEnd.Tests;

/// <summary>
/// Two real hosts for one control plane: the Ceph guest platform's host (A) and a second one (B), each a private QEMU
/// session libvirtd with its own folders and host UUID, each with its own node agent process, both reaching the same
/// Ceph cluster. Both daemons run as the same user, so QEMU on B can go on writing a migrated guest's serial log in A's
/// folder. Migration streams go to 127.0.0.1 (<c>Agent:MigrateAddress</c>); peers reach each other's libvirt at its
/// socket (the agent's own URI).
/// </summary>
public sealed class TwoHostGuestPlatform : CephGuestPlatform
{
    private readonly Lock _templateLock = new();
    private LibvirtDaemon? _daemonB;
    private Task<(string PoolId, string TemplateId)>? _template;

    public string HostNameA => HostName;

    public string HostNameB { get; } = TestServices.UniqueName("e2e-host-b");

    public string HostIdA { get; private set; } = "";

    public string HostIdB { get; private set; } = "";

    /// <summary>The cluster both hosts are in.</summary>
    public string ClusterId { get; private set; } = "";

    public LibvirtDaemon DaemonA => Daemon;

    public LibvirtDaemon DaemonB => _daemonB!;

    public PlatformProcess? AgentA => Agent;

    public PlatformProcess? AgentB { get; private set; }

    /// <summary>The test's own view of A's hypervisor.</summary>
    public LibvirtConnection LibvirtA => Libvirt;

    /// <summary>The test's own view of B's hypervisor.</summary>
    public LibvirtConnection LibvirtB { get; private set; } = null!;

    public override async Task InitializeAsync()
    {
        await base.InitializeAsync();
        _daemonB = await LibvirtDaemon.StartAsync();
        await PrepareHostAsync(_daemonB);
        LibvirtB = LibvirtConnection.Open(LibvirtUriOf(_daemonB));
        AgentB = StartAgentProcess(HostNameB, _daemonB);
        await WaitForHostOnlineAsync(HostNameB, AgentB);

        var hosts = (await Api.DataAsync("{ hosts { id name liveMigration } }"))["hosts"]!.AsArray();
        HostIdA = hosts.Single(h => h!["name"]!.GetValue<string>() == HostNameA)!["id"]!.GetValue<string>();
        HostIdB = hosts.Single(h => h!["name"]!.GetValue<string>() == HostNameB)!["id"]!.GetValue<string>();

        ClusterId = (await Api.DataAsync("mutation($name: String!) { createCluster(name: $name) { id } }",
            new { name = TestServices.UniqueName("live") }))["createCluster"]!["id"]!.GetValue<string>();
        foreach (var hostId in new[] { HostIdA, HostIdB })
        {
            await Api.DataAsync("mutation($hostId: ID!, $clusterId: ID) { assignHostToCluster(hostId: $hostId, clusterId: $clusterId) { id } }",
                new { hostId, clusterId = ClusterId });
        }
    }

    /// <summary>The RBD pool and the template of the guest image imported into it, made once for the platform's tests.</summary>
    public Task<(string PoolId, string TemplateId)> TemplateAsync()
    {
        lock (_templateLock)
        {
            return _template ??= RbdGuestTemplateAsync(Guid.NewGuid().ToString("N")[..8], TimeSpan.FromMinutes(3));
        }
    }

    protected override IEnumerable<KeyValuePair<string, string>> AgentSettings(LibvirtDaemon daemon) =>
    [
        .. base.AgentSettings(daemon),
        // Where the other host's QEMU sends the migration stream when a VM moves here: both hosts are this machine.
        new("Agent__MigrateAddress", "127.0.0.1"),
    ];

    /// <summary>
    /// Makes B's libvirt unreachable for new connections (its socket moved aside) while the daemon, its guests and B's
    /// agent (already connected) go on; disposing puts the socket back.
    /// </summary>
    public IDisposable HideLibvirtB()
    {
        var hidden = DaemonB.Socket + ".hidden";
        File.Move(DaemonB.Socket, hidden);
        return new Restore(() => File.Move(hidden, DaemonB.Socket));
    }

    public override async Task DisposeAsync()
    {
        // B goes first: its guests run from Ceph images that the base removes once everything else has stopped.
        if (AgentB is not null)
        {
            await AgentB.DisposeAsync();
        }

        if (LibvirtB is not null)
        {
            DestroyDomains(LibvirtB);
            LibvirtB.Dispose();
        }

        if (_daemonB is not null)
        {
            await _daemonB.DisposeAsync();
        }

        await base.DisposeAsync();
    }

    private sealed class Restore(Action action) : IDisposable
    {
        private Action? _action = action;

        public void Dispose() => Interlocked.Exchange(ref _action, null)?.Invoke();
    }
}

[CollectionDefinition(Name)]
public sealed class TwoHostGuestPlatformCollection : ICollectionFixture<TwoHostGuestPlatform>
{
    public const string Name = "two-host-guest-platform";
}
