using System.Net.Http.Headers;
using System.Text;
using System.Text.Json.Nodes;
using Quantixkvm.Testing;

namespace Quantixkvm.ControlPlane.Tests.Support;

/// <summary>The broker's side of a vhost's connections, through the management API: to cut them like a network blip would.</summary>
public static class BrokerConnections
{
    /// <summary>
    /// Force-closes every AMQP connection to the vhost once at least <paramref name="expected"/> are listed (the
    /// management API lists them a few seconds late); returns how many were closed.
    /// </summary>
    public static async Task<int> CloseAllAsync(string virtualHost, int expected)
    {
        using var http = Management();
        var list = await Eventually.WaitAsync(
            async () => JsonNode.Parse(await http.GetStringAsync($"api/vhosts/{Uri.EscapeDataString(virtualHost)}/connections"))!.AsArray(),
            connections => connections.Count >= expected, $"{expected} connections to be listed on vhost {virtualHost}", TimeSpan.FromSeconds(15));
        foreach (var connection in list)
        {
            using var response = await http.DeleteAsync($"api/connections/{Uri.EscapeDataString(connection!["name"]!.GetValue<string>())}");
            response.EnsureSuccessStatusCode();
        }

        return list.Count;
    }

    /// <summary>An outage of the vhost: new connections are refused (limit 0) and the open ones are cut, until the returned handle is disposed.</summary>
    public static async Task<IAsyncDisposable> RefuseAsync(string virtualHost, int expected)
    {
        using (var http = Management())
        {
            using var limit = await http.PutAsync($"api/vhost-limits/{Uri.EscapeDataString(virtualHost)}/max-connections",
                new StringContent("""{"value":0}""", Encoding.UTF8, "application/json"));
            limit.EnsureSuccessStatusCode();
        }

        await CloseAllAsync(virtualHost, expected);
        return new Outage(virtualHost);
    }

    private static HttpClient Management()
    {
        var http = new HttpClient { BaseAddress = new Uri($"http://{TestServices.RabbitHost}:{TestServices.RabbitManagementPort}/") };
        http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue(
            "Basic", Convert.ToBase64String(Encoding.UTF8.GetBytes($"{TestServices.RabbitUser}:{TestServices.RabbitPassword}")));
        return http;
    }

    private sealed class Outage(string virtualHost) : IAsyncDisposable
    {
        public async ValueTask DisposeAsync()
        {
            using var http = Management();
            using var response = await http.DeleteAsync($"api/vhost-limits/{Uri.EscapeDataString(virtualHost)}/max-connections");
            response.EnsureSuccessStatusCode();
        }
    }
}
