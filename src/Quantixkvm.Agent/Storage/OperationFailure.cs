namespace Quantixkvm.Agent.Storage;

/// <summary>
/// An operation cannot be carried out for a reason the agent names itself (not libvirt): thrown where it
/// is found, and turned into a failed outcome with <see cref="Code"/> and the message at the operation's edge.
/// </summary>
public sealed class OperationFailure(string code, string message, Exception? inner = null) : Exception(message, inner)
{
    /// <summary>A stable error code, e.g. CHECKSUM_MISMATCH.</summary>
    public string Code { get; } = code;
}
