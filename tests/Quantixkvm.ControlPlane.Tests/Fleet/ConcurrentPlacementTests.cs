using Quantixkvm.ControlPlane.Tests.Support;
using Quantixkvm.Testing;

namespace Quantixkvm.ControlPlane.Tests.Fleet;

/// <summary>
/// Placement is one decision at a time, and many API clients creating at once must queue for it without taking the
/// database connections that the decision itself (and dispatch, and outcomes) needs.
/// </summary>
public sealed class ConcurrentPlacementTests(ConcurrentPlacementTests.SmallConnectionPool fixture)
    : IClassFixture<ConcurrentPlacementTests.SmallConnectionPool>
{
    /// <summary>Far fewer pooled connections than concurrent creates, and a short wait for one.</summary>
    public sealed class SmallConnectionPool : ControlPlaneFixture
    {
        protected override IReadOnlyDictionary<string, string?> Settings => new Dictionary<string, string?>
        {
            ["ConnectionStrings:Postgres"] = TestServices.Postgres + ";Maximum Pool Size=8;Timeout=5",
        };
    }

    [Fact]
    public async Task more_concurrent_creates_than_pooled_connections_are_all_placed()
    {
        var api = fixture.App.Api();

        var created = await Task.WhenAll(Enumerable.Range(0, 40).Select(i => Task.Run(() => api.CreateVmAsync($"crowd-{i}", memoryMiB: 64))));

        created.Select(c => c.Str("vm.id")).Distinct().Count().ShouldBe(40);
    }
}
