using Quantixkvm.Testing;

namespace Quantixkvm.Agent.Tests.Support;

/// <summary>The private Ceph cluster of infra/dev/ceph.sh, started (if it does not run) before the class's first test and left running.</summary>
public sealed class CephFixture : IAsyncLifetime
{
    public CephCluster Cluster { get; private set; } = null!;

    public async Task InitializeAsync() => Cluster = await CephCluster.StartAsync();

    public Task DisposeAsync() => Task.CompletedTask;
}
