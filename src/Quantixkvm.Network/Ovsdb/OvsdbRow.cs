using System.Text.Json.Nodes;

namespace Quantixkvm.Network.Ovsdb;

/// <summary>A row as a server returns it (select results, monitor updates), with typed readers for its columns.</summary>
public sealed class OvsdbRow
{
    public OvsdbRow(JsonObject columns)
    {
        Columns = columns;
    }

    public JsonObject Columns { get; }

    /// <summary>The row's _uuid (selected rows carry it when no column list was given, or when it is listed).</summary>
    public Guid Uuid => OvsdbValue.ReadUuid(Get("_uuid"));

    public bool Has(string column) => Columns.ContainsKey(column);

    public JsonNode? Get(string column) =>
        Columns.TryGetPropertyValue(column, out var value) ? value : throw new KeyNotFoundException($"the row has no column '{column}'");

    public string String(string column) => Get(column)!.GetValue<string>();

    public long Integer(string column) => Get(column)!.GetValue<long>();

    public bool Boolean(string column) => Get(column)!.GetValue<bool>();

    /// <summary>An optional column (min 0, max 1) of strings: null when empty.</summary>
    public string? OptionalString(string column) => OvsdbValue.ReadSet(Get(column)).FirstOrDefault()?.GetValue<string>();

    /// <summary>An optional integer column: null when empty.</summary>
    public long? OptionalInteger(string column) => OvsdbValue.ReadSet(Get(column)) is [var one] ? one!.GetValue<long>() : null;

    /// <summary>An optional reference column: null when empty.</summary>
    public Guid? OptionalUuid(string column) => OvsdbValue.ReadSet(Get(column)) is [var one] ? OvsdbValue.ReadUuid(one) : null;

    public IReadOnlyList<string> StringSet(string column) => OvsdbValue.ReadStringSet(Get(column));

    public IReadOnlyList<Guid> UuidSet(string column) => OvsdbValue.ReadUuidSet(Get(column));

    public IReadOnlyDictionary<string, string> StringMap(string column) => OvsdbValue.ReadStringMap(Get(column));

    public override string ToString() => Columns.ToJsonString();
}

/// <summary>
/// The result of one operation of a transaction: the new row's uuid (insert), the rows (select), or how many rows were
/// touched (update, mutate, delete).
/// </summary>
public sealed record OvsdbOperationResult(Guid? Uuid, IReadOnlyList<OvsdbRow>? Rows, int? Count)
{
    internal static OvsdbOperationResult From(JsonObject result) => new(
        result.TryGetPropertyValue("uuid", out var uuid) ? OvsdbValue.ReadUuid(uuid) : null,
        result.TryGetPropertyValue("rows", out var rows) ? [.. rows!.AsArray().Select(r => new OvsdbRow(r!.AsObject()))] : null,
        result.TryGetPropertyValue("count", out var count) ? count!.GetValue<int>() : null);
}
