using Quantixkvm.Domain.Hosts;

namespace Quantixkvm.ControlPlane.Ha.Fencing;

/// <summary>One fencing round of one host: <c>FenceId</c> names the round (it travels in <c>FenceHost</c> and comes back in the agent's reply).</summary>
public sealed record FenceTarget(Guid HostId, string HostName, Guid FenceId, HostFencing Config);

/// <summary>A fencer's answer. <c>Detail</c> is the evidence when the host is fenced, the reason when it is not.</summary>
public sealed record FenceVerdict(bool Fenced, string Detail)
{
    public static FenceVerdict Proven(string evidence) => new(true, evidence);

    public static FenceVerdict NotProven(string reason) => new(false, reason);
}

/// <summary>
/// One way to make sure a host's VMs are off. A fencer never throws for an operational failure (an unreachable BMC, a
/// wrong password, a missing tool): it answers not fenced, with a reason that names the host and what failed. It throws
/// <see cref="OperationCanceledException"/> only when its caller cancels.
/// </summary>
public interface IHostFencer
{
    /// <summary>The name used in <see cref="HostFencing.Order"/>: agent, redfish, ipmi or storage-lease.</summary>
    string Name { get; }

    Task<FenceVerdict> FenceAsync(FenceTarget target, CancellationToken cancellationToken);
}

/// <summary>The registered fencers, by name.</summary>
public sealed class HostFencers
{
    private readonly Dictionary<string, IHostFencer> _byName;

    public HostFencers(IEnumerable<IHostFencer> fencers)
    {
        _byName = new Dictionary<string, IHostFencer>(StringComparer.Ordinal);
        foreach (var fencer in fencers)
        {
            if (!_byName.TryAdd(fencer.Name, fencer))
            {
                throw new InvalidOperationException($"two fencers are registered as '{fencer.Name}'");
            }
        }
    }

    public IReadOnlyCollection<string> Names => _byName.Keys;

    /// <summary>The fencer of that name, or null when none is registered.</summary>
    public IHostFencer? Find(string name) => _byName.GetValueOrDefault(name);
}

/// <summary>Formats seconds for reasons and evidence: "3 s", "0.5 s", "12.3 s".</summary>
internal static class Seconds
{
    public static string Of(double seconds) => seconds.ToString("0.#", System.Globalization.CultureInfo.InvariantCulture) + " s";

    public static string Of(TimeSpan span) => Of(span.TotalSeconds);
}
