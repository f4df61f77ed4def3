using System.Collections.Concurrent;
using Microsoft.Extensions.Options;
using Quantixkvm.Contracts;

namespace Quantixkvm.ControlPlane.Ha.Fencing;

/// <summary>
/// Proves a host's VMs are off from its storage lease: an agent that cannot renew its lease for the lease's
/// self-fence time powers its VMs off, so a counter that stands still for longer than that (plus a grace for the
/// VMs to stop) proves they are off, whether the host is down or merely cut off. A counter that moves at any time
/// proves the host alive. Counters are compared, never timestamps: host clocks may be skewed. The wait is measured on
/// the control plane's own clock from the first read of the counter — or from earlier: HA reads the leases of hosts whose
/// heartbeats are late (<see cref="WatchAsync"/>), and a counter seen at the same value since then has stood still since
/// then (it only grows), so a host that died well before its fencing is proven off at once.
/// </summary>
public sealed class StorageLeaseFencer(IOptions<FencingOptions> options, TimeProvider time) : IHostFencer
{
    /// <summary>How long to keep re-reading a lease file that holds no lease before giving up on it.</summary>
    private static readonly TimeSpan UnreadableLimit = TimeSpan.FromSeconds(5);

    private readonly ConcurrentDictionary<Guid, (long Counter, long SeenAt)> _watched = new();

    public string Name => "storage-lease";

    /// <summary>Reads the host's lease now and remembers since when its counter has had its current value.</summary>
    public async Task WatchAsync(Guid hostId, CancellationToken cancellationToken)
    {
        if (string.IsNullOrWhiteSpace(options.Value.LeaseDirectory))
        {
            return;
        }

        var read = await ReadAsync(HostLease.PathFor(options.Value.LeaseDirectory, hostId), cancellationToken);
        if (read.Lease is { } lease && lease.HostId == hostId)
        {
            var now = time.GetTimestamp();
            _watched.AddOrUpdate(hostId, (lease.Counter, now), (_, seen) => seen.Counter == lease.Counter ? seen : (lease.Counter, now));
        }
    }

    /// <summary>The host is heard from again: earlier readings say nothing about its next silence.</summary>
    public void Forget(Guid hostId) => _watched.TryRemove(hostId, out _);

    public async Task<FenceVerdict> FenceAsync(FenceTarget target, CancellationToken cancellationToken)
    {
        var settings = options.Value;
        if (string.IsNullOrWhiteSpace(settings.LeaseDirectory))
        {
            return FenceVerdict.NotProven(
                $"host {target.HostName}'s lease cannot be read: no lease folder configured ({FencingOptions.Section}:LeaseDirectory)");
        }

        var directory = settings.LeaseDirectory;
        var path = HostLease.PathFor(directory, target.HostId);
        var poll = TimeSpan.FromSeconds(settings.PollSeconds);
        var firstRead = await ReadAsync(path, cancellationToken);
        if (firstRead.Missing)
        {
            return FenceVerdict.NotProven(Directory.Exists(directory)
                ? $"host {target.HostName} has no lease in {directory}; it never held one, so its VMs cannot be proven off"
                : $"host {target.HostName}'s lease cannot be read: the lease folder {directory} does not exist (is the shared storage mounted?)");
        }

        var startedReading = time.GetTimestamp();
        HostLease? first = null;
        long? firstSeenAt = null;
        var read = firstRead;
        while (true)
        {
            if (read.Lease is { } lease)
            {
                if (lease.HostId != target.HostId)
                {
                    return FenceVerdict.NotProven($"the lease file {path} names host {lease.HostId}, not host {target.HostName} ({target.HostId})");
                }

                if (first is null)
                {
                    if (!(lease.SelfFenceSeconds > 0) || double.IsInfinity(lease.SelfFenceSeconds))
                    {
                        return FenceVerdict.NotProven(
                            $"host {target.HostName}'s lease declares no usable self-fence time ({lease.SelfFenceSeconds}); its VMs cannot be proven off");
                    }

                    first = lease;
                    firstSeenAt = _watched.TryGetValue(target.HostId, out var seen) && seen.Counter == lease.Counter
                        ? seen.SeenAt
                        : time.GetTimestamp();
                }
                else if (lease.Counter != first.Counter)
                {
                    return FenceVerdict.NotProven(
                        $"host {target.HostName} still renews its lease (counter {first.Counter} → {lease.Counter}): it is alive and its VMs may run");
                }
            }

            // Anything else (a torn write, a file being replaced) is no news: it is read again, and counts as
            // unchanged for as long as it stays unreadable.
            if (first is not null)
            {
                var still = time.GetElapsedTime(firstSeenAt!.Value);
                var needed = TimeSpan.FromSeconds(first.SelfFenceSeconds + settings.LeaseGraceSeconds);
                if (still >= needed)
                {
                    return FenceVerdict.Proven(
                        $"host {target.HostName}'s lease counter stayed at {first.Counter} for {Seconds.Of(still)} > self-fence time "
                        + $"{Seconds.Of(first.SelfFenceSeconds)}: the host has powered its VMs off or is down");
                }
            }
            else if (time.GetElapsedTime(startedReading) >= UnreadableLimit)
            {
                return FenceVerdict.NotProven(
                    $"host {target.HostName}'s lease file {path} holds no lease ({read.Problem}); its VMs cannot be proven off");
            }

            await Task.Delay(poll, time, cancellationToken);
            read = await ReadAsync(path, cancellationToken);
        }
    }

    /// <summary>
    /// Opens the file anew each time (on NFS, opening revalidates the cached content), sharing it with the agent that
    /// rewrites it.
    /// </summary>
    private static async Task<LeaseRead> ReadAsync(string path, CancellationToken cancellationToken)
    {
        try
        {
            await using var stream = new FileStream(
                path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete, bufferSize: 4096, useAsync: true);
            using var reader = new StreamReader(stream);
            var text = await reader.ReadToEndAsync(cancellationToken);
            return HostLease.Parse(text) is { } lease
                ? new LeaseRead(lease, false, null)
                : new LeaseRead(null, false, $"unparseable: '{(text.Length > 80 ? text[..80] + "..." : text)}'");
        }
        catch (Exception ex) when (ex is FileNotFoundException or DirectoryNotFoundException)
        {
            return new LeaseRead(null, true, "no file");
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            return new LeaseRead(null, false, $"unreadable: {ex.Message}");
        }
    }

    private sealed record LeaseRead(HostLease? Lease, bool Missing, string? Problem);
}
