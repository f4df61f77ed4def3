using Quantixkvm.ControlPlane.Tests.Support;

namespace Quantixkvm.ControlPlane.Tests;

/// <summary>The control plane starts in any hosting environment.</summary>
public sealed class StartupTests(StartupTests.NothingStarted fixture) : IClassFixture<StartupTests.NothingStarted>
{
    public sealed class NothingStarted : ControlPlaneFixture
    {
        protected override bool StartsControlPlane => false;
    }

    [Fact]
    public async Task the_control_plane_starts_in_the_development_environment()
    {
        var app = await fixture.StartControlPlaneAsync(environment: "Development");

        (await app.Api().DataAsync("{ hosts { id } }"))["hosts"].ShouldNotBeNull();
    }
}
