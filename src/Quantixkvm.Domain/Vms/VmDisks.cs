using System.Collections.Immutable;

namespace Quantixkvm.Domain.Vms;

/// <summary>Rules for a VM's disks and its cloud-init data, and the device names disks get.</summary>
public static class VmDisks
{
    /// <summary>One PCI slot each on the default machine; enough for any real guest of this platform.</summary>
    public const int MaxDisks = 16;

    public const int MaxCloudInitBytes = 64 * 1024;

    /// <summary>Null when <paramref name="request"/> can join <paramref name="current"/>; else why not.</summary>
    public static string? CheckNew(DiskRequest request, IReadOnlyCollection<VmDisk> current)
    {
        if (request.VolumeId == Guid.Empty)
        {
            return "a disk must name its volume";
        }

        if (current.Any(d => d.VolumeId == request.VolumeId))
        {
            return $"volume {request.VolumeId} is given more than once";
        }

        if (current.Count >= MaxDisks)
        {
            return $"a VM can have at most {MaxDisks} disks";
        }

        if (request.BootOrder is { } order && (order < 1 || current.Any(d => d.BootOrder == order)))
        {
            return order < 1 ? $"boot order must be 1 or more (got {order})" : $"boot order {order} is already taken by another disk";
        }

        return null;
    }

    /// <summary>The disk with the first free device name of its bus: vda, vdb, … for virtio; sda, … for SATA and SCSI.</summary>
    public static VmDisk Assign(DiskRequest request, IReadOnlyCollection<VmDisk> current)
    {
        var prefix = request.Bus == DiskBus.Virtio ? "vd" : "sd";
        var taken = current.Select(d => d.TargetDev).ToHashSet();
        var dev = Enumerable.Range(0, 26).Select(i => $"{prefix}{(char)('a' + i)}").First(d => !taken.Contains(d));
        return new VmDisk(request.VolumeId, dev, request.Bus, request.BootOrder, request.ReadOnly);
    }

    public static string? CheckCloudInit(CloudInitConfig config)
    {
        // The seed disk holds UTF-8 files: count their bytes, not characters.
        var size = System.Text.Encoding.UTF8.GetByteCount(config.UserData ?? "") + System.Text.Encoding.UTF8.GetByteCount(config.MetaData)
            + System.Text.Encoding.UTF8.GetByteCount(config.NetworkConfig ?? "");
        if (string.IsNullOrWhiteSpace(config.MetaData))
        {
            return "cloud-init meta-data must not be empty (it holds the instance id)";
        }

        return size > MaxCloudInitBytes ? $"cloud-init data must be at most {MaxCloudInitBytes} bytes in all (got {size})" : null;
    }
}

/// <summary>Snapshot names follow <see cref="ResourceNames"/>: libvirt keeps them as file and XML names.</summary>
public static class SnapshotNames
{
    public static string? Check(string name) => ResourceNames.Check("snapshot", name);
}
