using System.Diagnostics;
using System.Text.Json;
using Quantixkvm.Agent.Hypervisor;
using Quantixkvm.Libvirt;
using Quantixkvm.Testing;

namespace Quantixkvm.Agent.Tests.Support;

/// <summary>
/// A private libvirtd (under root it runs as the 'quantixkvm' user) whose QEMU driver has real dir pools,
/// image files and device attach/detach, none of which libvirt's test driver has. Pools are built inside
/// <see cref="Root"/>, which the daemon's user owns; <see cref="Scratch"/> is the test's own folder.
/// </summary>
public sealed class SessionHypervisor : IAsyncLifetime
{
    private LibvirtDaemon? _daemon;

    /// <summary>The daemon's folder: its user may create pools inside.</summary>
    public string Root => _daemon!.Root;

    public string Uri => _daemon!.QemuSessionUri;

    /// <summary>The test's own view of the daemon.</summary>
    public LibvirtConnection Libvirt { get; private set; } = null!;

    /// <summary>The agent's connection to the daemon.</summary>
    public HypervisorConnection Hypervisor { get; private set; } = null!;

    /// <summary>A folder of the test's own (import sources, seeds), outside the daemon's.</summary>
    public string Scratch { get; } = Directory.CreateTempSubdirectory("qkvm-agent-").FullName;

    public async Task InitializeAsync()
    {
        _daemon = await LibvirtDaemon.StartAsync();
        Libvirt = LibvirtConnection.Open(_daemon.QemuSessionUri);
        Hypervisor = new HypervisorConnection(_daemon.QemuSessionUri);
    }

    public async Task DisposeAsync()
    {
        Hypervisor?.Dispose();
        Libvirt?.Dispose();
        if (_daemon is not null)
        {
            await _daemon.DisposeAsync();
        }

        Directory.Delete(Scratch, recursive: true);
    }

    /// <summary>Undefines pools whose names start with qkvm-pool- after deleting their volumes; never throws.</summary>
    public void RemovePool(string name)
    {
        try
        {
            using var pool = Libvirt.FindStoragePool(name);
            if (pool is null)
            {
                return;
            }

            if (pool.IsActive)
            {
                pool.Refresh();
                foreach (var volume in pool.ListVolumes())
                {
                    using (volume)
                    {
                        volume.Delete();
                    }
                }

                pool.Destroy();
            }

            pool.Undefine();
        }
        catch (LibvirtException)
        {
            // Best effort.
        }
    }
}

/// <summary>Host tools the tests read images with, run without a shell.</summary>
public static class Tools
{
    public static string Run(string file, params string[] arguments)
    {
        var start = new ProcessStartInfo(file) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        using var process = Process.Start(start) ?? throw new InvalidOperationException($"{file} did not start");
        var error = process.StandardError.ReadToEndAsync();
        var output = process.StandardOutput.ReadToEnd();
        process.WaitForExit();
        process.ExitCode.ShouldBe(0, $"{file} {string.Join(' ', arguments)}: {error.Result}");
        return output;
    }

    /// <summary><c>qemu-img info --output=json -U</c> of an image.</summary>
    public static JsonElement QemuImgInfo(string path) =>
        JsonDocument.Parse(Run("qemu-img", "info", "--output=json", "-U", path)).RootElement.Clone();

    public static IReadOnlyList<string> SnapshotNames(string path) =>
        QemuImgInfo(path).TryGetProperty("snapshots", out var snapshots)
            ? [.. snapshots.EnumerateArray().Select(s => s.GetProperty("name").GetString()!)]
            : [];

    /// <summary>Writes a byte pattern into the guest's view of a qcow2 image (qemu-io).</summary>
    public static void WritePattern(string qcow2, byte pattern) =>
        Run("qemu-io", "-f", "qcow2", "-c", $"write -P 0x{pattern:x2} 0 64k", qcow2);

    /// <summary>Whether the first 64 KiB of the guest's view of a qcow2 image hold the pattern.</summary>
    public static bool HasPattern(string qcow2, byte pattern)
    {
        var start = new ProcessStartInfo("qemu-io") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var argument in new[] { "-f", "qcow2", "-c", $"read -P 0x{pattern:x2} 0 64k", qcow2 })
        {
            start.ArgumentList.Add(argument);
        }

        using var process = Process.Start(start)!;
        var output = process.StandardOutput.ReadToEnd() + process.StandardError.ReadToEnd();
        process.WaitForExit();
        return process.ExitCode == 0 && !output.Contains("Pattern verification failed", StringComparison.Ordinal);
    }
}
