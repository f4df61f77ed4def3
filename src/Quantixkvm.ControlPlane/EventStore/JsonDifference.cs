using System.Text.Json.Nodes;

namespace Quantixkvm.ControlPlane.EventStore;

/// <summary>A short description of how two JSON documents differ: the paths of the properties that differ, with both values.</summary>
public static class JsonDifference
{
    private const int MaxPaths = 10;
    private const int MaxValueLength = 80;

    /// <summary>E.g. <c>powerState: live "RUNNING", rebuilt "STOPPED"; disks[1]: live (absent), rebuilt {...}</c>; empty when equal.</summary>
    public static string Describe(JsonNode? live, JsonNode? rebuilt)
    {
        var paths = new List<string>();
        Collect("", live, rebuilt, paths);
        var shown = paths.Take(MaxPaths).ToList();
        if (paths.Count > MaxPaths)
        {
            shown.Add($"... and {paths.Count - MaxPaths} more");
        }

        return string.Join("; ", shown);
    }

    private static void Collect(string path, JsonNode? live, JsonNode? rebuilt, List<string> paths)
    {
        if (JsonNode.DeepEquals(live, rebuilt))
        {
            return;
        }

        switch (live, rebuilt)
        {
            case (JsonObject l, JsonObject r):
                foreach (var name in l.Select(p => p.Key).Union(r.Select(p => p.Key)))
                {
                    Collect(path.Length == 0 ? name : $"{path}.{name}", l[name], r[name], paths);
                }

                break;
            case (JsonArray l, JsonArray r):
                for (var i = 0; i < Math.Max(l.Count, r.Count); i++)
                {
                    Collect($"{path}[{i}]", i < l.Count ? l[i] : null, i < r.Count ? r[i] : null, paths);
                }

                break;
            default:
                paths.Add($"{(path.Length == 0 ? "(document)" : path)}: live {Show(live)}, rebuilt {Show(rebuilt)}");
                break;
        }
    }

    private static string Show(JsonNode? value)
    {
        var text = value is null ? "null" : value.ToJsonString();
        return text.Length <= MaxValueLength ? text : text[..(MaxValueLength - 3)] + "...";
    }
}
