using System.Text.Json.Nodes;

namespace Quantixkvm.Network.Ovsdb;

/// <summary>A condition of a "where" clause (RFC 7047 5.1): column, function ("==", "!=", "includes", "excludes", "&lt;", ...), value.</summary>
public sealed record OvsdbCondition(string Column, string Function, JsonNode Value)
{
    public static OvsdbCondition Equal(string column, JsonNode value) => new(column, "==", value);

    public static OvsdbCondition Equal(string column, string value) => new(column, "==", JsonValue.Create(value));

    public static OvsdbCondition NotEqual(string column, JsonNode value) => new(column, "!=", value);

    public static OvsdbCondition Includes(string column, JsonNode value) => new(column, "includes", value);

    /// <summary>The row with this uuid.</summary>
    public static OvsdbCondition IsRow(Guid uuid) => new("_uuid", "==", OvsdbValue.Uuid(uuid));

    /// <summary>A map column (e.g. external_ids) holding this key with this value.</summary>
    public static OvsdbCondition HasKey(string column, string key, string value) =>
        new(column, "includes", OvsdbValue.Map([new(key, value)]));

    internal JsonArray ToJson() => new(Column, Function, Value.DeepClone());
}

/// <summary>A mutation (RFC 7047 5.1): column, mutator ("insert", "delete", "+=", ...), value.</summary>
public sealed record OvsdbMutation(string Column, string Mutator, JsonNode Value)
{
    /// <summary>Adds elements to a set, or pairs to a map (keys already present keep their value).</summary>
    public static OvsdbMutation Insert(string column, JsonNode value) => new(column, "insert", value);

    /// <summary>Removes elements from a set; from a map, pairs (a map value) or keys (a set value).</summary>
    public static OvsdbMutation Delete(string column, JsonNode value) => new(column, "delete", value);

    internal JsonArray ToJson() => new(Column, Mutator, Value.DeepClone());
}

/// <summary>
/// One operation of a "transact" request (RFC 7047 5.2). <see cref="Description"/> names it in errors, e.g.
/// "insert into Bridge" or "wait on Logical_Switch".
/// </summary>
public sealed class OvsdbOperation
{
    private OvsdbOperation(string description, JsonObject json)
    {
        Description = description;
        Json = json;
    }

    public string Description { get; }

    internal JsonObject Json { get; }

    /// <summary>Inserts a row; <paramref name="uuidName"/> lets later operations of the transaction refer to it as ["named-uuid", name].</summary>
    public static OvsdbOperation Insert(string table, JsonObject row, string? uuidName = null)
    {
        var json = new JsonObject { ["op"] = "insert", ["table"] = table, ["row"] = row.DeepClone() };
        if (uuidName is not null)
        {
            json["uuid-name"] = uuidName;
        }

        return new($"insert into {table}", json);
    }

    public static OvsdbOperation Select(string table, IEnumerable<OvsdbCondition> where, IEnumerable<string>? columns = null)
    {
        var json = new JsonObject { ["op"] = "select", ["table"] = table, ["where"] = Where(where) };
        if (columns is not null)
        {
            json["columns"] = new JsonArray([.. columns.Select(c => (JsonNode?)JsonValue.Create(c))]);
        }

        return new($"select from {table}", json);
    }

    public static OvsdbOperation Update(string table, IEnumerable<OvsdbCondition> where, JsonObject row) =>
        new($"update {table}", new JsonObject { ["op"] = "update", ["table"] = table, ["where"] = Where(where), ["row"] = row.DeepClone() });

    public static OvsdbOperation Mutate(string table, IEnumerable<OvsdbCondition> where, IEnumerable<OvsdbMutation> mutations) =>
        new($"mutate {table}", new JsonObject
        {
            ["op"] = "mutate",
            ["table"] = table,
            ["where"] = Where(where),
            ["mutations"] = new JsonArray([.. mutations.Select(m => (JsonNode?)m.ToJson())]),
        });

    public static OvsdbOperation Delete(string table, IEnumerable<OvsdbCondition> where) =>
        new($"delete from {table}", new JsonObject { ["op"] = "delete", ["table"] = table, ["where"] = Where(where) });

    /// <summary>
    /// Fails the whole transaction unless the rows matching <paramref name="where"/>, projected on <paramref name="columns"/>,
    /// are (until "==") or are not (until "!=") exactly <paramref name="rows"/>. With a timeout of 0 it fails at once
    /// ("timed out"): the optimistic check of a read-then-write.
    /// </summary>
    public static OvsdbOperation Wait(
        string table, IEnumerable<OvsdbCondition> where, IEnumerable<string> columns, IEnumerable<JsonObject> rows, bool untilEqual = true, int timeoutMs = 0) =>
        new($"wait on {table}", new JsonObject
        {
            ["op"] = "wait",
            ["table"] = table,
            ["timeout"] = timeoutMs,
            ["where"] = Where(where),
            ["columns"] = new JsonArray([.. columns.Select(c => (JsonNode?)JsonValue.Create(c))]),
            ["until"] = untilEqual ? "==" : "!=",
            ["rows"] = new JsonArray([.. rows.Select(r => (JsonNode?)r.DeepClone())]),
        });

    /// <summary>No rows match <paramref name="where"/> (e.g. no switch has this name yet), or the transaction fails.</summary>
    public static OvsdbOperation WaitAbsent(string table, IEnumerable<OvsdbCondition> where, string column = "_uuid") =>
        Wait(table, where, [column], []);

    /// <summary>A comment the server writes to its log with the transaction.</summary>
    public static OvsdbOperation Comment(string text) => new("comment", new JsonObject { ["op"] = "comment", ["comment"] = text });

    public override string ToString() => Description;

    private static JsonArray Where(IEnumerable<OvsdbCondition> where) => new([.. where.Select(c => (JsonNode?)c.ToJson())]);
}
