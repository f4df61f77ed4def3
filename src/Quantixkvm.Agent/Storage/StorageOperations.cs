using System.Text.Json;
using System.Xml.Linq;
using Quantixkvm.Agent.Hypervisor;
using Quantixkvm.Contracts;
using Quantixkvm.Libvirt;

namespace Quantixkvm.Agent.Storage;

/// <summary>The outcome of one storage operation, with libvirt's figures read afterwards (pool: capacity/allocation/available; volume: capacity/allocation/path).</summary>
public sealed record StorageOutcome(
    bool Succeeded, string? ErrorCode = null, string? ErrorMessage = null,
    long? CapacityBytes = null, long? AllocationBytes = null, long? AvailableBytes = null, string? Path = null)
{
    public static StorageOutcome Fail(string code, string message) => new(false, code, message);

    public static StorageOutcome Done { get; } = new(true);

    public static StorageOutcome Of(StoragePoolInfo pool) => new(true, CapacityBytes: pool.CapacityBytes, AllocationBytes: pool.AllocationBytes, AvailableBytes: pool.AvailableBytes);

    public static StorageOutcome Of(LibvirtStorageVolume volume)
    {
        var info = volume.GetInfo();
        return new(true, CapacityBytes: info.CapacityBytes, AllocationBytes: info.AllocationBytes, Path: volume.Path);
    }
}

