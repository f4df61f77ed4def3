using Quantixkvm.ControlPlane.Tests.Support;

namespace Quantixkvm.ControlPlane.Tests.Fleet;

/// <summary>Clusters and a host's place in the fleet through the API: settings with their limits, membership, labels and fencing.</summary>
public sealed class ClusterAndHostTests(ClusterAndHostTests.Fixture fixture) : IClassFixture<ClusterAndHostTests.Fixture>
{
    public sealed class Fixture : FleetFixture;

    private const string ConfigureCluster =
        $"mutation($id: ID!, $settings: ClusterSettingsInput!) {{ configureCluster(clusterId: $id, settings: $settings) {{ {FleetApi.ClusterFields} }} }}";

    private const string ConfigureFencing =
        $"mutation($hostId: ID!, $fencing: FencingInput!) {{ configureHostFencing(hostId: $hostId, fencing: $fencing) {{ {FleetApi.HostFields} }} }}";

    [Fact]
    public async Task a_cluster_is_created_with_the_settings_given_and_defaults_for_the_others()
    {
        var api = fixture.App.Api();
        var name = FleetApi.Unique("prod");

        var cluster = await api.CreateClusterAsync(name, new
        {
            haEnabled = false, hostFailureDetectionSeconds = 30.0, drsMode = "AUTOMATIC", drsThreshold = 0.2, cpuOvercommit = 8.0,
            placementStrategy = "PACK",
        });

        cluster.Str("name").ShouldBe(name);
        cluster["haEnabled"]!.GetValue<bool>().ShouldBeFalse();
        cluster["hostFailureDetectionSeconds"]!.GetValue<double>().ShouldBe(30);
        cluster.Str("drsMode").ShouldBe("AUTOMATIC");
        cluster["drsThreshold"]!.GetValue<double>().ShouldBe(0.2);
        cluster["cpuOvercommit"]!.GetValue<double>().ShouldBe(8);
        cluster["memoryOvercommit"]!.GetValue<double>().ShouldBe(1, "omitted: the default");
        cluster.Str("placementStrategy").ShouldBe("PACK");
        var listed = (await api.DataAsync("{ clusters { id name } }"))["clusters"]!.AsArray();
        listed.ShouldContain(c => c!.Str("id") == cluster.Str("id"));
    }

    [Theory]
    [InlineData("hostFailureDetectionSeconds", 2.0, "3 to 3600 seconds")]
    [InlineData("hostFailureDetectionSeconds", 3601.0, "3 to 3600 seconds")]
    [InlineData("drsThreshold", 0.001, "between 0.01 and 1")]
    [InlineData("drsThreshold", 1.5, "between 0.01 and 1")]
    [InlineData("cpuOvercommit", 0.5, "1 to 32")]
    [InlineData("cpuOvercommit", 33.0, "1 to 32")]
    [InlineData("memoryOvercommit", 0.9, "1 to 4")]
    [InlineData("memoryOvercommit", 4.5, "1 to 4")]
    public async Task each_setting_out_of_its_range_is_refused_as_validation_naming_the_limit_on_create_and_on_configure(
        string setting, double value, string limit)
    {
        var api = fixture.App.Api();
        var settings = new Dictionary<string, object> { [setting] = value };

        var (code, error) = await api.ErrorAsync(
            "mutation($name: String!, $settings: ClusterSettingsInput) { createCluster(name: $name, settings: $settings) { id } }",
            new { name = FleetApi.Unique("bad"), settings });
        code.ShouldBe("VALIDATION");
        error.Str("message").ShouldContain(limit);

        var cluster = await api.CreateClusterAsync(FleetApi.Unique("good"));
        var (configureCode, configureError) = await api.ErrorAsync(ConfigureCluster, new { id = cluster.Str("id"), settings });
        configureCode.ShouldBe("VALIDATION");
        configureError.Str("message").ShouldContain(limit);
        var unchanged = (await api.DataAsync($"query($id: ID!) {{ cluster(id: $id) {{ {FleetApi.ClusterFields} }} }}", new { id = cluster.Str("id") }))["cluster"]!;
        unchanged.ToJsonString().ShouldBe(cluster.ToJsonString(), "a refused configuration changes nothing");
    }

    [Fact]
    public async Task configure_cluster_changes_only_the_settings_given_and_keeps_the_omitted_ones()
    {
        var api = fixture.App.Api();
        var cluster = await api.CreateClusterAsync(FleetApi.Unique("keep"), new
        {
            haEnabled = false, hostFailureDetectionSeconds = 20.0, drsMode = "OFF", drsThreshold = 0.3, cpuOvercommit = 2.0, memoryOvercommit = 1.5,
            placementStrategy = "PACK",
        });

        var configured = (await api.DataAsync(ConfigureCluster, new { id = cluster.Str("id"), settings = new { cpuOvercommit = 6.0 } }))["configureCluster"]!;

        configured["cpuOvercommit"]!.GetValue<double>().ShouldBe(6);
        configured["haEnabled"]!.GetValue<bool>().ShouldBeFalse();
        configured["hostFailureDetectionSeconds"]!.GetValue<double>().ShouldBe(20);
        configured.Str("drsMode").ShouldBe("OFF");
        configured["drsThreshold"]!.GetValue<double>().ShouldBe(0.3);
        configured["memoryOvercommit"]!.GetValue<double>().ShouldBe(1.5);
        configured.Str("placementStrategy").ShouldBe("PACK");
        configured["version"]!.GetValue<int>().ShouldBeGreaterThan(cluster["version"]!.GetValue<int>());
    }

