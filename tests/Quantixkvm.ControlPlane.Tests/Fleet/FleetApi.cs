using System.Text.Json.Nodes;
using Quantixkvm.Contracts;
using Quantixkvm.ControlPlane.Tests.Support;
using Quantixkvm.Testing;

namespace Quantixkvm.ControlPlane.Tests.Fleet;

/// <summary>A control plane without hosts of its own, with the fleet settings a test class gives; each test brings its hosts (and clusters).</summary>
public abstract class FleetFixture : ControlPlaneFixture
{
    protected override bool StartsAgent => false;
}

/// <summary>GraphQL calls on hosts, clusters, placement and migrations that the fleet tests repeat.</summary>
public static class FleetApi
{
    public const string ClusterFields =
        "id name haEnabled hostFailureDetectionSeconds drsMode drsThreshold cpuOvercommit memoryOvercommit placementStrategy version";

    public const string HostFields =
        "id name state maintenance status cluster { id } labels { key value } liveMigration cpuFeatures fencing { order redfishEndpoint } "
        + "fencedAt fencedBy fenceEvidence lastFenceFailure stuckVms { vmId vmName reason } version";

    public const string MigrationFields =
        "id vmId fromHostId toHostId mode restartOnTarget reason actor status error requestedAt cancelRequestedAt finishedAt "
        + "progress { dataTotalBytes dataProcessedBytes dataRemainingBytes percent elapsedSeconds }";

    public const string RejectionFields = "hostId hostName filter reason";

    /// <summary>A name no other test uses (clusters, label values).</summary>
    public static string Unique(string prefix) => $"{prefix}-{Guid.NewGuid():N}"[..(prefix.Length + 13)];

    public static async Task<JsonNode> CreateClusterAsync(this GraphQLClient api, string name, object? settings = null) =>
        (await api.DataAsync(
            $"mutation($name: String!, $settings: ClusterSettingsInput) {{ createCluster(name: $name, settings: $settings) {{ {ClusterFields} }} }}",
            new { name, settings }))["createCluster"]!;

    /// <summary>A new cluster with these settings, and these hosts in it; returns its id.</summary>
    public static async Task<string> ClusterWithAsync(this GraphQLClient api, object? settings, params FakeAgent[] hosts)
    {
        var id = (await api.CreateClusterAsync(Unique("c"), settings)).Str("id");
        foreach (var host in hosts)
        {
            await api.AssignAsync(host.HostId, id);
        }

        return id;
    }

    public static async Task<JsonNode> AssignAsync(this GraphQLClient api, Guid hostId, string? clusterId) =>
        (await api.DataAsync(
            $"mutation($hostId: ID!, $clusterId: ID) {{ assignHostToCluster(hostId: $hostId, clusterId: $clusterId) {{ {HostFields} }} }}",
            new { hostId = hostId.ToString(), clusterId }))["assignHostToCluster"]!;

    public static async Task<JsonNode> SetLabelsAsync(this GraphQLClient api, Guid hostId, params (string Key, string Value)[] labels) =>
        (await api.DataAsync(
            $"mutation($hostId: ID!, $labels: [LabelInput!]!) {{ setHostLabels(hostId: $hostId, labels: $labels) {{ {HostFields} }} }}",
            new { hostId = hostId.ToString(), labels = labels.Select(l => new { key = l.Key, value = l.Value }).ToArray() }))["setHostLabels"]!;

    public static async Task<JsonNode> HostAsync(this GraphQLClient api, Guid hostId, string fields = HostFields) =>
        (await api.DataAsync($"query($id: ID!) {{ host(id: $id) {{ {fields} }} }}", new { id = hostId.ToString() }))["host"]!;

    public static Task<JsonNode> HostUntilAsync(this GraphQLClient api, Guid hostId, Func<JsonNode, bool> until, string what, TimeSpan? timeout = null) =>
        Eventually.WaitAsync(() => api.HostAsync(hostId), until, what, timeout);

