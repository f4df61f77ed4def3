using System.Diagnostics;
using Quantixkvm.Testing;

namespace Quantixkvm.EndToEnd.Tests;

/// <summary>
/// Clients nobody in the project wrote, against the running control plane: the graphql-http
/// library's GraphQL-over-HTTP conformance audit, and the graphql-ws library's WebSocket client
/// (tests/conformance, installed from the npm registry with the committed lock file).
/// </summary>
[Collection(PlatformCollection.Name)]
public sealed class StandardClientsTests(Platform platform)
{
    private static readonly string Folder = Path.Combine(PlatformProcess.RepositoryRoot, "tests", "conformance");
    private static readonly SemaphoreSlim Install = new(1, 1);

    [Fact]
    public async Task the_graphql_over_http_conformance_audit_passes()
    {
        var (exitCode, output) = await NodeAsync("http-audit.mjs");
        exitCode.ShouldBe(0, output);
        output.ShouldContain("0 MUST failures");
    }

    [Fact]
    public async Task the_graphql_ws_librarys_own_client_follows_an_operation_to_its_end()
    {
        var (exitCode, output) = await NodeAsync("ws-client.mjs");
        exitCode.ShouldBe(0, output);
        output.ShouldMatch(@"went (\w+ -> )*SUCCEEDED\s*$", "the stream's last state is SUCCEEDED, then it completed");
    }

    private async Task<(int ExitCode, string Output)> NodeAsync(string script)
    {
        await Install.WaitAsync();
        try
        {
            if (!Directory.Exists(Path.Combine(Folder, "node_modules", "graphql-ws")))
            {
                var (code, output) = await RunAsync("npm", "ci", "--no-audit", "--no-fund", "--loglevel=error");
                code.ShouldBe(0, $"npm ci in {Folder} failed:\n{output}");
            }
        }
        finally
        {
            Install.Release();
        }

        return await RunAsync("node", script, new Uri(platform.Endpoint, "graphql").ToString());
    }

    private static async Task<(int ExitCode, string Output)> RunAsync(string file, params string[] args)
    {
        var start = new ProcessStartInfo(file, args)
        {
            WorkingDirectory = Folder,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        using var process = Process.Start(start) ?? throw new InvalidOperationException($"{file} did not start");
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(3));
        await process.WaitForExitAsync(timeout.Token);
        return (process.ExitCode, await stdout + await stderr);
    }
}
