using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using System.Xml.Linq;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Quantixkvm.Agent.Hypervisor;
using Quantixkvm.Contracts;
using Quantixkvm.Libvirt;

namespace Quantixkvm.Agent.Storage;

/// <summary>
/// Makes sure a pool the control plane names exists and runs in libvirt: defined (with the pool's id as
/// its UUID), built, started and marked autostart. An existing pool of that name is reused as it is, so
/// ensuring is harmless to repeat. RBD pools authenticate with a libvirt secret the agent defines from its
/// own Ceph configuration.
/// </summary>
public sealed class StoragePools(HypervisorConnection hypervisor, IOptions<AgentOptions> options, ILogger<StoragePools>? logger = null)
{
    private readonly Lock _gate = new();
    private readonly ILogger _logger = logger ?? NullLogger<StoragePools>.Instance;

    /// <summary>The pool, defined and started if it was not; the caller disposes it.</summary>
    /// <exception cref="OperationFailure">INVALID_SPEC, CEPH_KEY_MISSING.</exception>
    /// <exception cref="LibvirtException">libvirt refused to define, build or start it.</exception>
    public LibvirtStoragePool Ensure(StoragePoolSpecification spec)
    {
        RequireOwnName(spec);
        lock (_gate)
        {
            var libvirt = hypervisor.Connection;
            var pool = libvirt.FindStoragePool(spec.LibvirtName);
            var defined = pool is null;
            if (pool is not null && spec.Kind == "rbd")
            {
                // The pool is there: still give its secret the key as the keyring has it now, so a rotated key takes effect.
                EnsureCephSecret(libvirt, spec.CephUser ?? throw new OperationFailure("INVALID_SPEC", $"rbd pool {spec.LibvirtName} names no Ceph user"));
            }

            pool ??= libvirt.DefineStoragePool(PoolXml(libvirt, spec));
            try
            {
                if (!pool.IsActive)
                {
                    // A dir pool's folder is made by libvirt (as its own user), only when missing: build also resets an existing folder's mode.
                    if (spec.Kind == "dir" && !Directory.Exists(TargetPath(pool)))
                    {
                        pool.Build();
                    }

                    pool.Start();
                }

                if (defined)
                {
                    pool.SetAutostart(true);
                    _logger.LogInformation("Defined and started storage pool {Pool} ({Kind})", spec.LibvirtName, spec.Kind);
                }

                return pool;
            }
            catch
            {
                pool.Dispose();
                throw;
            }
        }
    }

    /// <summary>The pool if libvirt has it (running or not), else null; the caller disposes it.</summary>
    public LibvirtStoragePool? Find(StoragePoolSpecification spec)
    {
        RequireOwnName(spec);
        return hypervisor.Connection.FindStoragePool(spec.LibvirtName);
    }

    /// <summary>The folder (dir pool) or Ceph pool name (RBD) of a pool, as libvirt has it.</summary>
    public static string TargetPath(LibvirtStoragePool pool)
    {
        var root = XDocument.Parse(pool.GetXml()).Root!;
        return root.Element("target")?.Element("path")?.Value ?? root.Element("source")?.Element("name")?.Value ?? string.Empty;
    }

    /// <summary>The libvirt secret UUID of a Ceph user's key on every host: derived from the user, so it is found again after a restart.</summary>
    public static Guid CephSecretUuid(string cephUser)
    {
        var hash = SHA256.HashData(Encoding.UTF8.GetBytes("quantixkvm ceph secret\n" + cephUser));
        var bytes = hash.AsSpan(0, 16).ToArray();
        bytes[7] = (byte)((bytes[7] & 0x0F) | 0x50);  // version 5 style (name-based), in Guid's little-endian layout
        bytes[8] = (byte)((bytes[8] & 0x3F) | 0x80);  // RFC 4122 variant
        return new Guid(bytes);
    }

    /// <summary>"host:port" monitors as libvirt wants them; "[v6]:port" for IPv6, port 6789 when left out.</summary>
    /// <exception cref="OperationFailure">INVALID_SPEC: none, or one that is not host:port.</exception>
    public static IReadOnlyList<(string Host, int Port)> ParseMonitors(IReadOnlyList<string>? monitors)
    {
        if (monitors is null || monitors.Count == 0)
        {
            throw new OperationFailure("INVALID_SPEC", "an rbd pool needs at least one Ceph monitor");
        }

        var parsed = new List<(string, int)>(monitors.Count);
        foreach (var monitor in monitors)
        {
            var text = monitor.Trim();
            string host;
            var port = 6789;
            var close = text.LastIndexOf(']');
            var colon = text.LastIndexOf(':');
            if (text.StartsWith('['))
            {
                host = close > 0 ? text[1..close] : string.Empty;
                if (close > 0 && close + 1 < text.Length && (text[close + 1] != ':' || !int.TryParse(text[(close + 2)..], NumberStyles.None, CultureInfo.InvariantCulture, out port)))
                {
                    host = string.Empty;
                }
            }
            else if (colon >= 0)
            {
                host = text[..colon];
                if (!int.TryParse(text[(colon + 1)..], NumberStyles.None, CultureInfo.InvariantCulture, out port))
                {
                    host = string.Empty;
                }
            }
            else
            {
                host = text;
            }

            if (host.Length == 0 || port is < 1 or > 65535)
            {
                throw new OperationFailure("INVALID_SPEC", $"the Ceph monitor '{monitor}' is not host:port");
            }

            parsed.Add((host, port));
        }

        return parsed;
    }

