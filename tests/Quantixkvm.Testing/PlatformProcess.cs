using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Reflection;

namespace Quantixkvm.Testing;

/// <summary>
/// One of the platform's own programs (control plane or agent) run as a separate process from its
/// build output, the way an operator runs it. Output is kept for the failure message.
/// </summary>
public sealed class PlatformProcess : IAsyncDisposable
{
    private readonly Process _process;
    private readonly ConcurrentQueue<string> _output = new();
    private readonly Lock _teeGate = new();
    private StreamWriter? _tee;

    private PlatformProcess(string name, Process process)
    {
        Name = name;
        _process = process;
        process.OutputDataReceived += (_, e) => Keep(e.Data);
        process.ErrorDataReceived += (_, e) => Keep(e.Data);
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
    }

    public string Name { get; }

    public bool HasExited => _process.HasExited;

    /// <summary>The operating system's process id (benchmarks read its CPU time; the fault harness pauses it with SIGSTOP).</summary>
    public int Id => _process.Id;

    public string Output => string.Join('\n', _output);

    /// <summary>The repository root, found from the test's output folder.</summary>
    public static string RepositoryRoot { get; } = FindRoot();

    /// <summary>The build configuration the tests were built in; the platform's programs were built the same way.</summary>
    public static string Configuration { get; } =
        typeof(PlatformProcess).Assembly.GetCustomAttribute<AssemblyConfigurationAttribute>()?.Configuration ?? "Debug";

    public static PlatformProcess Start(string project, IReadOnlyDictionary<string, string> environment, params string[] args)
    {
        var dll = Path.Combine(RepositoryRoot, "src", project, "bin", Configuration, "net10.0", $"{project}.dll");
        if (!File.Exists(dll))
        {
            throw new FileNotFoundException($"{dll} is not built; build the solution first", dll);
        }

        var start = new ProcessStartInfo("dotnet", [dll, .. args])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            WorkingDirectory = Path.GetDirectoryName(dll)!,
        };
        start.Environment["Logging__Format"] = "text";
        start.Environment["DOTNET_ENVIRONMENT"] = "Production";
        foreach (var (key, value) in environment)
        {
            start.Environment[key] = value;
        }

        return new PlatformProcess(project, Process.Start(start) ?? throw new InvalidOperationException($"{project} did not start"));
    }

    /// <summary>Also appends every further line of output to a file: a whole run's log, beyond the recent lines kept in memory.</summary>
    public PlatformProcess TeeTo(string path)
    {
        lock (_teeGate)
        {
            _tee = new StreamWriter(path, append: true) { AutoFlush = true };
        }

        return this;
    }

    /// <summary>Like a power cut: no shutdown hooks, no flushing.</summary>
    public async Task KillAsync()
    {
        if (!_process.HasExited)
        {
            _process.Kill(entireProcessTree: true);
            await _process.WaitForExitAsync();
        }
    }

    public async ValueTask DisposeAsync()
    {
        await KillAsync();
        _process.Dispose();
        lock (_teeGate)
        {
            _tee?.Dispose();
            _tee = null;
        }
    }

    /// <summary>
    /// Polls until <paramref name="condition"/> holds, while <paramref name="process"/> (if given) lives. Errors that mean
    /// "not yet" (<paramref name="notYet"/>; by default a part still starting: connection refused, not ready, timed out)
    /// are kept for the message; on timeout the failure includes the process's recent output.
    /// </summary>
    public static async Task WaitUntilAsync(
        Func<Task<bool>> condition, TimeSpan timeout, string what, PlatformProcess? process = null, Func<Exception, bool>? notYet = null,
        CancellationToken cancellationToken = default)
    {
        notYet ??= ex => ex is HttpRequestException or InvalidOperationException or TaskCanceledException;
        var deadline = DateTime.UtcNow + timeout;
        Exception? last = null;
        while (DateTime.UtcNow < deadline)
        {
            cancellationToken.ThrowIfCancellationRequested();
            try
            {
                if (await condition())
                {
                    return;
                }
            }
            catch (Exception ex) when (notYet(ex))
            {
                last = ex;
            }

            if (process?.HasExited == true)
            {
                break;
            }

            await Task.Delay(200, cancellationToken);
        }

        throw new TimeoutException($"waited {timeout} for {what}; last error: {last?.Message}\n--- {process?.Name} output ---\n{process?.Output}");
    }

    public static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    private void Keep(string? line)
    {
        if (line is null)
        {
            return;
        }

        _output.Enqueue(line);
        lock (_teeGate)
        {
            _tee?.WriteLine(line);
        }

        while (_output.Count > 400)
        {
            _output.TryDequeue(out _);
        }
    }

    private static string FindRoot()
    {
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "Quantixkvm.sln")))
        {
            dir = dir.Parent;
        }

        return dir?.FullName ?? throw new InvalidOperationException("Quantixkvm.sln not found above " + AppContext.BaseDirectory);
    }
}
