using System.Text.Json.Nodes;
using Quantixkvm.Testing;

namespace Quantixkvm.ControlPlane.Tests.Support;

/// <summary>GraphQL calls on pools, volumes, templates and VM disks that the storage tests repeat.</summary>
public static class StorageApi
{
    public const string StorageOperationFields =
        "id kind status targetId hostId commandId actor name sizeBytes error { code message } startedAt acceptedByHostAt finishedAt deadline";

    public const string PoolFields =
        "id name kind hostId path status capacityBytes allocationBytes availableBytes lastError version currentOperation { id status }";

    public const string VolumeFields =
        "id name poolId format isImage status sizeBytes allocationBytes path cloneOf linked importUrl sha256 snapshots "
        + "attachedTo { id name } attachment targetDev lastError version currentOperation { id status }";

    public const string VmStorageFields =
        "id name vcpus memoryMiB powerState version host { id } currentOperation { id status kind } "
        + "disks { volumeId targetDev bus bootOrder readOnly state volume { id name } } "
        + "snapshots { name parent description withMemory powerState takenAt } currentSnapshot cloudInit { metaData hasUserData networkConfig }";

    public const string StoragePayload = $"operation {{ {StorageOperationFields} }} pool {{ {PoolFields} }} volume {{ {VolumeFields} }}";

    public const string VmPayload = $"operation {{ {Api.OperationFields} }} vm {{ {VmStorageFields} }}";

    public const string CreatePool = $"mutation($input: CreateStoragePoolInput!) {{ createStoragePool(input: $input) {{ {StoragePayload} }} }}";

    public const string CreateVolume = $"mutation($input: CreateVolumeInput!) {{ createVolume(input: $input) {{ {StoragePayload} }} }}";

    public const string ImportImage = $"mutation($input: ImportImageInput!) {{ importImage(input: $input) {{ {StoragePayload} }} }}";

    public const string CloneVolume =
        $"mutation($sourceId: ID!, $name: String!, $linked: Boolean, $commandId: ID) {{ cloneVolume(sourceId: $sourceId, name: $name, linked: $linked, commandId: $commandId) {{ {StoragePayload} }} }}";

    public const string CreateVm = $"mutation($input: CreateVmInput!) {{ createVm(input: $input) {{ {VmPayload} }} }}";

    public const string CreateVmFromTemplate = $"mutation($input: CreateVmFromTemplateInput!) {{ createVmFromTemplate(input: $input) {{ {VmPayload} }} }}";

    public const string AttachDisk =
        $"mutation($id: ID!, $disk: DiskInput!, $commandId: ID) {{ attachDisk(id: $id, disk: $disk, commandId: $commandId) {{ {VmPayload} }} }}";

    public const string DetachDisk =
        $"mutation($id: ID!, $volumeId: ID!) {{ detachDisk(id: $id, volumeId: $volumeId) {{ {VmPayload} }} }}";

    public const string TemplateFields = "id name description vcpus memoryMiB diskSizeBytes imageId image { id name } createdAt";

    public const string CreateTemplate = $"mutation($input: CreateTemplateInput!) {{ createTemplate(input: $input) {{ {TemplateFields} }} }}";

    /// <summary>A folder no other test uses.</summary>
    public static string UniquePath(string name) => $"/srv/qkvm-test/{name}-{Guid.NewGuid():N}";

    public static object DirPoolInput(Guid hostId, string name, string path, string? commandId = null) =>
        new { name, kind = "DIR", hostId = hostId.ToString(), path, commandId };

    public static async Task<JsonNode> CreatePoolAsync(this GraphQLClient api, object input) =>
        (await api.DataAsync(CreatePool, new { input }))["createStoragePool"]!;

    /// <summary>A DIR pool on the host, created and READY (the fake agent answers the create); returns its id.</summary>
    public static async Task<string> ReadyPoolAsync(this GraphQLClient api, Guid hostId, string name, string? path = null)
    {
        var created = await api.CreatePoolAsync(DirPoolInput(hostId, name, path ?? UniquePath(name)));
        await api.StorageOperationEndsAsync(created.Str("operation.id"), "SUCCEEDED");
        return created.Str("pool.id");
    }

