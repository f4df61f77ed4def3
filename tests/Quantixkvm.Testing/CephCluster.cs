using System.Diagnostics;
using System.Text;
using System.Text.Json;

namespace Quantixkvm.Testing;

/// <summary>
/// The private single-node Ceph cluster of infra/dev/ceph.sh (one mon, one osd on 127.0.0.1, an RBD pool and the
/// cephx user <c>client.quantixkvm</c>), started once per test process with <c>ceph.sh start</c> (idempotent, ~0.5 s
/// when it already runs, ~13 s from scratch) and described by <c>ceph.sh env</c>. It is left running: infra/dev/stop.sh
/// stops it. Tests share the Ceph pool, so every test names its images uniquely and removes them.
/// </summary>
public sealed class CephCluster
{
    private static readonly Lazy<Task<CephCluster>> Started = new(StartOnceAsync, LazyThreadSafetyMode.ExecutionAndPublication);

    private CephCluster(IReadOnlyDictionary<string, string> env)
    {
        string Get(string name) => env.TryGetValue(name, out var value) && value.Length > 0
            ? value
            : throw new InvalidOperationException($"infra/dev/ceph.sh env printed no {name}");

        ConfPath = Get("QKVM_CEPH_CONF");
        Pool = Get("QKVM_CEPH_POOL");
        User = Get("QKVM_CEPH_USER");
        Key = Get("QKVM_CEPH_KEY");
        Monitor = Get("QKVM_CEPH_MON");
        MonitorV2 = Get("QKVM_CEPH_MON_V2");
    }

    /// <summary>The cluster's ceph.conf (its <c>[client]</c> section names the keyrings).</summary>
    public string ConfPath { get; }

    /// <summary>The RBD pool the script made (<c>qkvm</c>).</summary>
    public string Pool { get; }

    /// <summary>The cephx user without <c>client.</c> (<c>quantixkvm</c>).</summary>
    public string User { get; }

    /// <summary>The user's base64 cephx key.</summary>
    public string Key { get; }

    /// <summary>The mon's msgr v1 address, <c>127.0.0.1:PORT</c>: what libvirt and QEMU are given.</summary>
    public string Monitor { get; }

    /// <summary>The mon's msgr v2 address.</summary>
    public string MonitorV2 { get; }

    /// <summary>The user's keyring, next to ceph.conf (readable by the libvirt daemons' user).</summary>
    public string KeyringPath => Path.Combine(Path.GetDirectoryName(ConfPath)!, $"ceph.client.{User}.keyring");

    /// <summary>Starts the cluster if it does not run (once per process) and reads its settings.</summary>
    public static Task<CephCluster> StartAsync() => Started.Value;

    /// <summary>A unique image name for one test, e.g. <c>t-3f2a…-base</c>.</summary>
    public static string UniqueImage(string suffix) => $"t-{Guid.NewGuid():N}"[..14] + "-" + suffix;

    /// <summary>Runs <c>rbd</c> as the cluster's user (argument array, no shell) and returns its standard output.</summary>
    public string Rbd(params string[] arguments) =>
        Encoding.UTF8.GetString(RbdBytes(arguments));

    /// <summary>The whole content of an image (<c>rbd export IMAGE -</c>).</summary>
    public byte[] Export(string image) => RbdBytes("export", "--no-progress", $"{Pool}/{image}", "-");

