using System.Net.Http.Headers;
using System.Text;
using Npgsql;

namespace Quantixkvm.Testing;

/// <summary>
/// Where the real PostgreSQL and RabbitMQ are: the same environment variables the platform reads
/// (infra/dev/env.sh exports them), with infra/dev's loopback defaults.
/// </summary>
public static class TestServices
{
    public static string Postgres =>
        Environment.GetEnvironmentVariable("ConnectionStrings__Postgres")
        ?? "Host=127.0.0.1;Port=15433;Database=quantixkvm;Username=quantixkvm;Password=quantixkvm";

    public static string RabbitHost => Environment.GetEnvironmentVariable("RabbitMq__Host") ?? "127.0.0.1";
    public static string RabbitPort => Environment.GetEnvironmentVariable("RabbitMq__Port") ?? "15673";
    public static string RabbitUser => Environment.GetEnvironmentVariable("RabbitMq__Username") ?? "quantixkvm";
    public static string RabbitPassword => Environment.GetEnvironmentVariable("RabbitMq__Password") ?? "quantixkvm";
    public static string RabbitManagementPort => Environment.GetEnvironmentVariable("RabbitMq__ManagementPort") ?? "15676";

    /// <summary>A short unique name for a schema or vhost of one test class.</summary>
    public static string UniqueName(string prefix) => $"{prefix}_{Guid.NewGuid():N}"[..(prefix.Length + 13)];

    /// <summary>Creates a RabbitMQ vhost (through the management API) that only this test class uses.</summary>
    public static async Task CreateVirtualHostAsync(string vhost)
    {
        using var http = ManagementClient();
        var name = Uri.EscapeDataString(vhost);
        (await http.PutAsync($"api/vhosts/{name}", Json("{}"))).EnsureSuccessStatusCode();
        (await http.PutAsync($"api/permissions/{name}/{Uri.EscapeDataString(RabbitUser)}",
            Json("""{"configure":".*","write":".*","read":".*"}"""))).EnsureSuccessStatusCode();
    }

    public static async Task DeleteVirtualHostAsync(string vhost)
    {
        using var http = ManagementClient();
        await http.DeleteAsync($"api/vhosts/{Uri.EscapeDataString(vhost)}");
    }

    public static async Task DropSchemaAsync(string schema)
    {
        await using var connection = new NpgsqlConnection(Postgres);
        await connection.OpenAsync();
        await using var command = connection.CreateCommand();
        command.CommandText = $"drop schema if exists \"{schema}\" cascade";
        await command.ExecuteNonQueryAsync();
    }

    private static HttpClient ManagementClient()
    {
        var http = new HttpClient { BaseAddress = new Uri($"http://{RabbitHost}:{RabbitManagementPort}/") };
        http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue(
            "Basic", Convert.ToBase64String(Encoding.UTF8.GetBytes($"{RabbitUser}:{RabbitPassword}")));
        return http;
    }

    private static StringContent Json(string body) => new(body, Encoding.UTF8, "application/json");
}