    public static async Task<JsonNode> CreateVolumeAsync(this GraphQLClient api, string poolId, string name, long sizeBytes, string? format = null) =>
        (await api.DataAsync(CreateVolume, new { input = new { poolId, name, sizeBytes, format } }))["createVolume"]!;

    /// <summary>A volume created and READY; returns its id.</summary>
    public static async Task<string> ReadyVolumeAsync(this GraphQLClient api, string poolId, string name, long sizeBytes = 64L << 20)
    {
        var created = await api.CreateVolumeAsync(poolId, name, sizeBytes);
        await api.StorageOperationEndsAsync(created.Str("operation.id"), "SUCCEEDED");
        return created.Str("volume.id");
    }

    public static async Task<JsonNode> CloneVolumeAsync(this GraphQLClient api, string sourceId, string name, bool linked, string? commandId = null) =>
        (await api.DataAsync(CloneVolume, new { sourceId, name, linked, commandId }))["cloneVolume"]!;

    public static async Task<JsonNode> ImportImageAsync(this GraphQLClient api, string poolId, string name, string url, string sha256, string? format = null) =>
        (await api.DataAsync(ImportImage, new { input = new { poolId, name, url, sha256, format } }))["importImage"]!;

    /// <summary>An image imported and READY; returns its id.</summary>
    public static async Task<string> ReadyImageAsync(this GraphQLClient api, string poolId, string name)
    {
        var imported = await api.ImportImageAsync(poolId, name, $"https://images.example/{name}.img", new string('a', 64));
        await api.StorageOperationEndsAsync(imported.Str("operation.id"), "SUCCEEDED");
        return imported.Str("volume.id");
    }

    /// <summary>
    /// A command on a pool or volume by id (resizeVolume, deleteVolume, snapshotVolume, …), answered as sent: data or errors.
    /// </summary>
    public static Task<JsonNode> OnTargetAsync(this GraphQLClient api, string mutation, string id, long? sizeBytes = null, string? name = null,
        string? commandId = null)
    {
        var declarations = "$id: ID!, $commandId: ID" + (sizeBytes is null ? "" : ", $sizeBytes: Long!") + (name is null ? "" : ", $name: String!");
        var arguments = "id: $id, commandId: $commandId" + (sizeBytes is null ? "" : ", sizeBytes: $sizeBytes") + (name is null ? "" : ", name: $name");
        return api.SendAsync($"mutation({declarations}) {{ {mutation}({arguments}) {{ {StoragePayload} }} }}", new { id, commandId, sizeBytes, name });
    }

    /// <summary>Like <see cref="OnTargetAsync"/>, insisting on success; returns the payload.</summary>
    public static async Task<JsonNode> OnTargetOkAsync(this GraphQLClient api, string mutation, string id, long? sizeBytes = null, string? name = null)
    {
        var answer = await api.OnTargetAsync(mutation, id, sizeBytes, name);
        answer["errors"].ShouldBeNull(answer.ToJsonString());
        return answer["data"]![mutation]!;
    }

    public static (string Code, JsonNode Error) Error(this JsonNode answer)
    {
        var error = (answer["errors"] as JsonArray)?.FirstOrDefault() ?? throw new ShouldAssertException($"expected an error, got {answer.ToJsonString()}");
        return (error["extensions"]?["code"]?.GetValue<string>() ?? "", error);
    }

    public static async Task<JsonNode?> StorageOperationAsync(this GraphQLClient api, string id) =>
        (await api.DataAsync($"query($id: ID!) {{ storageOperation(id: $id) {{ {StorageOperationFields} }} }}", new { id }))["storageOperation"];

