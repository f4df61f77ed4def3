using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Quantixkvm.Network.Ovsdb;

/// <summary>
/// OVSDB's JSON value notation (RFC 7047 section 5.1): an atom is a JSON string, number or boolean, or
/// ["uuid", "..."] / ["named-uuid", "..."]; a set is an atom or ["set", [atoms]]; a map is ["map", [[key, value], ...]].
/// Builders for requests and readers for what a server returns; the readers accept a one-element set written as a bare
/// atom, as servers send it.
/// </summary>
public static class OvsdbValue
{
    public static JsonArray Uuid(Guid uuid) => new("uuid", uuid.ToString());

    /// <summary>A reference to a row inserted earlier in the same transaction under this uuid-name.</summary>
    public static JsonArray NamedUuid(string uuidName) => new("named-uuid", uuidName);

    public static JsonArray Set(IEnumerable<JsonNode?> atoms) => new("set", new JsonArray([.. atoms]));

    public static JsonArray EmptySet() => Set([]);

    public static JsonArray StringSet(IEnumerable<string> values) => Set(values.Select(v => (JsonNode?)JsonValue.Create(v)));

    public static JsonArray UuidSet(IEnumerable<Guid> uuids) => Set(uuids.Select(u => (JsonNode?)Uuid(u)));

    /// <summary>An optional column (min 0, max 1): the value, or the empty set for none.</summary>
    public static JsonNode Optional(long? value) => value is { } v ? JsonValue.Create(v) : EmptySet();

    /// <inheritdoc cref="Optional(long?)"/>
    public static JsonNode Optional(string? value) => value is { } v ? JsonValue.Create(v) : EmptySet();

    /// <inheritdoc cref="Optional(long?)"/>
    public static JsonNode Optional(Guid? value) => value is { } v ? Uuid(v) : EmptySet();

    public static JsonArray Map(IEnumerable<KeyValuePair<string, string>> pairs) =>
        new("map", new JsonArray([.. pairs.Select(p => (JsonNode?)new JsonArray(p.Key, p.Value))]));

    /// <summary>The elements of a set column; a bare atom is a set of one.</summary>
    public static IReadOnlyList<JsonNode?> ReadSet(JsonNode? value) =>
        value is JsonArray { Count: 2 } array && array[0]?.GetValue<string>() == "set"
            ? [.. array[1]!.AsArray()]
            : [value];

    public static IReadOnlyList<string> ReadStringSet(JsonNode? value) =>
        [.. ReadSet(value).Select(v => v!.GetValue<string>())];

    public static IReadOnlyList<Guid> ReadUuidSet(JsonNode? value) => [.. ReadSet(value).Select(ReadUuid)];

    public static IReadOnlyList<long> ReadIntegerSet(JsonNode? value) => [.. ReadSet(value).Select(v => v!.GetValue<long>())];

    public static Guid ReadUuid(JsonNode? value) =>
        value is JsonArray { Count: 2 } array && array[0]?.GetValue<string>() == "uuid"
            ? Guid.Parse(array[1]!.GetValue<string>(), CultureInfo.InvariantCulture)
            : throw new FormatException($"{value?.ToJsonString() ?? "null"} is not an OVSDB uuid");

    public static IReadOnlyDictionary<string, string> ReadStringMap(JsonNode? value)
    {
        if (value is not JsonArray { Count: 2 } array || array[0]?.GetValue<string>() != "map")
        {
            throw new FormatException($"{value?.ToJsonString() ?? "null"} is not an OVSDB map");
        }

        return array[1]!.AsArray().ToDictionary(
            pair => pair![0]!.GetValue<string>(),
            pair => AtomText(pair![1]),
            StringComparer.Ordinal);
    }

    /// <summary>
    /// A form of a value that is equal for equal OVSDB values: sets and maps sorted, a one-element set the same as its
    /// atom, so a desired column can be compared with what the server holds.
    /// </summary>
    public static string Canonical(JsonNode? value)
    {
        if (value is JsonArray { Count: 2 } array && array[0] is JsonValue tag && tag.TryGetValue<string>(out var kind))
        {
            switch (kind)
            {
                case "set":
                    var atoms = array[1]!.AsArray().Select(Canonical).Order(StringComparer.Ordinal).ToList();
                    return atoms.Count == 1 ? atoms[0] : "{" + string.Join(",", atoms) + "}";
                case "map":
                    var pairs = array[1]!.AsArray()
                        .Select(p => Canonical(p![0]) + "=" + Canonical(p[1]))
                        .Order(StringComparer.Ordinal);
                    return "map{" + string.Join(",", pairs) + "}";
                case "uuid" or "named-uuid":
                    return kind + ":" + array[1]!.GetValue<string>();
            }
        }

        return value?.ToJsonString() ?? "null";
    }

    private static string AtomText(JsonNode? atom) =>
        atom is JsonValue v && v.GetValueKind() == JsonValueKind.String ? v.GetValue<string>() : atom?.ToJsonString() ?? "";
}