    /// <summary>The images of the pool (<c>rbd ls</c>).</summary>
    public IReadOnlyList<string> Images() =>
        Rbd("ls", "-p", Pool).Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);

    /// <summary>The image's parent, <c>pool/image@snapshot</c>, or null when it is not a clone (from <c>rbd info</c>).</summary>
    public string? Parent(string image)
    {
        var info = JsonDocument.Parse(Rbd("info", "--format", "json", $"{Pool}/{image}")).RootElement;
        return info.TryGetProperty("parent", out var parent)
            ? $"{parent.GetProperty("pool").GetString()}/{parent.GetProperty("image").GetString()}@{parent.GetProperty("snapshot").GetString()}"
            : null;
    }

    /// <summary>The names of the image's snapshots (<c>rbd snap ls</c>).</summary>
    public IReadOnlyList<string> Snapshots(string image) =>
    [
        .. JsonDocument.Parse(Rbd("snap", "ls", "--format", "json", $"{Pool}/{image}")).RootElement.EnumerateArray()
            .Select(s => s.GetProperty("name").GetString()!),
    ];

    /// <summary>The image's size in bytes (<c>rbd info</c>).</summary>
    public long Size(string image) =>
        JsonDocument.Parse(Rbd("info", "--format", "json", $"{Pool}/{image}")).RootElement.GetProperty("size").GetInt64();

    /// <summary>
    /// QEMU's name of an image as the cluster's user (<c>rbd:POOL/IMAGE:id=…:conf=…:keyring=…</c>), for qemu-io and
    /// qemu-img in tests; the paths hold no ':' or '@'.
    /// </summary>
    public string QemuName(string image) => $"rbd:{Pool}/{image}:id={User}:conf={ConfPath}:keyring={KeyringPath}";

    /// <summary>Removes the images (their snapshots first, children before parents as given); never throws.</summary>
    public void TryRemove(params string[] images)
    {
        foreach (var image in images)
        {
            try
            {
                if (!Images().Contains(image))
                {
                    continue;
                }

                foreach (var snapshot in Snapshots(image))
                {
                    TryRun("snap", "unprotect", "--pool", Pool, "--image", image, "--snap", snapshot);
                }

                TryRun("snap", "purge", "--no-progress", $"{Pool}/{image}");
                TryRun("rm", "--no-progress", $"{Pool}/{image}");
            }
            catch (InvalidOperationException)
            {
                // Best effort: a leftover image in the test pool harms no other test.
            }
        }
    }

    private void TryRun(params string[] arguments)
    {
        try
        {
            RbdBytes(arguments);
        }
        catch (InvalidOperationException)
        {
            // Best effort.
        }
    }

    private byte[] RbdBytes(params string[] arguments)
    {
        var start = new ProcessStartInfo("rbd")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var argument in new[] { "--id", User, "--conf", ConfPath, "--keyring", KeyringPath }.Concat(arguments))
        {
            start.ArgumentList.Add(argument);
        }

        using var process = Process.Start(start) ?? throw new InvalidOperationException("rbd did not start");
        var error = process.StandardError.ReadToEndAsync();
        using var output = new MemoryStream();
        process.StandardOutput.BaseStream.CopyTo(output);
        process.WaitForExit();
        if (process.ExitCode != 0)
        {
            throw new InvalidOperationException($"rbd {string.Join(' ', arguments)} exited with {process.ExitCode}: {error.Result}");
        }

        return output.ToArray();
    }

    private static async Task<CephCluster> StartOnceAsync()
    {
        await RunScriptAsync("start");
        var env = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var line in (await RunScriptAsync("env")).Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            var text = line.StartsWith("export ", StringComparison.Ordinal) ? line["export ".Length..] : line;
            var equals = text.IndexOf('=', StringComparison.Ordinal);
            if (equals > 0)
            {
                env[text[..equals]] = Unquote(text[(equals + 1)..]);
            }
        }

        return new CephCluster(env);
    }

    /// <summary>Undoes bash's <c>printf %q</c>: '…' and $'…' quoting and backslash escapes.</summary>
    private static string Unquote(string value)
    {
        var result = new StringBuilder();
        for (var i = 0; i < value.Length; i++)
        {
            var c = value[i];
            if (c == '\'' || (c == '$' && i + 1 < value.Length && value[i + 1] == '\''))
            {
                i += c == '$' ? 2 : 1;
                while (i < value.Length && value[i] != '\'')
                {
                    result.Append(value[i++]);
                }
            }
            else if (c == '\\' && i + 1 < value.Length)
            {
                result.Append(value[++i]);
            }
            else
            {
                result.Append(c);
            }
        }

        return result.ToString();
    }

    private static async Task<string> RunScriptAsync(string command)
    {
        var script = Path.Combine(PlatformProcess.RepositoryRoot, "infra", "dev", "ceph.sh");
        var start = new ProcessStartInfo("bash", [script, command])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            WorkingDirectory = PlatformProcess.RepositoryRoot,
        };
        using var process = Process.Start(start) ?? throw new InvalidOperationException($"{script} did not start");
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync();
        var output = await stdout;
        if (process.ExitCode != 0)
        {
            throw new InvalidOperationException($"{script} {command} exited with {process.ExitCode}:\n{await stderr}\n{output}");
        }

        return output;
    }
}
