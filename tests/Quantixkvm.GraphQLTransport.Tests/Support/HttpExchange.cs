using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;

namespace Quantixkvm.GraphQLTransport.Tests.Support;

/// <summary>One HTTP answer, with its body parsed as JSON.</summary>
public sealed record HttpAnswer(HttpStatusCode Status, string? MediaType, string? CharSet, JsonElement Body, HttpResponseMessage Response)
{
    public JsonElement FirstError => Body.GetProperty("errors")[0];

    public string? FirstErrorCode => FirstError.GetProperty("extensions").GetProperty("code").GetString();

    public bool HasData => Body.TryGetProperty("data", out _);
}

public static class HttpExchange
{
    public static Task<HttpAnswer> PostJsonAsync(this HttpClient client, object body, string? accept = null)
        => client.PostRawAsync(JsonSerializer.Serialize(body), "application/json", accept);

    public static async Task<HttpAnswer> PostRawAsync(this HttpClient client, string? body, string? contentType, string? accept = null)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, "/graphql");
        if (body is not null)
        {
            request.Content = new ByteArrayContent(Encoding.UTF8.GetBytes(body));
            if (contentType is not null)
            {
                request.Content.Headers.TryAddWithoutValidation("Content-Type", contentType);
            }
        }

        if (accept is not null)
        {
            request.Headers.TryAddWithoutValidation("Accept", accept);
        }

        return await ExchangeAsync(client, request);
    }

    public static async Task<HttpAnswer> GetQueryAsync(this HttpClient client, IDictionary<string, string> parameters, string? accept = null)
    {
        var query = string.Join('&', parameters.Select(p => $"{Uri.EscapeDataString(p.Key)}={Uri.EscapeDataString(p.Value)}"));
        using var request = new HttpRequestMessage(HttpMethod.Get, $"/graphql?{query}");
        if (accept is not null)
        {
            request.Headers.TryAddWithoutValidation("Accept", accept);
        }

        return await ExchangeAsync(client, request);
    }

    public static async Task<HttpAnswer> ExchangeAsync(this HttpClient client, HttpRequestMessage request)
    {
        var response = await client.SendAsync(request);
        var text = await response.Content.ReadAsStringAsync();
        using var document = JsonDocument.Parse(text.Length == 0 ? "null" : text);
        MediaTypeHeaderValue? contentType = response.Content.Headers.ContentType;
        return new HttpAnswer(response.StatusCode, contentType?.MediaType, contentType?.CharSet, document.RootElement.Clone(), response);
    }
}