    public static Task<JsonNode> StorageOperationEndsAsync(this GraphQLClient api, string operationId, string status, TimeSpan? timeout = null) =>
        Eventually.WaitAsync(
            async () => (await api.StorageOperationAsync(operationId))!,
            o => o["status"]!.GetValue<string>() == status,
            $"storage operation {operationId} to be {status}", timeout);

    public static async Task<JsonNode?> PoolAsync(this GraphQLClient api, string id) =>
        (await api.DataAsync($"query($id: ID!) {{ storagePool(id: $id) {{ {PoolFields} volumes {{ id name }} }} }}", new { id }))["storagePool"];

    public static async Task<JsonArray> PoolsAsync(this GraphQLClient api) =>
        (await api.DataAsync($"{{ storagePools {{ {PoolFields} }} }}"))["storagePools"]!.AsArray();

    public static async Task<JsonNode?> VolumeAsync(this GraphQLClient api, string id) =>
        (await api.DataAsync($"query($id: ID!) {{ volume(id: $id) {{ {VolumeFields} }} }}", new { id }))["volume"];

    public static async Task<JsonArray> VolumesAsync(this GraphQLClient api, string? poolId = null) =>
        (await api.DataAsync($"query($poolId: ID) {{ volumes(poolId: $poolId) {{ {VolumeFields} }} }}", new { poolId }))["volumes"]!.AsArray();

    public static async Task<JsonArray> ImagesAsync(this GraphQLClient api) =>
        (await api.DataAsync($"{{ images {{ {VolumeFields} }} }}"))["images"]!.AsArray();

    public static async Task<JsonNode?> VmWithStorageAsync(this GraphQLClient api, string id) =>
        (await api.DataAsync($"query($id: ID!) {{ vm(id: $id) {{ {VmStorageFields} }} }}", new { id }))["vm"];

    public static Task<JsonNode> VmUntilAsync(this GraphQLClient api, string vmId, Func<JsonNode, bool> until, string what) =>
        Eventually.WaitAsync(async () => (await api.VmWithStorageAsync(vmId))!, until, $"VM {vmId}: {what}");

    public static Task<JsonNode> VolumeUntilAsync(this GraphQLClient api, string volumeId, Func<JsonNode, bool> until, string what) =>
        Eventually.WaitAsync(async () => (await api.VolumeAsync(volumeId))!, until, $"volume {volumeId}: {what}");

    /// <summary>A VM mutation (attachDisk, createVm, …) that must succeed; returns its payload.</summary>
    public static async Task<JsonNode> VmMutationAsync(this GraphQLClient api, string mutation, string field, object variables)
    {
        var answer = await api.SendAsync(mutation, variables);
        answer["errors"].ShouldBeNull(answer.ToJsonString());
        return answer["data"]![field]!;
    }

    public static JsonArray Arr(this JsonNode node, string path)
    {
        JsonNode? current = node;
        foreach (var part in path.Split('.'))
        {
            current = current?[part];
        }

        return current as JsonArray ?? throw new InvalidOperationException($"{path} is not a list in {node.ToJsonString()}");
    }

    public static long Long(this JsonNode node, string path)
    {
        JsonNode? current = node;
        foreach (var part in path.Split('.'))
        {
            current = current?[part];
        }

        return current?.GetValue<long>() ?? throw new InvalidOperationException($"{path} is missing in {node.ToJsonString()}");
    }

    public static IEnumerable<string> Names(this JsonArray items) => items.Select(i => i!["name"]!.GetValue<string>());
}

/// <summary>A control plane, its host, and a READY DIR pool on that host, for the tests that need volumes.</summary>
public class StorageFixture : ControlPlaneFixture
{
    private string? _poolId;

    public string PoolId => _poolId ?? throw new InvalidOperationException("the pool is not made yet");

    public string PoolPath { get; } = StorageApi.UniquePath("main");

    public override async Task InitializeAsync()
    {
        await base.InitializeAsync();
        try
        {
            _poolId = await App.Api().ReadyPoolAsync(Agent.HostId, "main", PoolPath);
        }
        catch
        {
            await DisposeAsync();
            throw;
        }
    }
}
