using Quantixkvm.Contracts;
using Quantixkvm.ControlPlane.Tests.Support;

namespace Quantixkvm.ControlPlane.Tests.Fleet;

/// <summary>DRS in MANUAL mode through the API: it records reasoned recommendations, which an operator applies or dismisses.</summary>
public sealed class DrsTests(DrsTests.Fixture fixture) : IClassFixture<DrsTests.Fixture>
{
    public sealed class Fixture : FleetFixture;

    private const string RecommendationFields =
        "id vmId vmName fromHostId toHostId imbalanceBefore imbalanceAfter reason requiresRestart status closedAt closedBy dismissReason";

    private const string Evaluate = "mutation($id: ID!) { evaluateDrs(clusterId: $id) { imbalance recommendationCount skippedBecause } }";

    /// <summary>Three equal test-driver-like hosts (no live migration) in a MANUAL DRS cluster, and three running VMs all on the first.</summary>
    private async Task<(FakeAgent[] Hosts, string ClusterId, string[] VmIds)> LopsidedClusterAsync()
    {
        var api = fixture.App.Api();
        var hosts = new FakeAgent[3];
        for (var i = 0; i < hosts.Length; i++)
        {
            hosts[i] = await FakeAgent.StartOnlineAsync(fixture.App, cpus: 8, memoryMiB: 8192, configure: a =>
            {
                a.LiveMigration = false;
                FleetApi.AnswerEverything(a);
            });
        }

        var clusterId = await api.ClusterWithAsync(new { drsMode = "MANUAL", drsThreshold = 0.1 }, hosts);
        var vmIds = new string[3];
        for (var i = 0; i < vmIds.Length; i++)
        {
            vmIds[i] = await api.VmOnAsync(hosts[0], $"heavy-{i}", start: true, vcpus: 2, memoryMiB: 2048);
        }

        return (hosts, clusterId, vmIds);
    }

    private async Task<System.Text.Json.Nodes.JsonArray> RecommendationsAsync(string clusterId, string? status = null) =>
        (await fixture.App.Api().DataAsync(
            $"query($id: ID!, $status: RecommendationStatus) {{ cluster(id: $id) {{ recommendations(status: $status) {{ {RecommendationFields} }} }} }}",
            new { id = clusterId, status }))["cluster"]!["recommendations"]!.AsArray();

