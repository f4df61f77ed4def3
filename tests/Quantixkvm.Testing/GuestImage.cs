using System.Diagnostics;
using System.Text;

namespace Quantixkvm.Testing;

/// <summary>
/// The tiny bootable guest disk for real-QEMU tests (TCG), built by infra/dev/guest-image.sh: a raw
/// FAT disk with syslinux, Debian's kernel and a busybox init that reports on the serial console
/// (ttyS0): <c>QKVM-GUEST-READY</c>; <c>QKVM-DISKS vda:SERIAL vdb:SERIAL</c> at start and whenever the
/// virtio disks change (guest names follow attach order, so match disks by serial, not by target);
/// <c>QKVM-CIDATA key: value</c> and <c>QKVM-USERDATA first-line</c> for an attached NoCloud seed ISO;
/// <c>QKVM-POWEROFF</c> on the ACPI power button; for every NIC (ethN, at boot and hot-plugged later) a DHCP request
/// (busybox udhcpc, five discovers) and <c>QKVM-NET ethN MAC ADDRESS/PREFIX</c> with the lease it applied, or
/// <c>QKVM-NET ethN MAC none</c> when no server answered; <c>QKVM-NET-GONE ethN</c> when a NIC is unplugged. The guest's
/// kernel answers pings once a NIC has its address. Boot it from a qcow2 overlay, never from the image itself.
/// </summary>
public static class GuestImage
{
    private static readonly Lazy<Task<string>> Build = new(RunScriptAsync, LazyThreadSafetyMode.ExecutionAndPublication);

    /// <summary>Builds the image if missing or stale (once per process) and returns its path.</summary>
    public static Task<string> BuildAsync() => Build.Value;

    /// <summary>
    /// Polls a serial log (which may not exist yet) until a complete line matches; returns that line
    /// without its line ending. Lines are checked from the start of the file, in order.
    /// </summary>
    public static async Task<string> WaitForSerialLineAsync(string logPath, Func<string, bool> match, TimeSpan timeout, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(match);
        var reader = new SerialLogReader(logPath);
        var deadline = Stopwatch.StartNew();
        while (true)
        {
            foreach (var line in reader.ReadNewLines())
            {
                if (match(line))
                {
                    return line;
                }
            }

            if (deadline.Elapsed >= timeout)
            {
                throw new TimeoutException(
                    $"no matching line in {logPath} within {timeout.TotalSeconds:0.#} s; last lines:\n{reader.Tail(20)}");
            }

            await Task.Delay(TimeSpan.FromMilliseconds(100), ct);
        }
    }

    private static async Task<string> RunScriptAsync()
    {
        var script = Path.Combine(PlatformProcess.RepositoryRoot, "infra", "dev", "guest-image.sh");
        var start = new ProcessStartInfo("bash", [script])
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
        var errors = await stderr;
        if (process.ExitCode != 0)
        {
            throw new InvalidOperationException($"{script} exited with {process.ExitCode}:\n{errors}");
        }

        var path = output.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).LastOrDefault();
        if (path is null || !File.Exists(path))
        {
            throw new InvalidOperationException($"{script} printed no existing image path (stdout: '{output.Trim()}'):\n{errors}");
        }

        return path;
    }

    /// <summary>Reads a growing file line by line; a truncated or replaced file is read again from its start.</summary>
    private sealed class SerialLogReader(string path)
    {
        private readonly List<string> _lines = [];
        private readonly List<byte> _partial = [];
        private long _position;

        public IEnumerable<string> ReadNewLines()
        {
            var first = _lines.Count;
            byte[] fresh;
            try
            {
                using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
                if (stream.Length < _position)
                {
                    _position = 0;
                    _partial.Clear();
                }

                stream.Position = _position;
                using var buffer = new MemoryStream();
                stream.CopyTo(buffer);
                fresh = buffer.ToArray();
                _position += fresh.Length;
            }
            catch (FileNotFoundException)
            {
                return [];
            }
            catch (DirectoryNotFoundException)
            {
                return [];
            }

            foreach (var b in fresh)
            {
                if (b == (byte)'\n')
                {
                    _lines.Add(Decode(_partial));
                    _partial.Clear();
                }
                else
                {
                    _partial.Add(b);
                }
            }

            return _lines.GetRange(first, _lines.Count - first);
        }

        public string Tail(int count)
        {
            var tail = _lines.Skip(Math.Max(0, _lines.Count - count)).ToList();
            if (_partial.Count > 0)
            {
                tail.Add(Decode(_partial));
            }

            return tail.Count == 0 ? "(the log is empty or does not exist)" : string.Join('\n', tail);
        }

        // The serial console ends lines with "\r\n".
        private static string Decode(List<byte> bytes) => Encoding.UTF8.GetString([.. bytes]).TrimEnd('\r');
    }
}
