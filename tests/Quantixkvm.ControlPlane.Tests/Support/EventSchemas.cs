using System.Globalization;
using System.Text.Json.Nodes;
using Quantixkvm.Testing;

namespace Quantixkvm.ControlPlane.Tests.Support;

/// <summary>
/// A small, hand-written check of stored event JSON against the committed schemas/events/*.schema.json:
/// required properties present, no property the schema does not know, camelCase names, and each
/// value of its declared type (strings, integers, booleans, uuids, date-times, enums as names).
/// </summary>
public static class EventSchemas
{
    public static JsonObject Load(string eventType)
    {
        var path = Path.Combine(PlatformProcess.RepositoryRoot, "schemas", "events", $"{eventType}.schema.json");
        File.Exists(path).ShouldBeTrue($"no committed schema for stored event type '{eventType}' ({path})");
        return JsonNode.Parse(File.ReadAllText(path))!.AsObject();
    }

    public static void ShouldMatchSchema(this StoredEvent stored)
    {
        var schema = Load(stored.Type);
        schema["title"]!.GetValue<string>().ShouldBe(stored.Type);
        var properties = schema["properties"]!.AsObject();
        var required = schema["required"]!.AsArray().Select(r => r!.GetValue<string>()).ToList();
        var data = stored.Data;
        var where = $"{stored.Type} #{stored.Sequence}: {data.ToJsonString()}";

        foreach (var name in required)
        {
            data.ContainsKey(name).ShouldBeTrue($"required property '{name}' is missing in {where}");
        }

        foreach (var (name, value) in data)
        {
            char.IsLower(name[0]).ShouldBeTrue($"property '{name}' is not camelCase in {where}");
            properties.ContainsKey(name).ShouldBeTrue($"property '{name}' is not in the committed schema of {stored.Type}");
            Check(name, value, properties[name]!.AsObject(), where);
        }
    }

    private static void Check(string name, JsonNode? value, JsonObject rule, string where)
    {
        if (rule["enum"] is JsonArray allowed)
        {
            var names = allowed.Select(a => a!.GetValue<string>()).ToList();
            value.ShouldNotBeNull($"'{name}' is null in {where}");
            value.GetValueKind().ShouldBe(System.Text.Json.JsonValueKind.String, $"enum '{name}' must be stored as its name in {where}");
            names.ShouldContain(value.GetValue<string>(), $"'{name}' has a value outside the schema's enum in {where}");
            return;
        }

        var types = rule["type"] switch
        {
            JsonArray many => many.Select(t => t!.GetValue<string>()).ToList(),
            JsonNode one => [one.GetValue<string>()],
            null => [],
        };
        if (types.Count == 0)
        {
            return;
        }

        if (value is null)
        {
            types.ShouldContain("null", $"'{name}' is null but the schema does not allow null in {where}");
            return;
        }

        var kind = value.GetValueKind();
        var ok = types.Any(t => t switch
        {
            "string" => kind == System.Text.Json.JsonValueKind.String,
            "integer" => kind == System.Text.Json.JsonValueKind.Number && long.TryParse(value.ToJsonString(), out _),
            "number" => kind == System.Text.Json.JsonValueKind.Number,
            "boolean" => kind is System.Text.Json.JsonValueKind.True or System.Text.Json.JsonValueKind.False,
            "object" => kind == System.Text.Json.JsonValueKind.Object,
            "array" => kind == System.Text.Json.JsonValueKind.Array,
            _ => false,
        });
        ok.ShouldBeTrue($"'{name}' is {kind}, the schema says {string.Join("|", types)}, in {where}");

        if (kind == System.Text.Json.JsonValueKind.String)
        {
            var text = value.GetValue<string>();
            switch (rule["format"]?.GetValue<string>())
            {
                case "uuid":
                    Guid.TryParse(text, out _).ShouldBeTrue($"'{name}' = '{text}' is not a uuid in {where}");
                    break;
                case "date-time":
                    DateTimeOffset.TryParse(text, CultureInfo.InvariantCulture, DateTimeStyles.RoundtripKind, out _)
                        .ShouldBeTrue($"'{name}' = '{text}' is not a date-time in {where}");
                    break;
            }
        }
    }
}
