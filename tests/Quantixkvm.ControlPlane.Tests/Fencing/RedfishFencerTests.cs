using System.Diagnostics;
using Quantixkvm.ControlPlane.Ha.Fencing;
using Quantixkvm.Domain.Hosts;

namespace Quantixkvm.ControlPlane.Tests.Fencing;

/// <summary>The Redfish fencer against a real HTTP(S) server playing the BMC.</summary>
public sealed class RedfishFencerTests : IDisposable
{
    private readonly TempFolder _secrets = new();

    public RedfishFencerTests() => _secrets.Write("bmc-node1", "calvin\n");

    public void Dispose() => _secrets.Dispose();

    [Fact]
    public async Task a_host_powered_off_with_force_off_is_fenced_once_the_bmc_reports_off()
    {
        await using var bmc = await FakeBmc.StartAsync();
        await using var fencing = await StartFencingAsync();

        var verdict = await fencing.Fencer("redfish").FenceAsync(Target(bmc), CancellationToken.None);

        verdict.Fenced.ShouldBeTrue(verdict.Detail);
        verdict.Detail.ShouldContain("accepted ForceOff and reports PowerState Off");
        bmc.ResetTypes.ShouldBe(["ForceOff"]);
        bmc.Credentials.ShouldNotBeEmpty();
        bmc.Credentials.ShouldAllBe(c => c == "root:calvin");
        // The system reported On for a while after the reset: the fencer read it again until Off.
        bmc.Credentials.Count.ShouldBeGreaterThanOrEqualTo(3);
    }

    [Fact]
    public async Task a_host_that_is_already_off_is_fenced_without_a_reset()
    {
        await using var bmc = await FakeBmc.StartAsync(configure: b => b.InitiallyOff = true);
        await using var fencing = await StartFencingAsync();

        var verdict = await fencing.Fencer("redfish").FenceAsync(Target(bmc), CancellationToken.None);

        verdict.Fenced.ShouldBeTrue(verdict.Detail);
        verdict.Detail.ShouldContain("already off");
        bmc.ResetTypes.ShouldBeEmpty();
    }

    [Fact]
    public async Task a_wrong_password_is_not_fenced_and_the_reason_has_the_status()
    {
        await using var bmc = await FakeBmc.StartAsync();
        _secrets.Write("bmc-node1", "not-calvin");
        await using var fencing = await StartFencingAsync();
        var target = Target(bmc);

        var verdict = await fencing.Fencer("redfish").FenceAsync(target, CancellationToken.None);

        verdict.Fenced.ShouldBeFalse();
        verdict.Detail.ShouldContain("401");
        verdict.Detail.ShouldContain(target.HostName);
        verdict.Detail.ShouldNotContain("not-calvin");
        bmc.ResetTypes.ShouldBeEmpty();
    }

    [Fact]
    public async Task a_bmc_that_never_reports_off_is_not_fenced_after_the_confirm_time()
    {
        await using var bmc = await FakeBmc.StartAsync(configure: b => b.OffAfter = null);
        await using var fencing = await StartFencingAsync(new() { ["PowerOffConfirmSeconds"] = "1" });

        var clock = Stopwatch.StartNew();
        var verdict = await fencing.Fencer("redfish").FenceAsync(Target(bmc), CancellationToken.None);

        verdict.Fenced.ShouldBeFalse();
        verdict.Detail.ShouldContain("did not report PowerState Off within 1 s (last: PowerState On)");
        bmc.ResetTypes.ShouldBe(["ForceOff"]);
        clock.Elapsed.ShouldBeGreaterThanOrEqualTo(TimeSpan.FromSeconds(0.9));
        clock.Elapsed.ShouldBeLessThan(TimeSpan.FromSeconds(15));
    }

    [Fact]
    public async Task a_missing_password_secret_is_not_fenced_and_nothing_is_sent()
    {
        await using var bmc = await FakeBmc.StartAsync();
        await using var fencing = await StartFencingAsync();
        var target = Target(bmc);
        target = target with { Config = target.Config with { Redfish = target.Config.Redfish! with { PasswordSecret = "no-such-secret" } } };

        var verdict = await fencing.Fencer("redfish").FenceAsync(target, CancellationToken.None);

        verdict.Fenced.ShouldBeFalse();
        verdict.Detail.ShouldContain("password secret 'no-such-secret' is missing");
        verdict.Detail.ShouldContain(target.HostName);
        bmc.Credentials.ShouldBeEmpty();
    }

    [Fact]
    public async Task a_self_signed_bmc_certificate_is_accepted_only_when_tls_verification_is_off()
    {
        await using var bmc = await FakeBmc.StartAsync(https: true);
        await using var fencing = await StartFencingAsync();
        bmc.Endpoint.ShouldStartWith("https://");

        var verified = await fencing.Fencer("redfish").FenceAsync(Target(bmc, verifyTls: true), CancellationToken.None);
        var unverified = await fencing.Fencer("redfish").FenceAsync(Target(bmc, verifyTls: false), CancellationToken.None);

        verified.Fenced.ShouldBeFalse();
        verified.Detail.ShouldContain("SSL", Case.Insensitive);
        unverified.Fenced.ShouldBeTrue(unverified.Detail);
        bmc.ResetTypes.ShouldBe(["ForceOff"]);
    }

    [Fact]
    public async Task an_unreachable_bmc_is_not_fenced_with_the_connection_error()
    {
        await using var fencing = await StartFencingAsync();
        // A port nobody listens on: the BMC's network is down.
        var target = FencingHost.Target(new HostFencing(["redfish"], new RedfishFencing("http://127.0.0.1:1", FakeBmc.SystemId, "root", "bmc-node1")));

        var verdict = await fencing.Fencer("redfish").FenceAsync(target, CancellationToken.None);

        verdict.Fenced.ShouldBeFalse();
        verdict.Detail.ShouldContain("reading the power state");
        verdict.Detail.ShouldContain(target.HostName);
    }

    private Task<FencingHost> StartFencingAsync(Dictionary<string, string?>? settings = null)
    {
        settings ??= [];
        settings["SecretsDirectory"] = _secrets.Path;
        settings["PollSeconds"] = "0.1";
        return FencingHost.StartAsync(settings);
    }

    private static FenceTarget Target(FakeBmc bmc, bool verifyTls = true) =>
        FencingHost.Target(new HostFencing(["redfish"], new RedfishFencing(bmc.Endpoint, FakeBmc.SystemId, "root", "bmc-node1", verifyTls)));
}
