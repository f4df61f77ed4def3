using System.Text.Json.Nodes;

namespace Quantixkvm.Network.Ovsdb;

/// <summary>Changes to map columns (external_ids, other_config, options) that touch only the given keys.</summary>
public static class OvsdbMaps
{
    /// <summary>
    /// The mutations that make <paramref name="column"/> hold every pair of <paramref name="wanted"/> (a null value:
    /// the key absent), leaving other keys alone; none when it already does.
    /// </summary>
    public static IReadOnlyList<OvsdbMutation> Merge(
        string column, IReadOnlyDictionary<string, string> current, IEnumerable<KeyValuePair<string, string?>> wanted)
    {
        var stale = new List<string>();
        var missing = new List<KeyValuePair<string, string>>();
        foreach (var (key, value) in wanted)
        {
            var has = current.TryGetValue(key, out var held);
            if (value is null)
            {
                if (has)
                {
                    stale.Add(key);
                }
            }
            else if (!has || held != value)
            {
                if (has)
                {
                    stale.Add(key);
                }

                missing.Add(new(key, value));
            }
        }

        var mutations = new List<OvsdbMutation>();
        if (stale.Count > 0)
        {
            // Deleting by key set first: "insert" never overwrites a key that is present.
            mutations.Add(OvsdbMutation.Delete(column, OvsdbValue.StringSet(stale)));
        }

        if (missing.Count > 0)
        {
            mutations.Add(OvsdbMutation.Insert(column, OvsdbValue.Map(missing)));
        }

        return mutations;
    }

    public static IEnumerable<KeyValuePair<string, string?>> Wanted(IReadOnlyDictionary<string, string>? pairs) =>
        (pairs ?? new Dictionary<string, string>()).Select(p => new KeyValuePair<string, string?>(p.Key, p.Value));

    public static JsonArray ToMap(IReadOnlyDictionary<string, string>? pairs) => OvsdbValue.Map(pairs ?? new Dictionary<string, string>());
}
