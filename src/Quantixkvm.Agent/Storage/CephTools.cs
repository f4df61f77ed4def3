using System.Text;
using System.Text.Json;
using Microsoft.Extensions.Options;
using Quantixkvm.Contracts;

namespace Quantixkvm.Agent.Storage;

/// <summary>
/// How the agent's own Ceph tools (<c>rbd</c>, <c>qemu-img</c>'s rbd driver) reach an RBD pool's cluster: as the
/// pool's cephx user, with this host's ceph.conf (or, without one, the pool's monitors) and a keyring file. The key
/// is never put on a command line: with <see cref="CephOptions.Key"/> configured, a keyring file readable by the
/// agent alone is written into the work folder for the lease and removed when it is disposed.
/// </summary>
public sealed class CephAccess : IDisposable
{
    private readonly string? _temporaryKeyring;

    private CephAccess(string user, string? confPath, string monitors, string keyringPath, string? temporaryKeyring)
    {
        User = user;
        ConfPath = confPath;
        Monitors = monitors;
        KeyringPath = keyringPath;
        _temporaryKeyring = temporaryKeyring;
    }

    /// <summary>The Ceph client id, without <c>client.</c>.</summary>
    public string User { get; }

    /// <summary>This host's ceph.conf, or null when it has none (the tools then use <see cref="Monitors"/>).</summary>
    public string? ConfPath { get; }

    /// <summary>The pool's monitors as Ceph's <c>mon_host</c> takes them: <c>host:port,[v6]:port</c>.</summary>
    public string Monitors { get; }

    /// <summary>The keyring file holding the user's key.</summary>
    public string KeyringPath { get; }

    /// <summary>The access for a pool's user; the caller disposes it.</summary>
    /// <exception cref="OperationFailure">INVALID_SPEC (no user or monitors), CEPH_KEY_MISSING.</exception>
    public static CephAccess For(StoragePoolSpecification pool, AgentOptions options)
    {
        var user = pool.CephUser ?? throw new OperationFailure("INVALID_SPEC", $"rbd pool {pool.LibvirtName} names no Ceph user");
        var monitors = string.Join(',', StoragePools.ParseMonitors(pool.CephMonitors)
            .Select(m => m.Host.Contains(':', StringComparison.Ordinal) ? $"[{m.Host}]:{m.Port}" : $"{m.Host}:{m.Port}"));
        var conf = File.Exists(options.Ceph.ConfPath) ? Path.GetFullPath(options.Ceph.ConfPath) : null;
        if (string.IsNullOrWhiteSpace(options.Ceph.Key))
        {
            var keyring = Path.GetFullPath(options.Ceph.KeyringPathFor(user));
            if (!File.Exists(keyring))
            {
                throw new OperationFailure("CEPH_KEY_MISSING", $"no cephx key for client.{user}: Agent:Ceph:Key is not set and the keyring {keyring} does not exist");
            }

            return new CephAccess(user, conf, monitors, keyring, null);
        }

        if (OperatingSystem.IsWindows())
        {
            throw new PlatformNotSupportedException("Ceph keyrings are written on Linux hosts only");
        }

        var folder = WorkFolder(options);
        var temporary = Path.Combine(folder, $".qkvm-keyring-{Guid.NewGuid():N}");
        try
        {
            using var file = new FileStream(temporary, new FileStreamOptions
            {
                Mode = FileMode.CreateNew,
                Access = FileAccess.Write,
                UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite,
            });
            file.Write(Encoding.UTF8.GetBytes($"[client.{user}]\n\tkey = {options.Ceph.Key.Trim()}\n"));
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            TryDelete(temporary);
            throw new OperationFailure("CEPH_KEY_MISSING", $"the keyring of client.{user} cannot be written into {folder}: {ex.Message}", ex);
        }

        return new CephAccess(user, conf, monitors, temporary, temporary);
    }

