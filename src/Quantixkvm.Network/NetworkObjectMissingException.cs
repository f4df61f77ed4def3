namespace Quantixkvm.Network;

/// <summary>An operation needs an object that the switch does not hold, e.g. a port on a bridge that does not exist.</summary>
public sealed class NetworkObjectMissingException(string kind, string name)
    : Exception($"{kind} '{name}' does not exist")
{
    /// <summary>What is missing: "bridge", "interface", "logical switch", ...</summary>
    public string Kind { get; } = kind;

    public string Name { get; } = name;
}
