using System.Net;
using System.Text.Json.Nodes;
using Quantixkvm.ControlPlane.Tests.Support;
using Quantixkvm.Testing;

namespace Quantixkvm.ControlPlane.Tests;

/// <summary>/healthz says the process is up; /readyz names PostgreSQL and the bus and says whether each answers.</summary>
public sealed class HealthTests(HealthTests.ControlPlaneOnly fixture) : IClassFixture<HealthTests.ControlPlaneOnly>
{
    public sealed class ControlPlaneOnly : ControlPlaneFixture
    {
        protected override bool StartsAgent => false;
    }

    [Fact]
    public async Task healthz_answers_200()
    {
        using var http = fixture.App.CreateClient();

        using var response = await http.GetAsync("/healthz");

        response.StatusCode.ShouldBe(HttpStatusCode.OK);
        (await response.Content.ReadAsStringAsync()).ShouldBe("ok");
    }

    [Fact]
    public async Task readyz_answers_200_with_postgres_and_the_bus_healthy()
    {
        using var http = fixture.App.CreateClient();

        using var response = await http.GetAsync("/readyz");

        response.StatusCode.ShouldBe(HttpStatusCode.OK);
        response.Content.Headers.ContentType!.MediaType.ShouldBe("application/json");
        var body = JsonNode.Parse(await response.Content.ReadAsStringAsync())!;
        body.Str("status").ShouldBe("Healthy");
        body["checks"]!["postgres"]!.Str("status").ShouldBe("Healthy");
        body["checks"]!["masstransit-bus"]!.Str("status").ShouldBe("Healthy");
    }

    [Fact]
    public async Task readyz_answers_503_naming_the_bus_while_the_broker_is_unreachable()
    {
        var unreachable = await fixture.StartControlPlaneAsync(
            new Dictionary<string, string?> { ["RabbitMq:Port"] = PlatformProcess.FreePort().ToString(System.Globalization.CultureInfo.InvariantCulture) },
            waitUntilReady: false);
        using var http = unreachable.CreateClient();

        var (status, body) = await Eventually.WaitAsync(async () =>
        {
            using var response = await http.GetAsync("/readyz");
            return (response.StatusCode, JsonNode.Parse(await response.Content.ReadAsStringAsync())!);
        }, r => r.Item2["checks"]?["masstransit-bus"]?["status"]?.GetValue<string>() == "Unhealthy", "the bus check to report the broker down");

        status.ShouldBe(HttpStatusCode.ServiceUnavailable);
        body.Str("status").ShouldBe("Unhealthy");
        body["checks"]!["postgres"]!.Str("status").ShouldBe("Healthy");
        using var live = await http.GetAsync("/healthz");
        live.StatusCode.ShouldBe(HttpStatusCode.OK, "the process itself is up");
    }
}