    /// <summary>The agent's work folder, made (for the agent alone) when missing.</summary>
    public static string WorkFolder(AgentOptions options)
    {
        if (OperatingSystem.IsWindows())
        {
            throw new PlatformNotSupportedException("the agent's work folder is made on Linux hosts only");
        }

        var folder = Path.GetFullPath(options.WorkDirectory);
        try
        {
            Directory.CreateDirectory(folder, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            throw new OperationFailure("WORK_DIRECTORY_UNUSABLE", $"the agent's work folder {folder} cannot be made: {ex.Message}", ex);
        }

        return folder;
    }

    /// <summary>What <c>rbd</c> needs before its own arguments: user, keyring, and the configuration or the monitors.</summary>
    public IReadOnlyList<string> RbdArguments() => ConfPath is not null
        ? ["--id", User, "--keyring", KeyringPath, "--conf", ConfPath]
        : ["--id", User, "--keyring", KeyringPath, "--conf", "/dev/null", "-m", Monitors];

    /// <summary>
    /// An RBD image as qemu-img's rbd driver takes it as a file name, <c>rbd:POOL/IMAGE:id=USER:conf=CONF:keyring=KEYRING</c>
    /// (or <c>mon_host=…</c> without a ceph.conf); values are escaped as QEMU reads them.
    /// </summary>
    public string QemuImageName(string cephPool, string image)
    {
        var name = new StringBuilder("rbd:").Append(Escape(cephPool)).Append('/').Append(Escape(image));
        name.Append(":id=").Append(Escape(User));
        if (ConfPath is not null)
        {
            name.Append(":conf=").Append(Escape(ConfPath));
        }
        else
        {
            name.Append(":conf=/dev/null:mon_host=").Append(Escape(Monitors));
        }

        return name.Append(":keyring=").Append(Escape(KeyringPath)).ToString();
    }

    public void Dispose()
    {
        if (_temporaryKeyring is not null)
        {
            TryDelete(_temporaryKeyring);
        }
    }

    /// <summary>QEMU's rbd file name syntax: ':' separates options and '@' a snapshot; a backslash escapes either.</summary>
    private static string Escape(string value) =>
        value.Replace("\\", "\\\\", StringComparison.Ordinal).Replace(":", "\\:", StringComparison.Ordinal).Replace("@", "\\@", StringComparison.Ordinal);

    private static void TryDelete(string path)
    {
        try
        {
            File.Delete(path);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            // Nothing more can be done; the folder is the agent's alone.
        }
    }
}

/// <summary>An RBD snapshot as <c>rbd snap ls</c> lists it.</summary>
public sealed record RbdSnapshot(string Name, bool Protected);

/// <summary>
/// Ceph's <c>rbd</c> tool, run with an argument array as the pool's cephx user (see <see cref="CephAccess"/>), for
/// what libvirt's rbd backend cannot do: image snapshots, flattening a clone, renaming an image.
/// </summary>
public sealed class RbdTool(IOptions<AgentOptions> options)
{
    /// <summary>The agent's work folder, made when missing.</summary>
    public string WorkFolder() => CephAccess.WorkFolder(options.Value);

    /// <summary>The access the pool's tools use; the caller disposes it.</summary>
    public CephAccess Access(StoragePoolSpecification pool) => CephAccess.For(pool, options.Value);

    /// <summary>Runs <c>rbd</c> and returns its standard output.</summary>
    /// <exception cref="OperationFailure">RBD_FAILED with rbd's own message; TOOL_MISSING; CEPH_KEY_MISSING.</exception>
    public async Task<string> RunAsync(StoragePoolSpecification pool, IReadOnlyList<string> arguments, CancellationToken cancellationToken)
    {
        using var access = Access(pool);
        var result = await ExternalTool.RunAsync("rbd", [.. access.RbdArguments(), .. arguments], cancellationToken);
        if (result.ExitCode != 0)
        {
            throw new OperationFailure("RBD_FAILED", $"rbd {string.Join(' ', arguments)}: {result.Message}");
        }

        return result.StandardOutput;
    }

    /// <summary>The image's snapshots (<c>rbd snap ls</c>).</summary>
    public async Task<IReadOnlyList<RbdSnapshot>> SnapshotsAsync(StoragePoolSpecification pool, string cephPool, string image, CancellationToken cancellationToken)
    {
        var json = await RunAsync(pool, ["snap", "ls", "--format", "json", "--pool", cephPool, "--image", image], cancellationToken);
        return
        [
            .. JsonDocument.Parse(json).RootElement.EnumerateArray().Select(s => new RbdSnapshot(
                s.GetProperty("name").GetString() ?? string.Empty,
                s.TryGetProperty("protected", out var p) && p.ValueKind == JsonValueKind.String && p.GetString() == "true")),
        ];
    }

    /// <summary>The image's parent (<c>pool/image@snapshot</c>), or null when it is not a clone (<c>rbd info</c>).</summary>
    public async Task<string?> ParentAsync(StoragePoolSpecification pool, string cephPool, string image, CancellationToken cancellationToken)
    {
        var json = await RunAsync(pool, ["info", "--format", "json", "--pool", cephPool, "--image", image], cancellationToken);
        var root = JsonDocument.Parse(json).RootElement;
        return root.TryGetProperty("parent", out var parent)
            ? $"{parent.GetProperty("pool").GetString()}/{parent.GetProperty("image").GetString()}@{parent.GetProperty("snapshot").GetString()}"
            : null;
    }

    /// <summary>Whether a client (a running guest's QEMU) has the image open (<c>rbd status</c> lists its watchers).</summary>
    public async Task<bool> InUseAsync(StoragePoolSpecification pool, string cephPool, string image, CancellationToken cancellationToken)
    {
        var json = await RunAsync(pool, ["status", "--format", "json", "--pool", cephPool, "--image", image], cancellationToken);
        return JsonDocument.Parse(json).RootElement.TryGetProperty("watchers", out var watchers)
            && watchers.ValueKind == JsonValueKind.Array && watchers.GetArrayLength() > 0;
    }

    /// <summary>The Ceph pool and image of a volume of an rbd pool, from its libvirt path <c>POOL/IMAGE</c>.</summary>
    /// <exception cref="OperationFailure">AGENT_ERROR: the path is not <c>POOL/IMAGE</c>.</exception>
    public static (string CephPool, string Image) Split(string volumePath)
    {
        var slash = volumePath.IndexOf('/', StringComparison.Ordinal);
        return slash > 0 && slash < volumePath.Length - 1 && volumePath.IndexOf('/', slash + 1) < 0
            ? (volumePath[..slash], volumePath[(slash + 1)..])
            : throw new OperationFailure("AGENT_ERROR", $"the RBD volume path '{volumePath}' is not POOL/IMAGE");
    }
}