/// <summary>
/// Carries out a storage operation against libvirt (and qemu-img for qcow2 snapshots, Ceph's rbd tool for RBD
/// snapshots, flattening and imports). Like the domain operations it reads what exists first, so a redelivered
/// command (or one done by hand) succeeds without acting twice: an existing pool or volume is success for a
/// create, a missing one for a delete.
/// </summary>
public sealed class StorageOperations(StoragePools pools, VolumeImporter importer, RbdTool rbdTool, TimeProvider clock)
{
    public async Task<StorageOutcome> RunAsync(RunStorageOperation command, CancellationToken cancellationToken)
    {
        var now = clock.GetUtcNow();
        if (now >= command.Deadline)
        {
            return StorageOutcome.Fail("DEADLINE_PASSED", $"the operation reached this host after its deadline {command.Deadline:O}; nothing was done");
        }

        // Long work (an import, qemu-img) is cut off at the deadline: past it the control plane has given up on the outcome.
        using var timeout = new CancellationTokenSource(command.Deadline - now, clock);
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, timeout.Token);
        try
        {
            return command.Kind switch
            {
                StorageOperationKind.CreatePool => CreatePool(command.Pool),
                StorageOperationKind.RefreshPool => CreatePool(command.Pool),
                StorageOperationKind.DeletePool => DeletePool(command.Pool),
                StorageOperationKind.CreateVolume => await CreateVolumeAsync(command, deadline.Token),
                StorageOperationKind.ResizeVolume => await ResizeVolumeAsync(command, deadline.Token),
                StorageOperationKind.DeleteVolume => DeleteVolume(command),
                StorageOperationKind.SnapshotVolume or StorageOperationKind.RevertVolume or StorageOperationKind.DeleteVolumeSnapshot =>
                    await VolumeSnapshotAsync(command, deadline.Token),
                _ => StorageOutcome.Fail("NOT_SUPPORTED", $"storage operation {command.Kind} is not supported by this agent"),
            };
        }
        catch (OperationFailure ex)
        {
            return StorageOutcome.Fail(ex.Code, ex.Message);
        }
        catch (LibvirtException ex)
        {
            return StorageOutcome.Fail(DomainOperations.LibvirtCode(ex), ex.Message);
        }
        catch (ArgumentException ex)
        {
            return StorageOutcome.Fail("INVALID_SPEC", ex.Message);
        }
        catch (OperationCanceledException) when (timeout.IsCancellationRequested && !cancellationToken.IsCancellationRequested)
        {
            return StorageOutcome.Fail("DEADLINE_PASSED", $"the operation did not finish before its deadline {command.Deadline:O}; what it had begun was undone");
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            // Whatever goes wrong here, the operation must end with an outcome, not wait for its deadline.
            return StorageOutcome.Fail("AGENT_ERROR", $"the agent could not carry out the operation: {ex.Message}");
        }
    }

    /// <summary>Create and refresh alike: the pool exists and runs afterwards, and libvirt has looked at its storage again.</summary>
    private StorageOutcome CreatePool(StoragePoolSpecification spec)
    {
        using var pool = pools.Ensure(spec);
        pool.Refresh();
        var info = pool.GetInfo();
        // Ceph reports pool statistics through its manager (ceph-mgr): without one libvirt sees 0 bytes everywhere,
        // which means "unknown", not "full"; the figures are left out rather than reported as a pool with no room.
        return spec.Kind == "rbd" && info.CapacityBytes == 0 ? StorageOutcome.Done : StorageOutcome.Of(info);
    }

    /// <summary>Stops and undefines the pool; its storage (folder, Ceph pool) is never deleted, and a pool that still holds volumes is left alone.</summary>
    private StorageOutcome DeletePool(StoragePoolSpecification spec)
    {
        using var pool = pools.Find(spec);
        if (pool is null)
        {
            return StorageOutcome.Done;
        }

        if (!pool.IsActive)
        {
            try
            {
                // Only a running pool can say what it holds.
                pool.Start();
            }
            catch (LibvirtException)
            {
                // Its storage is gone: there is nothing in it to protect.
            }
        }

        if (pool.IsActive)
        {
            pool.Refresh();
            var volumes = pool.ListVolumes();
            var names = volumes.Select(v => v.Name).Order(StringComparer.Ordinal).ToList();
            foreach (var volume in volumes)
            {
                volume.Dispose();
            }

            if (names.Count > 0)
            {
                return StorageOutcome.Fail("POOL_NOT_EMPTY",
                    $"pool {spec.LibvirtName} still holds {names.Count} volume(s): {string.Join(", ", names.Take(10))}{(names.Count > 10 ? ", ..." : "")}; delete them first");
            }

            pool.Destroy();
        }

        pool.Undefine();
        return StorageOutcome.Done;
    }

    private async Task<StorageOutcome> CreateVolumeAsync(RunStorageOperation command, CancellationToken cancellationToken)
    {
        var spec = RequireVolume(command);
        var rbd = command.Pool.Kind == "rbd";
        if (rbd && spec.Format != "raw")
        {
            throw new OperationFailure("NOT_SUPPORTED", $"volume {spec.Name}: RBD images are raw; {spec.Format} is not supported on rbd pool {command.Pool.LibvirtName}");
        }

        using var pool = pools.Ensure(command.Pool);
        if (FindVolume(pool, spec.Name) is { } existing)
        {
            // Made by an earlier delivery of this command (or its import finished just before a crash).
            using (existing)
            {
                if (rbd && spec.CloneOfName is not null && !spec.Linked)
                {
                    // That delivery may have cloned and not flattened yet: a full clone must not depend on its source.
                    await FlattenAsync(command.Pool, existing, cancellationToken);
                }

                return StorageOutcome.Of(existing);
            }
        }

        if (spec.ImportUrl is not null)
        {
            if (rbd)
            {
                return await ImportIntoRbdAsync(command, spec, pool, cancellationToken);
            }

            try
            {
                await importer.ImportAsync(command.OperationId, spec, StoragePools.TargetPath(pool), cancellationToken);
            }
            catch
            {
                // A refresh while the import ran would have listed its temporary file: make libvirt forget it.
                TryRefresh(pool);
                throw;
            }

            return Imported(pool, spec.Name);
        }

        if (spec.CloneOfName is not null)
        {
            using var source = pool.FindVolume(spec.CloneOfName)
                ?? throw new OperationFailure("VOLUME_NOT_FOUND", $"volume {spec.CloneOfName} to clone {spec.Name} from is not in pool {command.Pool.LibvirtName}");
            var capacity = Math.Max(spec.SizeBytes, source.GetInfo().CapacityBytes);
            if (spec.Linked && !rbd)
            {
                // A qcow2 overlay: reads what it has not written from the source, which must stay unchanged.
                if (spec.Format != "qcow2")
                {
                    throw new OperationFailure("NOT_SUPPORTED", $"volume {spec.Name}: a linked clone is a qcow2 overlay, not {spec.Format}");
                }

                var backingFormat = spec.CloneOfFormat
                    ?? throw new OperationFailure("INVALID_SPEC", $"volume {spec.Name}: a linked clone needs the format of {spec.CloneOfName}");
                using var overlay = pool.CreateVolume(StorageVolumeXml.Build(spec.Name, capacity, "qcow2", source.Path, backingFormat));
                return StorageOutcome.Of(overlay);
            }

            // A dir pool copies the file. An rbd pool makes an RBD clone (copy-on-write) of a protected snapshot
            // libvirt takes of the source: that is the linked clone; a full clone is flattened so it stands alone.
            using var copy = pool.CreateVolumeFrom(StorageVolumeXml.Build(spec.Name, capacity, spec.Format), source);
            if (rbd)
            {
                try
                {
                    if (!spec.Linked)
                    {
                        await FlattenAsync(command.Pool, copy, cancellationToken);
                    }

                    // libvirt's RBD clone keeps the source's size.
                    if (copy.GetInfo().CapacityBytes < capacity)
                    {
                        await GrowAsync(command.Pool, copy, capacity, cancellationToken);
                    }
                }
                catch
                {
                    TryDelete(copy, StorageVolumeDeleteFlags.WithSnapshots);
                    throw;
                }
            }

            return StorageOutcome.Of(copy);
        }

        using var blank = pool.CreateVolume(StorageVolumeXml.Build(spec.Name, spec.SizeBytes, spec.Format));
        return StorageOutcome.Of(blank);
    }

    /// <summary>
    /// An import into an rbd pool: downloaded and checked in the agent's work folder exactly as for a dir pool, written
    /// by qemu-img into a new image under a temporary name (made through libvirt with the image's size), then renamed
    /// to the volume's name in one step. Whatever fails, the temporary image and file are removed; nothing ever
    /// appears under the volume's name unchecked or half written.
    /// </summary>
    private async Task<StorageOutcome> ImportIntoRbdAsync(
        RunStorageOperation command, VolumeSpecification spec, LibvirtStoragePool pool, CancellationToken cancellationToken)
    {
        var file = Path.Combine(rbdTool.WorkFolder(), VolumeImporter.PartFileName(command.OperationId));
        try
        {
            var length = await importer.DownloadAsync(spec, file, cancellationToken);
            if (length == 0)
            {
                throw new OperationFailure("INVALID_SPEC", $"the image imported for {spec.Name} is empty");
            }

            var staging = StagingImageName(command.OperationId);
            using (var leftover = pool.FindVolume(staging))
            {
                // Left by an earlier delivery that was cut off: never written through, removed.
                leftover?.Delete(StorageVolumeDeleteFlags.WithSnapshots);
            }

            using (var volume = pool.CreateVolume(StorageVolumeXml.Build(staging, length, "raw")))
            {
                try
                {
                    var (cephPool, image) = RbdTool.Split(volume.Path);
                    using (var access = rbdTool.Access(command.Pool))
                    {
                        // -n: into the image libvirt made; --target-is-zero: a new image reads as zeros, so holes stay holes.
                        var convert = await ExternalTool.RunAsync(
                            "qemu-img",
                            ["convert", "-n", "--target-is-zero", "-f", spec.Format, "-O", "raw", file, access.QemuImageName(cephPool, image)],
                            cancellationToken);
                        if (convert.ExitCode != 0)
                        {
                            throw new OperationFailure("IMPORT_WRITE_FAILED", $"qemu-img could not write the image into {cephPool}/{image}: {convert.Message}");
                        }
                    }

                    await rbdTool.RunAsync(command.Pool, ["rename", "--pool", cephPool, "--image", image, "--dest-pool", cephPool, "--dest", spec.Name], cancellationToken);
                }
                catch
                {
                    TryDelete(volume, StorageVolumeDeleteFlags.None);
                    TryRefresh(pool);
                    throw;
                }
            }

            return Imported(pool, spec.Name);
        }
        finally
        {
            TryDeleteFile(file);
        }
    }

    /// <summary>The name of an RBD import's image while it is written; libvirt lists it meanwhile, and it says what it is.</summary>
    public static string StagingImageName(Guid operationId) => $".qkvm-import-{operationId:N}";

    /// <summary>
    /// Grows a volume: an RBD image with <c>rbd resize</c> (libvirt refuses a size below its idea of the allocation, which
    /// counts whole 4 MiB objects, so a small image could not grow), anything else through libvirt. Never shrinks.
    /// </summary>
    private async Task GrowAsync(StoragePoolSpecification poolSpec, LibvirtStorageVolume volume, long size, CancellationToken cancellationToken)
    {
        if (poolSpec.Kind != "rbd")
        {
            volume.Resize(size);
            return;
        }

        var (cephPool, image) = RbdTool.Split(volume.Path);
        await rbdTool.RunAsync(poolSpec, ["resize", "--no-progress", "--size", $"{size}B", "--pool", cephPool, "--image", image], cancellationToken);
    }

    /// <summary>Makes an RBD clone independent of its parent (<c>rbd flatten</c>), unless it has none.</summary>
    private async Task FlattenAsync(StoragePoolSpecification poolSpec, LibvirtStorageVolume volume, CancellationToken cancellationToken)
    {
        var (cephPool, image) = RbdTool.Split(volume.Path);
        if (await rbdTool.ParentAsync(poolSpec, cephPool, image, cancellationToken) is not null)
        {
            await rbdTool.RunAsync(poolSpec, ["flatten", "--no-progress", "--pool", cephPool, "--image", image], cancellationToken);
        }
    }

    /// <summary>Grows a volume to the asked size; a volume that already has it is left alone, and shrinking is refused.</summary>
    private async Task<StorageOutcome> ResizeVolumeAsync(RunStorageOperation command, CancellationToken cancellationToken)
    {
        var spec = RequireVolume(command);
        var size = command.SizeBytes ?? throw new OperationFailure("INVALID_SPEC", $"resizing volume {spec.Name} needs the new size");
        using var pool = pools.Ensure(command.Pool);
        using var volume = RequireExisting(pool, spec, command.Pool);
        var capacity = volume.GetInfo().CapacityBytes;
        if (size < capacity)
        {
            return StorageOutcome.Fail("VOLUME_SHRINK_REFUSED",
                $"volume {spec.Name} has {capacity} bytes; shrinking it to {size} would cut off the guest's data");
        }

        if (size > capacity)
        {
            await GrowAsync(command.Pool, volume, size, cancellationToken);
        }

        return StorageOutcome.Of(volume);
    }

    private StorageOutcome DeleteVolume(RunStorageOperation command)
    {
        var spec = RequireVolume(command);
        using var pool = pools.Ensure(command.Pool);
        using var volume = FindVolume(pool, spec.Name);
        // An RBD image's snapshots go with it: the user's, and the protected ones libvirt clones from (which Ceph
        // refuses to remove while a linked clone still depends on them, so such a base is never deleted).
        volume?.Delete(command.Pool.Kind == "rbd" ? StorageVolumeDeleteFlags.WithSnapshots : StorageVolumeDeleteFlags.None);
        return StorageOutcome.Done;
    }

    /// <summary>
    /// Internal qcow2 snapshots with qemu-img; qemu-img takes the image's write lock, so an image a running guest uses is
    /// refused by it. RBD snapshots with the rbd tool.
    /// </summary>
    private async Task<StorageOutcome> VolumeSnapshotAsync(RunStorageOperation command, CancellationToken cancellationToken)
    {
        var spec = RequireVolume(command);
        var name = command.SnapshotName;
        if (string.IsNullOrWhiteSpace(name) || name.Any(char.IsControl))
        {
            throw new OperationFailure("INVALID_SPEC", $"a snapshot of volume {spec.Name} needs a name without control characters");
        }

        if (command.Pool.Kind == "rbd")
        {
            return await RbdSnapshotAsync(command, spec, name, cancellationToken);
        }

        if (name.All(char.IsAsciiDigit))
        {
            // qemu-img finds a snapshot by its id as well as by its name: a number could mean another snapshot.
            throw new OperationFailure("INVALID_SPEC", $"the snapshot name '{name}' is all digits, which qemu-img would also take as a snapshot id");
        }

        if (command.Pool.Kind != "dir")
        {
            throw new OperationFailure("NOT_SUPPORTED", $"volume snapshots are supported in dir and rbd pools, and pool {command.Pool.LibvirtName} is {command.Pool.Kind}");
        }

        if (spec.Format != "qcow2")
        {
            throw new OperationFailure("NOT_SUPPORTED", $"volume {spec.Name} is {spec.Format}: only a qcow2 image can hold internal snapshots");
        }

        using var pool = pools.Ensure(command.Pool);
        using var volume = RequireExisting(pool, spec, command.Pool);
        if (XDocument.Parse(volume.GetXml()).Root?.Element("target")?.Element("format")?.Attribute("type")?.Value is { } actual and not "qcow2")
        {
            throw new OperationFailure("NOT_SUPPORTED", $"volume {spec.Name} is {actual} on this host: only a qcow2 image can hold internal snapshots");
        }

        // --image-opts names the driver, so the file's own header is never probed for its format.
        var image = $"driver=qcow2,file.driver=file,file.filename={volume.Path.Replace(",", ",,", StringComparison.Ordinal)}";
        var exists = (await SnapshotNamesAsync(image, cancellationToken)).Contains(name);
        string? flag = command.Kind switch
        {
            StorageOperationKind.SnapshotVolume => exists ? null : "-c",
            StorageOperationKind.DeleteVolumeSnapshot => exists ? "-d" : null,
            _ => exists ? "-a" : throw new OperationFailure("SNAPSHOT_NOT_FOUND", $"volume {spec.Name} has no snapshot named '{name}'"),
        };
        if (flag is not null)
        {
            var result = await ExternalTool.RunAsync("qemu-img", ["snapshot", "--image-opts", flag, name, image], cancellationToken);
            if (result.ExitCode != 0)
            {
                throw new OperationFailure("QEMU_IMG_FAILED", result.Message);
            }
        }

        return StorageOutcome.Of(volume);
    }

    /// <summary>
    /// RBD snapshots of the image (<c>rbd snap create|rollback|rm</c>): taken already is success for a create, gone already
    /// for a delete. A rollback rewrites the whole image under a guest that has it open, so an image in use is refused.
    /// </summary>
    private async Task<StorageOutcome> RbdSnapshotAsync(RunStorageOperation command, VolumeSpecification spec, string name, CancellationToken cancellationToken)
    {
        if (name.Contains('@', StringComparison.Ordinal) || name.Contains('/', StringComparison.Ordinal))
        {
            throw new OperationFailure("INVALID_SPEC", $"the snapshot name '{name}' has '@' or '/', which Ceph reads as part of an image name");
        }

        if (name.StartsWith("libvirt-", StringComparison.Ordinal))
        {
            throw new OperationFailure("INVALID_SPEC", $"the snapshot name '{name}' starts with 'libvirt-', which libvirt uses for the snapshots it clones from");
        }

        using var pool = pools.Ensure(command.Pool);
        using var volume = RequireExisting(pool, spec, command.Pool);
        var (cephPool, image) = RbdTool.Split(volume.Path);
        var exists = (await rbdTool.SnapshotsAsync(command.Pool, cephPool, image, cancellationToken)).Any(s => s.Name == name);
        string[] target = ["--no-progress", "--pool", cephPool, "--image", image, "--snap", name];
        switch (command.Kind)
        {
            case StorageOperationKind.SnapshotVolume when !exists:
                await rbdTool.RunAsync(command.Pool, ["snap", "create", .. target], cancellationToken);
                break;
            case StorageOperationKind.DeleteVolumeSnapshot when exists:
                await rbdTool.RunAsync(command.Pool, ["snap", "rm", .. target], cancellationToken);
                break;
            case StorageOperationKind.RevertVolume:
                if (!exists)
                {
                    throw new OperationFailure("SNAPSHOT_NOT_FOUND", $"volume {spec.Name} has no snapshot named '{name}'");
                }

                if (await rbdTool.InUseAsync(command.Pool, cephPool, image, cancellationToken))
                {
                    throw new OperationFailure("VOLUME_IN_USE", $"volume {spec.Name} is open (a running guest uses it); stop the guest before reverting it to '{name}'");
                }

                await rbdTool.RunAsync(command.Pool, ["snap", "rollback", .. target], cancellationToken);
                break;
        }

        return StorageOutcome.Of(volume);
    }

    private static async Task<HashSet<string>> SnapshotNamesAsync(string image, CancellationToken cancellationToken)
    {
        // -U: only reads the header, and must not fail for the lock; the change itself takes the lock.
        var info = await ExternalTool.RunAsync("qemu-img", ["info", "--output=json", "-U", "--image-opts", image], cancellationToken);
        if (info.ExitCode != 0)
        {
            throw new OperationFailure("QEMU_IMG_FAILED", info.Message);
        }

        var names = new HashSet<string>(StringComparer.Ordinal);
        if (JsonDocument.Parse(info.StandardOutput).RootElement.TryGetProperty("snapshots", out var snapshots))
        {
            foreach (var snapshot in snapshots.EnumerateArray())
            {
                names.Add(snapshot.GetProperty("name").GetString() ?? string.Empty);
            }
        }

        return names;
    }

    /// <summary>The imported volume as libvirt lists it once the pool is refreshed (the import wrote it behind libvirt's back).</summary>
    private static StorageOutcome Imported(LibvirtStoragePool pool, string name)
    {
        pool.Refresh();
        using var imported = pool.FindVolume(name)
            ?? throw new OperationFailure("AGENT_ERROR", $"volume {name} was written but libvirt does not list it after a refresh");
        return StorageOutcome.Of(imported);
    }

    private static void TryRefresh(LibvirtStoragePool pool)
    {
        try
        {
            pool.Refresh();
        }
        catch (LibvirtException)
        {
            // The failure being reported matters more.
        }
    }

    private static void TryDelete(LibvirtStorageVolume volume, StorageVolumeDeleteFlags flags)
    {
        try
        {
            volume.Delete(flags);
        }
        catch (LibvirtException)
        {
            // The failure being reported matters more; a leftover import image is removed by the next delivery.
        }
    }

    private static void TryDeleteFile(string path)
    {
        try
        {
            File.Delete(path);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            // The work folder is the agent's own; nothing else can be done.
        }
    }

    private static VolumeSpecification RequireVolume(RunStorageOperation command) =>
        command.Volume ?? throw new OperationFailure("INVALID_SPEC", $"a {command.Kind} operation needs its volume");

    private static LibvirtStorageVolume RequireExisting(LibvirtStoragePool pool, VolumeSpecification spec, StoragePoolSpecification poolSpec) =>
        FindVolume(pool, spec.Name) ?? throw new OperationFailure("VOLUME_NOT_FOUND", $"volume {spec.Name} is not in pool {poolSpec.LibvirtName}");

    /// <summary>The volume, looked for again after a refresh when libvirt does not list it: it may have appeared behind libvirt's back.</summary>
    private static LibvirtStorageVolume? FindVolume(LibvirtStoragePool pool, string name)
    {
        if (pool.FindVolume(name) is { } volume)
        {
            return volume;
        }

        pool.Refresh();
        return pool.FindVolume(name);
    }
}
