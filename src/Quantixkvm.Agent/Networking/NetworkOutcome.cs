using Quantixkvm.Contracts;

namespace Quantixkvm.Agent.Networking;

/// <summary>What happened to one network in one round: what was realized (notes) and what failed (errors).</summary>
internal sealed class NetworkOutcome(Guid networkId, long generation)
{
    private readonly List<string> _notes = [];
    private readonly List<string> _errors = [];

    public Guid NetworkId { get; } = networkId;

    public void Note(string text) => _notes.Add(text);

    public void Fail(string text) => _errors.Add(text);

    /// <summary>Succeeded when nothing failed; the summary says what was realized, failed or not.</summary>
    public NetworkRealization ToRealization() => new(
        NetworkId,
        generation,
        _errors.Count == 0,
        _errors.Count == 0 ? null : string.Join("; ", _errors),
        _notes.Count == 0 ? null : string.Join("; ", _notes));

    /// <summary>An exception as a report's reason: its message, without .NET's "(Parameter 'x')" suffix.</summary>
    public static string Describe(Exception e) => e switch
    {
        ArgumentException { ParamName: { } name } argument => argument.Message.Replace($" (Parameter '{name}')", "", StringComparison.Ordinal),
        _ => e.Message,
    };
}
