using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using Microsoft.Extensions.Options;

namespace Quantixkvm.ControlPlane.Ha.Fencing;

/// <summary>
/// Powers the host off through its BMC's Redfish service: <c>ComputerSystem.Reset</c> with <c>ForceOff</c>, then reads
/// the system until its <c>PowerState</c> is <c>Off</c>. A system that is already off is fenced without a reset.
/// </summary>
public sealed class RedfishFencer(IHttpClientFactory clients, IOptions<FencingOptions> options, TimeProvider time) : IHostFencer
{
    /// <summary>The HTTP client that checks the BMC's certificate.</summary>
    public const string VerifiedClient = "qkvm-redfish";

    /// <summary>The HTTP client for <c>VerifyTls = false</c>: it accepts any certificate.</summary>
    public const string UnverifiedClient = "qkvm-redfish-unverified-tls";

    public string Name => "redfish";

    public async Task<FenceVerdict> FenceAsync(FenceTarget target, CancellationToken cancellationToken)
    {
        var settings = options.Value;
        if (target.Config.Redfish is not { } redfish)
        {
            return FenceVerdict.NotProven($"host {target.HostName} has no Redfish settings");
        }

        var secret = await FencingSecrets.ReadAsync(settings.SecretsDirectory, redfish.PasswordSecret, cancellationToken);
        if (secret.Value is null)
        {
            return FenceVerdict.NotProven($"redfish cannot power off host {target.HostName}: {secret.Problem}");
        }

        var system = $"{redfish.Endpoint.TrimEnd('/')}/redfish/v1/Systems/{Uri.EscapeDataString(redfish.SystemId)}";
        var where = $"redfish at {redfish.Endpoint} (system {redfish.SystemId}) of host {target.HostName}";
        var credentials = new AuthenticationHeaderValue(
            "Basic", Convert.ToBase64String(Encoding.UTF8.GetBytes($"{redfish.Username}:{secret.Value}")));
        using var http = clients.CreateClient(redfish.VerifyTls ? VerifiedClient : UnverifiedClient);
        var step = "reading the power state";
        try
        {
            var before = await PowerStateAsync(http, system, credentials, cancellationToken);
            if (before.Problem is not null)
            {
                return FenceVerdict.NotProven($"{where}: {step}: {before.Problem}");
            }

            if (IsOff(before.State))
            {
                return FenceVerdict.Proven($"{where} reports PowerState Off: the host was already off");
            }

            step = "ForceOff";
            using (var reset = new HttpRequestMessage(HttpMethod.Post, $"{system}/Actions/ComputerSystem.Reset"))
            {
                reset.Headers.Authorization = credentials;
                reset.Content = JsonContent.Create(new Dictionary<string, string> { ["ResetType"] = "ForceOff" });
                using var response = await SendAsync(http, reset, cancellationToken);
                if (!response.IsSuccessStatusCode)
                {
                    return FenceVerdict.NotProven($"{where}: ForceOff was refused: {await DescribeAsync(response, cancellationToken)}");
                }
            }

            step = "confirming the power off";
            var confirm = TimeSpan.FromSeconds(settings.PowerOffConfirmSeconds);
            var started = time.GetTimestamp();
            var last = before.State;
            while (true)
            {
                var now = await PowerStateAsync(http, system, credentials, cancellationToken);
                last = now.Problem ?? $"PowerState {now.State ?? "(none)"}";
                if (IsOff(now.State))
                {
                    return FenceVerdict.Proven(
                        $"{where} accepted ForceOff and reports PowerState Off after {Seconds.Of(time.GetElapsedTime(started))}");
                }

                if (time.GetElapsedTime(started) >= confirm)
                {
                    return FenceVerdict.NotProven(
                        $"{where} accepted ForceOff but did not report PowerState Off within {Seconds.Of(confirm)} (last: {last})");
                }

                await Task.Delay(TimeSpan.FromSeconds(settings.PollSeconds), time, cancellationToken);
            }
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            return FenceVerdict.NotProven($"{where}: {step}: no answer within {Seconds.Of(settings.RedfishTimeoutSeconds)}");
        }
        catch (HttpRequestException ex)
        {
            return FenceVerdict.NotProven($"{where}: {step}: {Flatten(ex)}");
        }
    }

    private static bool IsOff(string? state) => string.Equals(state, "Off", StringComparison.OrdinalIgnoreCase);

    private async Task<HttpResponseMessage> SendAsync(HttpClient http, HttpRequestMessage request, CancellationToken cancellationToken)
    {
        using var limit = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        limit.CancelAfter(TimeSpan.FromSeconds(options.Value.RedfishTimeoutSeconds));
        var response = await http.SendAsync(request, HttpCompletionOption.ResponseContentRead, limit.Token);
        return response;
    }

    /// <summary>The system's PowerState, or what went wrong reading it (a status, a body that is not a ComputerSystem).</summary>
    private async Task<(string? State, string? Problem)> PowerStateAsync(
        HttpClient http, string system, AuthenticationHeaderValue credentials, CancellationToken cancellationToken)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, system);
        request.Headers.Authorization = credentials;
        using var response = await SendAsync(http, request, cancellationToken);
        if (!response.IsSuccessStatusCode)
        {
            return (null, await DescribeAsync(response, cancellationToken));
        }

        try
        {
            var body = await response.Content.ReadAsStringAsync(cancellationToken);
            using var json = JsonDocument.Parse(body);
            return json.RootElement.ValueKind == JsonValueKind.Object
                && json.RootElement.TryGetProperty("PowerState", out var state) && state.ValueKind == JsonValueKind.String
                ? (state.GetString(), null)
                : (null, "the answer has no PowerState");
        }
        catch (JsonException ex)
        {
            return (null, $"the answer is not JSON: {ex.Message}");
        }
    }

    private static async Task<string> DescribeAsync(HttpResponseMessage response, CancellationToken cancellationToken)
    {
        var status = $"HTTP {(int)response.StatusCode} {response.ReasonPhrase}".TrimEnd();
        var body = (await response.Content.ReadAsStringAsync(cancellationToken)).Trim();
        return body.Length == 0 ? status : $"{status}: {(body.Length > 300 ? body[..300] + "..." : body)}";
    }

    /// <summary>An HTTP failure with its causes (a TLS failure says why only in its inner exception).</summary>
    private static string Flatten(Exception ex)
    {
        var parts = new List<string>();
        for (var e = (Exception?)ex; e is not null; e = e.InnerException)
        {
            if (!parts.Contains(e.Message))
            {
                parts.Add(e.Message);
            }
        }

        return string.Join(": ", parts);
    }

    /// <summary>The primary handler of each client; see <see cref="FencingServiceCollectionExtensions"/>.</summary>
    internal static SocketsHttpHandler Handler(bool verifyTls)
    {
        var handler = new SocketsHttpHandler { PooledConnectionLifetime = TimeSpan.FromMinutes(5), UseCookies = false };
        if (!verifyTls)
        {
            // Only for hosts configured with VerifyTls = false: BMCs often ship self-signed certificates that nobody
            // replaces, so such a BMC's certificate is accepted whatever it is (the password still travels encrypted).
            handler.SslOptions.RemoteCertificateValidationCallback = (_, _, _, _) => true;
        }

        return handler;
    }
}
