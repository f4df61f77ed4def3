using System.Text.Json;

namespace Quantixkvm.Contracts;

/// <summary>
/// A host's storage lease: a small file on storage every host and the control plane share, rewritten by the agent
/// every second or so with a growing <c>Counter</c>. An agent that cannot renew it for its self-fence time powers its
/// VMs off; so a lease whose counter has stood still for longer than that proves the host's VMs are off (the
/// storage-lease fencer). The counter, not a timestamp, is compared: host clocks may be skewed.
/// </summary>
public sealed record HostLease(Guid HostId, long Counter, double SelfFenceSeconds, DateTimeOffset RenewedAt)
{
    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web);

    /// <summary>The lease file of a host inside the shared lease folder.</summary>
    public static string PathFor(string leaseDirectory, Guid hostId) => Path.Combine(leaseDirectory, $"{hostId:N}.lease");

    public string ToJson() => JsonSerializer.Serialize(this, Json);

    /// <summary>The lease in a file's text, or null when the text is not a lease (e.g. torn by a concurrent write).</summary>
    public static HostLease? Parse(string text)
    {
        try
        {
            return JsonSerializer.Deserialize<HostLease>(text, Json);
        }
        catch (JsonException)
        {
            return null;
        }
    }
}