    public static async Task<JsonNode> VmHostAsync(this GraphQLClient api, string vmId) =>
        (await api.DataAsync(
            $"query($id: ID!) {{ vm(id: $id) {{ id name powerState host {{ id }} haPriority currentOperation {{ id }} migration {{ {MigrationFields} }} }} }}",
            new { id = vmId }))["vm"]!;

    public static async Task<string?> HostOfVmAsync(this GraphQLClient api, string vmId) =>
        (await api.VmHostAsync(vmId))["host"]?["id"]?.GetValue<string>();

    public static async Task<JsonArray> MigrationsAsync(this GraphQLClient api, string vmId) =>
        (await api.DataAsync($"query($vmId: ID) {{ migrations(vmId: $vmId) {{ {MigrationFields} }} }}", new { vmId }))["migrations"]!.AsArray();

    public static async Task<JsonNode?> MigrationAsync(this GraphQLClient api, string id) =>
        (await api.DataAsync($"query($id: ID!) {{ migration(id: $id) {{ {MigrationFields} }} }}", new { id }))["migration"];

    public static Task<JsonNode> MigrationEndsAsync(this GraphQLClient api, string id, string status, TimeSpan? timeout = null) =>
        Eventually.WaitAsync(async () => (await api.MigrationAsync(id))!, m => m.Str("status") == status, $"migration {id} to be {status}", timeout);

    public static Task<JsonNode> MigrateAsync(
        this GraphQLClient api, string vmId, Guid? targetHostId = null, string? mode = null, bool? restartOnTarget = null, string? commandId = null) =>
        api.SendAsync(
            $"mutation($id: ID!, $target: ID, $mode: MigrationMode, $restart: Boolean, $commandId: ID) {{ migrateVm(id: $id, targetHostId: $target, mode: $mode, "
            + $"restartOnTarget: $restart, commandId: $commandId) {{ operation {{ {Support.Api.OperationFields} }} vm {{ id }} }} }}",
            new { id = vmId, target = targetHostId?.ToString(), mode, restart = restartOnTarget, commandId });

    /// <summary>The history's event types of a VM or host stream (through the API).</summary>
    public static async Task<List<string>> HistoryAsync(this GraphQLClient api, string kind, string id) =>
        (await api.DataAsync($"query($id: ID!) {{ {kind}(id: $id) {{ history {{ type }} }} }}", new { id }))[kind]!["history"]!.AsArray()
            .Select(e => e!.Str("type")).ToList();

    /// <summary>
    /// A VM defined on the host (and started if asked) whose create the host's agent answered; returns its id once the
    /// create has SUCCEEDED. The agent must answer on its own (<see cref="FakeAgent.AutoAnswer"/>).
    /// </summary>
    public static async Task<string> VmOnAsync(
        this GraphQLClient api, FakeAgent host, string name, bool start, int vcpus = 1, int memoryMiB = 256, string? haPriority = null)
    {
        var created = (await api.DataAsync(
            $"mutation($input: CreateVmInput!) {{ createVm(input: $input) {{ operation {{ {Support.Api.OperationFields} }} vm {{ id }} }} }}",
            new { input = new { name, vcpus, memoryMiB, start, hostId = host.HostId.ToString(), haPriority } }))["createVm"]!;
        created.Str("operation.hostId").ShouldBe(host.HostId.ToString());
        await api.OperationEndsAsync(created.Str("operation.id"), "SUCCEEDED");
        return created.Str("vm.id");
    }

    /// <summary>An agent that answers every domain operation with success in the power state asked for.</summary>
    public static void AnswerEverything(FakeAgent agent) => agent.AutoAnswer = DomainAnswer.AsAsked;

    public static JsonNode RejectionOf(JsonNode rejections, Guid hostId) =>
        rejections.AsArray().SingleOrDefault(r => r!.Str("hostId") == hostId.ToString())
        ?? throw new ShouldAssertException($"no rejection for host {hostId} in {rejections.ToJsonString()}");
}
