using System.Collections.Concurrent;
using System.Net;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;

namespace Quantixkvm.ControlPlane.Tests.Fencing;

/// <summary>
/// A BMC's Redfish service on 127.0.0.1 (Kestrel, a free port; HTTPS with a self-signed certificate if asked): one
/// ComputerSystem that reports PowerState On until a ForceOff, then Off (after <see cref="OffAfter"/>, or never).
/// </summary>
public sealed class FakeBmc : IAsyncDisposable
{
    private readonly WebApplication _app;
    private readonly ConcurrentQueue<string> _resetTypes = new();
    private readonly ConcurrentQueue<string> _credentials = new();
    private DateTimeOffset? _offAt;

    private FakeBmc(WebApplication app) => _app = app;

    public const string SystemId = "System.Embedded.1";

    public string Username { get; init; } = "root";

    public string Password { get; init; } = "calvin";

    /// <summary>How long after a ForceOff the system reports Off; null: never.</summary>
    public TimeSpan? OffAfter { get; set; } = TimeSpan.FromMilliseconds(400);

    public bool InitiallyOff { get; set; }

    public string Endpoint { get; private set; } = "";

    /// <summary>The ResetType of every accepted reset request.</summary>
    public IReadOnlyList<string> ResetTypes => [.. _resetTypes];

    /// <summary>"user:password" of every request, as sent.</summary>
    public IReadOnlyList<string> Credentials => [.. _credentials];

    public static async Task<FakeBmc> StartAsync(bool https = false, Action<FakeBmc>? configure = null)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        var certificate = https ? SelfSigned() : null;
        builder.WebHost.ConfigureKestrel(kestrel => kestrel.Listen(IPAddress.Loopback, 0, listen =>
        {
            if (certificate is not null)
            {
                listen.UseHttps(certificate);
            }
        }));
        var app = builder.Build();
        var bmc = new FakeBmc(app);
        configure?.Invoke(bmc);
        app.MapGet("/redfish/v1/Systems/{id}", (HttpContext http, string id) => bmc.Authorized(http, id)
            ?? Results.Json(new Dictionary<string, string> { ["Id"] = id, ["PowerState"] = bmc.PowerState }));
        app.MapPost("/redfish/v1/Systems/{id}/Actions/ComputerSystem.Reset", async (HttpContext http, string id) =>
        {
            if (bmc.Authorized(http, id) is { } refused)
            {
                return refused;
            }

            using var body = await JsonDocument.ParseAsync(http.Request.Body);
            var resetType = body.RootElement.GetProperty("ResetType").GetString()!;
            bmc._resetTypes.Enqueue(resetType);
            if (resetType == "ForceOff" && bmc.OffAfter is { } after)
            {
                bmc._offAt ??= DateTimeOffset.UtcNow + after;
            }

            return Results.NoContent();
        });
        await app.StartAsync();
        bmc.Endpoint = app.Urls.Single().Replace("[::1]", "127.0.0.1", StringComparison.Ordinal);
        return bmc;
    }

    private string PowerState => InitiallyOff || DateTimeOffset.UtcNow >= _offAt ? "Off" : "On";

    private IResult? Authorized(HttpContext http, string id)
    {
        var header = http.Request.Headers.Authorization.ToString();
        var sent = header.StartsWith("Basic ", StringComparison.Ordinal)
            ? Encoding.UTF8.GetString(Convert.FromBase64String(header["Basic ".Length..]))
            : "";
        _credentials.Enqueue(sent);
        if (sent != $"{Username}:{Password}")
        {
            http.Response.Headers.WWWAuthenticate = "Basic realm=\"redfish\"";
            return Results.Json(new { error = new { message = "Invalid username or password" } }, statusCode: 401);
        }

        return id == SystemId ? null : Results.NotFound();
    }

    private static X509Certificate2 SelfSigned()
    {
        using var rsa = RSA.Create(2048);
        var request = new CertificateRequest("CN=fake-bmc", rsa, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
        var names = new SubjectAlternativeNameBuilder();
        names.AddIpAddress(IPAddress.Loopback);
        request.CertificateExtensions.Add(names.Build());
        using var certificate = request.CreateSelfSigned(DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddDays(1));
        return X509CertificateLoader.LoadPkcs12(certificate.Export(X509ContentType.Pfx), null);
    }

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
    }
}