    /// <summary>The <c>key = ...</c> of the <c>[client.USER]</c> section of a keyring, or null when it has none.</summary>
    public static string? KeyFromKeyring(string keyring, string cephUser)
    {
        var section = $"[client.{cephUser}]";
        var inSection = false;
        foreach (var raw in keyring.Split('\n'))
        {
            var line = raw.Trim();
            if (line.StartsWith('['))
            {
                inSection = string.Equals(line, section, StringComparison.Ordinal);
                continue;
            }

            var equals = line.IndexOf('=', StringComparison.Ordinal);
            if (inSection && equals > 0 && line[..equals].Trim() == "key")
            {
                return line[(equals + 1)..].Trim();
            }
        }

        return null;
    }

    private static void RequireOwnName(StoragePoolSpecification spec)
    {
        // The agent only ever touches pools it named itself: never "default" or an operator's own pool.
        if (spec.LibvirtName != StoragePoolSpecification.LibvirtNameFor(spec.PoolId))
        {
            throw new OperationFailure("INVALID_SPEC",
                $"pool {spec.PoolId} must be named {StoragePoolSpecification.LibvirtNameFor(spec.PoolId)} in libvirt, not '{spec.LibvirtName}'");
        }
    }

    private string PoolXml(LibvirtConnection libvirt, StoragePoolSpecification spec) => spec.Kind switch
    {
        "dir" => StoragePoolXml.Dir(spec.LibvirtName, spec.PoolId,
            spec.Path ?? throw new OperationFailure("INVALID_SPEC", $"dir pool {spec.LibvirtName} has no path")),
        "rbd" => StoragePoolXml.Rbd(
            spec.LibvirtName, spec.PoolId,
            spec.CephPool ?? throw new OperationFailure("INVALID_SPEC", $"rbd pool {spec.LibvirtName} names no Ceph pool"),
            ParseMonitors(spec.CephMonitors),
            spec.CephUser ?? throw new OperationFailure("INVALID_SPEC", $"rbd pool {spec.LibvirtName} names no Ceph user"),
            EnsureCephSecret(libvirt, spec.CephUser)),
        _ => throw new OperationFailure("NOT_SUPPORTED", $"pool kind '{spec.Kind}' is not supported by this agent (dir, rbd)"),
    };

    /// <summary>Defines (or finds) the user's libvirt ceph secret and gives it the key from this host's configuration.</summary>
    private Guid EnsureCephSecret(LibvirtConnection libvirt, string cephUser)
    {
        var key = ReadCephKey(cephUser);
        byte[] value;
        try
        {
            value = Convert.FromBase64String(key);
        }
        catch (FormatException)
        {
            throw new OperationFailure("CEPH_KEY_MISSING", $"the configured cephx key of client.{cephUser} is not base64");
        }

        var uuid = CephSecretUuid(cephUser);
        using var secret = libvirt.FindSecret(uuid) ?? libvirt.DefineSecret(SecretXml.Ceph(uuid, $"quantixkvm client.{cephUser}"));
        // Set every time: a rotated key in the keyring reaches libvirt with the next pool this host ensures.
        secret.SetValue(value);
        Array.Clear(value);
        return uuid;
    }

    private string ReadCephKey(string cephUser)
    {
        var ceph = options.Value.Ceph;
        if (!string.IsNullOrWhiteSpace(ceph.Key))
        {
            return ceph.Key.Trim();
        }

        var path = ceph.KeyringPathFor(cephUser);
        string text;
        try
        {
            text = File.ReadAllText(path);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            throw new OperationFailure("CEPH_KEY_MISSING", $"no cephx key for client.{cephUser}: Agent:Ceph:Key is not set and {path} cannot be read ({ex.Message})", ex);
        }

        return KeyFromKeyring(text, cephUser)
            ?? throw new OperationFailure("CEPH_KEY_MISSING", $"the keyring {path} has no key for client.{cephUser}");
    }
}