    [Fact]
    public async Task evaluate_drs_recommends_moves_off_the_loaded_host_and_apply_moves_the_vm_while_dismiss_closes_one()
    {
        var api = fixture.App.Api();
        var (hosts, clusterId, vmIds) = await LopsidedClusterAsync();
        await using var a = hosts[0];
        await using var b = hosts[1];
        await using var c = hosts[2];
        var imbalance = (await api.DataAsync("query($id: ID!) { cluster(id: $id) { imbalance } }", new { id = clusterId }))["cluster"]!["imbalance"]!.GetValue<double>();
        imbalance.ShouldBeGreaterThan(0.3, "one host carries 75% and two carry nothing");

        var evaluation = (await api.DataAsync(Evaluate, new { id = clusterId }))["evaluateDrs"]!;
        evaluation["skippedBecause"].ShouldBeNull();
        evaluation["imbalance"]!.GetValue<double>().ShouldBe(imbalance, 1e-9);
        var count = evaluation["recommendationCount"]!.GetValue<int>();
        count.ShouldBeGreaterThanOrEqualTo(2);

        var open = await RecommendationsAsync(clusterId, "OPEN");
        open.Count.ShouldBe(count);
        foreach (var node in open)
        {
            var r = node!;
            r.Str("fromHostId").ShouldBe(a.HostId.ToString());
            r.Str("toHostId").ShouldBeOneOf(b.HostId.ToString(), c.HostId.ToString());
            vmIds.ShouldContain(r.Str("vmId"));
            r["imbalanceAfter"]!.GetValue<double>().ShouldBeLessThan(r["imbalanceBefore"]!.GetValue<double>());
            r.Str("reason").ShouldNotBeNullOrWhiteSpace();
            r["requiresRestart"]!.GetValue<bool>().ShouldBeTrue("the hosts cannot live-migrate");
            r.Str("reason").ShouldContain("restarts the VM");
        }

        open.Max(r => r!["imbalanceBefore"]!.GetValue<double>()).ShouldBe(imbalance, 1e-9, "the first proposed move starts from the imbalance now");
        var applied = open[0]!;
        var dismissed = open[1]!;

        var payload = (await api.DataAsync(
            $"mutation($c: ID!, $r: ID!) {{ applyRecommendation(clusterId: $c, recommendationId: $r) {{ operation {{ {Support.Api.OperationFields} }} }} }}",
            new { c = clusterId, r = applied.Str("id") }))["applyRecommendation"]!;
        var operation = payload["operation"]!;
        operation.Str("kind").ShouldBe("STOP", "a restart move powers the VM off on its source first");
        operation["force"]!.GetValue<bool>().ShouldBeTrue();
        operation.Str("hostId").ShouldBe(a.HostId.ToString());
        operation.Str("vmId").ShouldBe(applied.Str("vmId"));
        var target = hosts.Single(h => h.HostId.ToString() == applied.Str("toHostId"));
        var recover = await target.NextOperationAsync(m => m.Domain.VmId == Guid.Parse(applied.Str("vmId")), TimeSpan.FromSeconds(15));
        recover.Kind.ShouldBe(DomainOperationKind.Recover);
        recover.DesiredPowerState.ShouldBe(DomainPowerState.Running, "it was running: it is started on its new host");
        var migration = await api.MigrationEndsAsync(operation.Str("id"), "SUCCEEDED");
        migration.Str("actor").ShouldNotBeNullOrWhiteSpace();
        migration.Str("reason").ShouldStartWith("DRS: ");
        (await api.HostOfVmAsync(applied.Str("vmId"))).ShouldBe(target.HostId.ToString());

        var dismissedCluster = (await api.DataAsync(
            $"mutation($c: ID!, $r: ID!) {{ dismissRecommendation(clusterId: $c, recommendationId: $r, reason: \"not during business hours\") {{ recommendations {{ {RecommendationFields} }} }} }}",
            new { c = clusterId, r = dismissed.Str("id") }))["dismissRecommendation"]!["recommendations"]!.AsArray();

        var appliedNow = dismissedCluster.Single(r => r!.Str("id") == applied.Str("id"))!;
        appliedNow.Str("status").ShouldBe("APPLIED");
        appliedNow["closedAt"].ShouldNotBeNull();
        var dismissedNow = dismissedCluster.Single(r => r!.Str("id") == dismissed.Str("id"))!;
        dismissedNow.Str("status").ShouldBe("DISMISSED");
        dismissedNow.Str("dismissReason").ShouldBe("not during business hours");
        var (code, _) = await api.ErrorAsync(
            "mutation($c: ID!, $r: ID!) { applyRecommendation(clusterId: $c, recommendationId: $r) { operation { id } } }",
            new { c = clusterId, r = dismissed.Str("id") });
        code.ShouldBe("NOT_FOUND", "a dismissed recommendation cannot be applied");
        (await api.HostOfVmAsync(dismissed.Str("vmId"))).ShouldBe(a.HostId.ToString(), "a dismissed recommendation moves nothing");
    }

    [Fact]
    public async Task turning_drs_off_dismisses_its_open_recommendations()
    {
        var api = fixture.App.Api();
        var (hosts, clusterId, _) = await LopsidedClusterAsync();
        await using var a = hosts[0];
        await using var b = hosts[1];
        await using var c = hosts[2];
        (await api.DataAsync(Evaluate, new { id = clusterId }))["evaluateDrs"]!["recommendationCount"]!.GetValue<int>().ShouldBeGreaterThan(0);
        var open = await RecommendationsAsync(clusterId, "OPEN");
        open.Count.ShouldBeGreaterThan(0);

        await api.DataAsync(
            "mutation($id: ID!, $settings: ClusterSettingsInput!) { configureCluster(clusterId: $id, settings: $settings) { id } }",
            new { id = clusterId, settings = new { drsMode = "OFF" } });

        (await RecommendationsAsync(clusterId, "OPEN")).ShouldBeEmpty();
        var all = await RecommendationsAsync(clusterId);
        foreach (var r in open)
        {
            var closed = all.Single(x => x!.Str("id") == r!.Str("id"))!;
            closed.Str("status").ShouldBe("DISMISSED");
            closed.Str("dismissReason").ShouldBe("DRS was turned off");
        }

        hosts.SelectMany(h => h.Received).ShouldNotContain(m => m.Kind == DomainOperationKind.Recover || m.Kind == DomainOperationKind.Stop);
    }
}
