using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.Json.Schema;
using System.Text.Json.Serialization;
using GraphQL;
using GraphQL.Types;
using GraphQL.Utilities;
using Quantixkvm.ControlPlane.Api.GraphQL;
using Quantixkvm.Contracts;
using Quantixkvm.Domain;

namespace Quantixkvm.ControlPlane.Api.Schemas;

/// <summary>
/// The generated contract files under schemas/: the GraphQL SDL and a JSON Schema for every stored
/// event and every agent message, printed from the code. Tests compare them with the committed files.
/// </summary>
public static class SchemaArtifacts
{
    /// <summary>The JSON shape of events and messages: camelCase, enums by name (as Marten and MassTransit are set up).</summary>
    public static JsonSerializerOptions Json { get; } = new(JsonSerializerDefaults.Web)
    {
        Converters = { new JsonStringEnumConverter() },
        WriteIndented = true,
        NumberHandling = JsonNumberHandling.Strict,
        TypeInfoResolver = new System.Text.Json.Serialization.Metadata.DefaultJsonTypeInfoResolver(),
    };

    /// <summary>Relative path under schemas/ → file content.</summary>
    public static IReadOnlyDictionary<string, string> All()
    {
        var files = new SortedDictionary<string, string>(StringComparer.Ordinal)
        {
            ["graphql/quantixkvm.graphql"] = PrintGraphQL(),
        };
        foreach (var (type, name) in EventCatalog.All)
        {
            files[$"events/{name}.schema.json"] = PrintJsonSchema(type, $"events/{name}.schema.json", name,
                $"Stored event {name} (CLR type {type.Name}); event metadata (correlation id, causation id, actor) is kept beside it by Marten.");
        }

        foreach (var type in AgentQueues.MessageTypes)
        {
            files[$"messages/{type.Name}.schema.json"] = PrintJsonSchema(type, $"messages/{type.Name}.schema.json", type.Name,
                $"Message {type.FullName} between the control plane and node agents (the body of MassTransit's envelope 'message' field).");
        }

        return files;
    }

    public static string PrintGraphQL()
    {
        var services = new ServiceCollection();
        services.AddGraphQL(b => b.AddSchema<QuantixkvmSchema>().AddGraphTypes(typeof(QuantixkvmSchema).Assembly));
        using var provider = services.BuildServiceProvider();
        var schema = provider.GetRequiredService<ISchema>();
        schema.Initialize();
        return schema.Print(new PrintOptions { IncludeDescriptions = true }).ReplaceLineEndings("\n").TrimEnd() + "\n";
    }

    private static string PrintJsonSchema(Type type, string path, string title, string description)
    {
        var schema = Json.GetJsonSchemaAsNode(type, new JsonSchemaExporterOptions { TreatNullObliviousAsNonNullable = true });
        var document = new JsonObject
        {
            ["$schema"] = "https://json-schema.org/draft/2020-12/schema",
            ["$id"] = $"https://quantixkvm.dev/schemas/{path}",
            ["title"] = title,
            ["description"] = description,
        };
        foreach (var (key, value) in schema.AsObject().ToList())
        {
            document[key] = value?.DeepClone();
        }

        return document.ToJsonString(Json).ReplaceLineEndings("\n") + "\n";
    }
}