    [Fact]
    public async Task a_host_is_assigned_to_an_existing_cluster_and_an_unknown_cluster_is_not_found()
    {
        await using var host = await FakeAgent.StartOnlineAsync(fixture.App);
        var api = fixture.App.Api();
        var unknown = Guid.NewGuid().ToString();

        var (code, error) = await api.ErrorAsync(
            "mutation($hostId: ID!, $clusterId: ID) { assignHostToCluster(hostId: $hostId, clusterId: $clusterId) { id } }",
            new { hostId = host.HostId.ToString(), clusterId = unknown });
        code.ShouldBe("NOT_FOUND");
        error.Str("message").ShouldContain(unknown);
        (await api.HostAsync(host.HostId))["cluster"].ShouldBeNull();

        var cluster = await api.CreateClusterAsync(FleetApi.Unique("home"));
        var assigned = await api.AssignAsync(host.HostId, cluster.Str("id"));
        assigned.Str("cluster.id").ShouldBe(cluster.Str("id"));
        var members = (await api.DataAsync("query($id: ID!) { cluster(id: $id) { hosts { id } } }", new { id = cluster.Str("id") }))["cluster"]!["hosts"]!.AsArray();
        members.Select(h => h!.Str("id")).ShouldBe([host.HostId.ToString()]);

        (await api.AssignAsync(host.HostId, null))["cluster"].ShouldBeNull("clusterId null takes the host out of any cluster");
    }

    [Fact]
    public async Task host_labels_are_replaced_and_a_bad_label_key_is_refused_as_validation()
    {
        await using var host = await FakeAgent.StartOnlineAsync(fixture.App);
        var api = fixture.App.Api();

        var labelled = await api.SetLabelsAsync(host.HostId, ("zone", "eu-1"), ("disk", "ssd"));
        labelled["labels"]!.AsArray().Select(l => $"{l!.Str("key")}={l!.Str("value")}").ShouldBe(["disk=ssd", "zone=eu-1"]);

        var (code, error) = await api.ErrorAsync(
            "mutation($hostId: ID!, $labels: [LabelInput!]!) { setHostLabels(hostId: $hostId, labels: $labels) { id } }",
            new { hostId = host.HostId.ToString(), labels = new[] { new { key = "-bad key!", value = "x" } } });
        code.ShouldBe("VALIDATION");
        error.Str("message").ShouldContain("label key '-bad key!'");

        (await api.HostAsync(host.HostId))["labels"]!.AsArray().Count.ShouldBe(2, "a refused change keeps the labels");
        (await api.SetLabelsAsync(host.HostId, ("zone", "eu-2")))["labels"]!.AsArray()
            .Select(l => $"{l!.Str("key")}={l!.Str("value")}").ShouldBe(["zone=eu-2"], "labels are replaced, not merged");
    }

    [Fact]
    public async Task host_fencing_is_configured_in_order_and_an_unknown_fencer_or_redfish_without_endpoint_is_refused_as_validation()
    {
        await using var host = await FakeAgent.StartOnlineAsync(fixture.App);
        var api = fixture.App.Api();
        var hostId = host.HostId.ToString();

        var (unknownCode, unknownError) = await api.ErrorAsync(ConfigureFencing, new { hostId, fencing = new { order = new[] { "agent", "crowbar" } } });
        unknownCode.ShouldBe("VALIDATION");
        unknownError.Str("message").ShouldContain("unknown fencer 'crowbar'");

        var (redfishCode, redfishError) = await api.ErrorAsync(ConfigureFencing, new { hostId, fencing = new { order = new[] { "redfish" } } });
        redfishCode.ShouldBe("VALIDATION");
        redfishError.Str("message").ShouldContain("redfish fencer needs its endpoint");
        (await api.HostAsync(host.HostId))["fencing"].ShouldBeNull("nothing was configured");

        var configured = (await api.DataAsync(ConfigureFencing, new
        {
            hostId,
            fencing = new
            {
                order = new[] { "redfish", "agent" }, redfishEndpoint = "https://bmc.example:443", redfishUsername = "root", redfishPasswordSecret = "bmc-pass",
            },
        }))["configureHostFencing"]!;
        configured["fencing"]!["order"]!.AsArray().Select(o => o!.GetValue<string>()).ShouldBe(["redfish", "agent"]);
        configured.Str("fencing.redfishEndpoint").ShouldBe("https://bmc.example:443");
    }

    [Fact]
    public async Task a_cluster_with_hosts_cannot_be_deleted_and_an_empty_one_can()
    {
        await using var host = await FakeAgent.StartOnlineAsync(fixture.App);
        var api = fixture.App.Api();
        var clusterId = await api.ClusterWithAsync(null, host);
        const string Delete = "mutation($id: ID!) { deleteCluster(clusterId: $id) { id } }";

        var (code, error) = await api.ErrorAsync(Delete, new { id = clusterId });
        code.ShouldBe("INVALID_STATE");
        error.Str("message").ShouldContain("still has 1 hosts");
        (await api.DataAsync("query($id: ID!) { cluster(id: $id) { id } }", new { id = clusterId }))["cluster"].ShouldNotBeNull();

        await api.AssignAsync(host.HostId, null);
        await api.DataAsync(Delete, new { id = clusterId });
        (await api.DataAsync("query($id: ID!) { cluster(id: $id) { id } }", new { id = clusterId }))["cluster"].ShouldBeNull();
        var (assignCode, _) = await api.ErrorAsync(
            "mutation($hostId: ID!, $clusterId: ID) { assignHostToCluster(hostId: $hostId, clusterId: $clusterId) { id } }",
            new { hostId = host.HostId.ToString(), clusterId });
        assignCode.ShouldBe("NOT_FOUND", "a deleted cluster takes no hosts");
    }
}
