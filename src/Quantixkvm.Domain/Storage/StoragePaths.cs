namespace Quantixkvm.Domain.Storage;

/// <summary>Checks on where a pool lives, before any host is asked to act on it.</summary>
public static class StoragePaths
{
    public const long MinVolumeBytes = 1024 * 1024;
    public const long MaxVolumeBytes = 64L << 40;

    public static string? CheckLocation(PoolLocation location) => location.Kind switch
    {
        PoolKind.Dir when location.HostId is null || location.HostId == Guid.Empty => "a dir pool must name the host it lives on",
        PoolKind.Dir => CheckFolder(location.Path),
        PoolKind.Rbd => ResourceNames.Check("Ceph pool", location.CephPool)
            ?? (location.CephMonitors is not { Count: > 0 } monitors ? "an RBD pool needs at least one Ceph monitor (host:port)"
                : monitors.Select(CheckMonitor).FirstOrDefault(p => p is not null))
            ?? ResourceNames.Check("Ceph user", location.CephUser),
        _ => $"unknown pool kind {location.Kind}",
    };

    /// <summary>An absolute, normalised folder: no "..", no "//", no control characters, not the root.</summary>
    public static string? CheckFolder(string? path)
    {
        if (string.IsNullOrEmpty(path) || !path.StartsWith('/') || path.TrimEnd('/').Length == 0)
        {
            return $"a dir pool needs an absolute folder other than '/' (got '{path}')";
        }

        var segments = path.TrimEnd('/').Split('/').Skip(1).ToArray();
        return segments.Any(s => s is "" or "." or "..") || path.Any(char.IsControl)
            ? $"pool folder '{path}' must be a plain absolute path: no '.', '..', '//' or control characters"
            : null;
    }

    public static string? CheckSize(long sizeBytes) =>
        sizeBytes < MinVolumeBytes || sizeBytes > MaxVolumeBytes
            ? $"volume size must be between {MinVolumeBytes} bytes (1 MiB) and {MaxVolumeBytes} bytes (64 TiB) (got {sizeBytes})"
            : null;

    private static string? CheckMonitor(string monitor)
    {
        var colon = monitor.LastIndexOf(':');
        return colon > 0 && int.TryParse(monitor[(colon + 1)..], out var port) && port is > 0 and < 65536
            && Uri.CheckHostName(monitor[..colon].Trim('[', ']')) != UriHostNameType.Unknown
            ? null
            : $"Ceph monitor '{monitor}' must be host:port";
    }
}
