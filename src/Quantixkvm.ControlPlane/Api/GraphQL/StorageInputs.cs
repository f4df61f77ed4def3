using GraphQL.Types;
using Quantixkvm.Domain.Storage;

namespace Quantixkvm.ControlPlane.Api.GraphQL;

public sealed record CreateStoragePoolInput(
    string Name, PoolKind Kind, Guid? HostId, string? Path, string? CephPool, IReadOnlyList<string>? CephMonitors, string? CephUser, string? CommandId);

public sealed class CreateStoragePoolInputType : InputObjectGraphType<CreateStoragePoolInput>
{
    public CreateStoragePoolInputType()
    {
        Name = "CreateStoragePoolInput";
        Field<NonNullGraphType<StringGraphType>>("name").Description("Letters, digits, '.', '_' and '-'; up to 64.");
        Field<NonNullGraphType<PoolKindType>>("kind");
        Field<IdGraphType>("hostId").Description("DIR: the host the folder is on.");
        Field<StringGraphType>("path").Description("DIR: an absolute folder; made if missing.");
        Field<StringGraphType>("cephPool").Description("RBD: the Ceph pool.");
        Field<ListGraphType<NonNullGraphType<StringGraphType>>>("cephMonitors").Description("RBD: monitors as host:port.");
        Field<StringGraphType>("cephUser").Description("RBD: the cephx user (without 'client.'); each host reads its key from its own keyring.");
        Field<IdGraphType>("commandId");
    }

    public override object ParseDictionary(IDictionary<string, object?> value) => new CreateStoragePoolInput(
        (string)value["name"]!,
        (PoolKind)value["kind"]!,
        value.TryGetValue("hostId", out var h) && h is not null ? RequestContext.ParseId(h.ToString(), "hostId") : null,
        Optional(value, "path"),
        Optional(value, "cephPool"),
        value.TryGetValue("cephMonitors", out var m) && m is IEnumerable<object?> monitors ? monitors.Select(x => x?.ToString() ?? "").ToList() : null,
        Optional(value, "cephUser"),
        Optional(value, "commandId"));

    internal static string? Optional(IDictionary<string, object?> value, string key) => value.TryGetValue(key, out var v) ? v?.ToString() : null;
}

public sealed record CreateVolumeInput(Guid PoolId, string Name, VolumeFormat? Format, long SizeBytes, string? CommandId);

public sealed class CreateVolumeInputType : InputObjectGraphType<CreateVolumeInput>
{
    public CreateVolumeInputType()
    {
        Name = "CreateVolumeInput";
        Field<NonNullGraphType<IdGraphType>>("poolId");
        Field<NonNullGraphType<StringGraphType>>("name");
        Field<VolumeFormatType>("format").Description("Default QCOW2.");
        Field<NonNullGraphType<LongGraphType>>("sizeBytes").Description("1 MiB to 64 TiB.");
        Field<IdGraphType>("commandId");
    }

    public override object ParseDictionary(IDictionary<string, object?> value) => new CreateVolumeInput(
        RequestContext.ParseId(value["poolId"]?.ToString(), "poolId"),
        (string)value["name"]!,
        value.TryGetValue("format", out var f) ? (VolumeFormat?)f : null,
        Convert.ToInt64(value["sizeBytes"], System.Globalization.CultureInfo.InvariantCulture),
        CreateStoragePoolInputType.Optional(value, "commandId"));
}

public sealed record ImportImageInput(Guid PoolId, string Name, string Url, string? Sha256, VolumeFormat? Format, string? CommandId);

public sealed class ImportImageInputType : InputObjectGraphType<ImportImageInput>
{
    public ImportImageInputType()
    {
        Name = "ImportImageInput";
        Field<NonNullGraphType<IdGraphType>>("poolId");
        Field<NonNullGraphType<StringGraphType>>("name");
        Field<NonNullGraphType<StringGraphType>>("url").Description("http(s)://…, file:///… or an absolute path on the host (under its import folders).");
        Field<NonNullGraphType<StringGraphType>>("sha256").Description("The image's SHA-256, 64 hex digits.");
        Field<VolumeFormatType>("format").Description("The image's format (default RAW).");
        Field<IdGraphType>("commandId");
    }

    public override object ParseDictionary(IDictionary<string, object?> value) => new ImportImageInput(
        RequestContext.ParseId(value["poolId"]?.ToString(), "poolId"),
        (string)value["name"]!,
        (string)value["url"]!,
        CreateStoragePoolInputType.Optional(value, "sha256"),
        value.TryGetValue("format", out var f) ? (VolumeFormat?)f : null,
        CreateStoragePoolInputType.Optional(value, "commandId"));
}

public sealed record CreateTemplateInput(
    string Name, string? Description, int Vcpus, int MemoryMiB, Guid ImageId, long? DiskSizeBytes, string? CommandId);

public sealed class CreateTemplateInputType : InputObjectGraphType<CreateTemplateInput>
{
    public CreateTemplateInputType()
    {
        Name = "CreateTemplateInput";
        Field<NonNullGraphType<StringGraphType>>("name");
        Field<StringGraphType>("description");
        Field<NonNullGraphType<IntGraphType>>("vcpus");
        Field<NonNullGraphType<IntGraphType>>("memoryMiB");
        Field<NonNullGraphType<IdGraphType>>("imageId");
        Field<LongGraphType>("diskSizeBytes").Description("The boot disk's size (default: the image's).");
        Field<IdGraphType>("commandId");
    }

    public override object ParseDictionary(IDictionary<string, object?> value) => new CreateTemplateInput(
        (string)value["name"]!,
        CreateStoragePoolInputType.Optional(value, "description"),
        (int)value["vcpus"]!,
        (int)value["memoryMiB"]!,
        RequestContext.ParseId(value["imageId"]?.ToString(), "imageId"),
        value.TryGetValue("diskSizeBytes", out var d) && d is not null ? Convert.ToInt64(d, System.Globalization.CultureInfo.InvariantCulture) : null,
        CreateStoragePoolInputType.Optional(value, "commandId"));
}
