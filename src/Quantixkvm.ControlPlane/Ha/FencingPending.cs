using Quantixkvm.Domain.Hosts;

namespace Quantixkvm.ControlPlane.Ha.Fencing;

// TEMPORARY: replaced by the fencers when they land.
public sealed record FenceTarget(Guid HostId, string HostName, Guid FenceId, HostFencing Config);

public sealed record FenceVerdict(bool Fenced, string Detail);

public interface IHostFencer
{
    string Name { get; }

    Task<FenceVerdict> FenceAsync(FenceTarget target, CancellationToken cancellationToken);
}

public sealed class HostFencers(IEnumerable<IHostFencer> fencers)
{
    public IHostFencer? Find(string name) => fencers.FirstOrDefault(f => f.Name == name);
}
