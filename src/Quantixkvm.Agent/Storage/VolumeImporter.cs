using System.Security.Cryptography;
using System.Text.Json;
using Microsoft.Extensions.Options;
using Quantixkvm.Contracts;

namespace Quantixkvm.Agent.Storage;

/// <summary>
/// Fills a new volume of a dir pool from a URL: streamed into a hidden temporary file in the pool's folder
/// while its SHA-256 is computed, checked, then renamed (moved without overwriting) to the volume's name in one step. Whatever fails,
/// no half-written file is left behind, and nothing ever appears under the volume's name unchecked. For an RBD pool the
/// checked image is downloaded into the agent's work folder instead (<see cref="DownloadAsync"/>) and written into Ceph by the caller.
/// </summary>
public sealed class VolumeImporter(IOptions<AgentOptions> options, HttpClient http)
{
    private const int BufferSize = 1 << 20;

    /// <summary>
    /// The temporary file of one import operation. libvirt lists it like any file if the pool is refreshed
    /// meanwhile: its name says what it is, and the refresh after the import (or its failure) drops it again.
    /// </summary>
    public static string PartFileName(Guid operationId) => $".qkvm-import-{operationId:N}.part";

    /// <summary>Writes the volume file <paramref name="volume"/>.Name into <paramref name="folder"/>.</summary>
    /// <exception cref="OperationFailure">
    /// PATH_NOT_ALLOWED, IMPORT_UNREACHABLE, CHECKSUM_MISMATCH, IMAGE_FORMAT_MISMATCH, IMAGE_UNSAFE,
    /// NOT_SUPPORTED (scheme), INVALID_SPEC, IMPORT_WRITE_FAILED, VOLUME_EXISTS.
    /// </exception>
    public async Task ImportAsync(Guid operationId, VolumeSpecification volume, string folder, CancellationToken cancellationToken)
    {
        var (url, expected) = Validate(volume);
        var target = Path.Combine(folder, volume.Name);
        var part = Path.Combine(folder, PartFileName(operationId));
        if (File.Exists(target))
        {
            throw new OperationFailure("VOLUME_EXISTS", $"{target} exists already but is not a volume libvirt lists; it was left alone");
        }

        try
        {
            await FetchAsync(url, expected, volume, part, null, cancellationToken);
            await GiveToFolderOwnerAsync(part, folder, cancellationToken);
            // Same folder, so the rename is atomic: the volume's name holds the whole checked image or nothing.
            File.Move(part, target, overwrite: false);
        }
        catch
        {
            TryDelete(part);
            throw;
        }
    }

    /// <summary>
    /// Downloads the volume's import into <paramref name="file"/> (made anew, readable and writable by the agent alone),
    /// checked exactly as <see cref="ImportAsync"/> checks it, for an import written elsewhere afterwards (an RBD image).
    /// Returns the image's length. Whatever fails, the file is removed; on success the caller removes it.
    /// </summary>
    /// <exception cref="OperationFailure">As <see cref="ImportAsync"/>, apart from VOLUME_EXISTS.</exception>
    public async Task<long> DownloadAsync(VolumeSpecification volume, string file, CancellationToken cancellationToken)
    {
        var (url, expected) = Validate(volume);
        try
        {
            await FetchAsync(url, expected, volume, file, UnixFileMode.UserRead | UnixFileMode.UserWrite, cancellationToken);
            return new FileInfo(file).Length;
        }
        catch
        {
            TryDelete(file);
            throw;
        }
    }

    private static (Uri Url, string? Sha256) Validate(VolumeSpecification volume)
    {
        if (!Uri.TryCreate(volume.ImportUrl, UriKind.Absolute, out var url))
        {
            throw new OperationFailure("INVALID_SPEC", $"the import URL of volume {volume.Name} is not an absolute URL");
        }

        if (volume.Name is "." or ".." || volume.Name.Length == 0 || volume.Name.Contains('/', StringComparison.Ordinal) || volume.Name.Any(char.IsControl))
        {
            throw new OperationFailure("INVALID_SPEC", $"the volume name '{volume.Name}' is not a plain file name");
        }

        var expected = volume.Sha256?.Trim().ToLowerInvariant();
        if (expected is not null && (expected.Length != 64 || !expected.All(Uri.IsHexDigit)))
        {
            throw new OperationFailure("INVALID_SPEC", $"the SHA-256 '{volume.Sha256}' of volume {volume.Name} is not 64 hex digits");
        }

        return (url, expected);
    }

    /// <summary>Streams the URL into the file while hashing it, then checks the hash and (qcow2) the image.</summary>
    private async Task FetchAsync(Uri url, string? expected, VolumeSpecification volume, string file, UnixFileMode? mode, CancellationToken cancellationToken)
    {
        var (source, response) = await OpenAsync(url, cancellationToken);
        using (response)
        await using (source)
        {
            var actual = await CopyAsync(source, file, mode, ShownUrl(url), cancellationToken);
            if (expected is not null && actual != expected)
            {
                throw new OperationFailure("CHECKSUM_MISMATCH",
                    $"{ShownUrl(url)} has SHA-256 {actual}, not the expected {expected}; nothing was kept");
            }
        }

        await CheckImageAsync(file, volume, cancellationToken);
    }

    /// <summary>
    /// An agent running as root hands the image to the pool folder's owner (the libvirt daemon's user, who
    /// made the folder), readable and writable by it alone, as libvirt's own volumes are.
    /// </summary>
    private static async Task GiveToFolderOwnerAsync(string part, string folder, CancellationToken cancellationToken)
    {
        if (!Environment.IsPrivilegedProcess || OperatingSystem.IsWindows())
        {
            return;
        }

        var chown = await ExternalTool.RunAsync("chown", ["--reference=" + folder, "--", part], cancellationToken);
        if (chown.ExitCode != 0)
        {
            throw new OperationFailure("IMPORT_WRITE_FAILED", $"{part} cannot be given to the owner of {folder}: {chown.Message}");
        }

        File.SetUnixFileMode(part, UnixFileMode.UserRead | UnixFileMode.UserWrite);
    }

    private static void TryDelete(string path)
    {
        try
        {
            File.Delete(path);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            // The folder itself is gone or closed to us: there is no half file to remove either.
        }
    }

    /// <summary>The URL as errors and logs show it: without any user name or password it carries.</summary>
    public static string ShownUrl(Uri url) => url.GetComponents(UriComponents.AbsoluteUri & ~UriComponents.UserInfo, UriFormat.UriEscaped);

    /// <summary>The body to read, and the HTTP response to dispose with it (null for a file).</summary>
    private async Task<(Stream Body, HttpResponseMessage? Response)> OpenAsync(Uri url, CancellationToken cancellationToken)
    {
        switch (url.Scheme)
        {
            case "http" or "https":
                HttpResponseMessage? response = null;
                try
                {
                    response = await http.GetAsync(url, HttpCompletionOption.ResponseHeadersRead, cancellationToken);
                    if (!response.IsSuccessStatusCode)
                    {
                        throw new OperationFailure("IMPORT_UNREACHABLE",
                            $"{ShownUrl(url)} answered {(int)response.StatusCode} {response.ReasonPhrase}");
                    }

                    return (await response.Content.ReadAsStreamAsync(cancellationToken), response);
                }
                catch (HttpRequestException ex)
                {
                    response?.Dispose();
                    throw new OperationFailure("IMPORT_UNREACHABLE", $"{ShownUrl(url)} cannot be read: {ex.Message}", ex);
                }
                catch
                {
                    response?.Dispose();
                    throw;
                }

            case "file":
                return (OpenFile(url), null);

            default:
                throw new OperationFailure("NOT_SUPPORTED", $"only http, https and file URLs can be imported, not {url.Scheme}");
        }
    }

    /// <summary>A local file, only inside the configured import roots: checked on the path asked for and again on the file actually opened.</summary>
    private FileStream OpenFile(Uri url)
    {
        var path = Path.GetFullPath(url.LocalPath);
        var roots = options.Value.ImportRoots.Where(r => !string.IsNullOrWhiteSpace(r)).Select(RealPath).ToList();
        if (!roots.Any(root => IsUnder(path, root)))
        {
            throw new OperationFailure("PATH_NOT_ALLOWED", NotAllowed(path, roots));
        }

        FileStream file;
        try
        {
            file = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, BufferSize, FileOptions.Asynchronous | FileOptions.SequentialScan);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            throw new OperationFailure("IMPORT_UNREACHABLE", $"{path} cannot be read: {ex.Message}", ex);
        }

        // The file behind the open descriptor, symbolic links and all resolved: a link out of the roots is refused.
        var opened = new FileInfo($"/proc/self/fd/{file.SafeFileHandle.DangerousGetHandle()}").LinkTarget ?? path;
        if (!roots.Any(root => IsUnder(opened, root)))
        {
            file.Dispose();
            throw new OperationFailure("PATH_NOT_ALLOWED", NotAllowed(opened, roots));
        }

        return file;
    }

    private static string NotAllowed(string path, List<string> roots) => roots.Count == 0
        ? $"{path} cannot be imported: this host allows no file imports (Agent:ImportRoots is empty)"
        : $"{path} is not under this host's import roots ({string.Join(", ", roots)})";

    private static bool IsUnder(string path, string root) =>
        path.StartsWith(root.EndsWith('/') ? root : root + "/", StringComparison.Ordinal);

    /// <summary>A folder's path with every symbolic link on the way resolved, as the kernel would.</summary>
    private static string RealPath(string path)
    {
        var current = "/";
        foreach (var part in Path.GetFullPath(path).Split('/', StringSplitOptions.RemoveEmptyEntries))
        {
            var next = Path.Combine(current, part);
            var info = new DirectoryInfo(next);
            current = info.LinkTarget is not null && info.ResolveLinkTarget(returnFinalTarget: true) is { } target
                ? RealPath(target.FullName)
                : next;
        }

        return current;
    }

    /// <summary>Copies while hashing; returns the lower-case hex SHA-256 of what was written.</summary>
    private static async Task<string> CopyAsync(Stream source, string part, UnixFileMode? mode, string shownUrl, CancellationToken cancellationToken)
    {
        using var sha = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        var buffer = new byte[BufferSize];
        try
        {
            // A leftover of an earlier attempt is removed, never written through (it could be a link).
            TryDelete(part);
            var create = new FileStreamOptions
            {
                Mode = FileMode.CreateNew,
                Access = FileAccess.Write,
                Share = FileShare.None,
                BufferSize = 0,
                Options = FileOptions.Asynchronous,
            };
            if (mode is { } unixMode && !OperatingSystem.IsWindows())
            {
                create.UnixCreateMode = unixMode;
            }

            await using var output = new FileStream(part, create);
            while (true)
            {
                int read;
                try
                {
                    read = await source.ReadAsync(buffer, cancellationToken);
                }
                catch (Exception ex) when (ex is IOException or HttpRequestException)
                {
                    throw new OperationFailure("IMPORT_UNREACHABLE", $"reading {shownUrl} broke off: {ex.Message}", ex);
                }

                if (read == 0)
                {
                    break;
                }

                sha.AppendData(buffer, 0, read);
                await output.WriteAsync(buffer.AsMemory(0, read), cancellationToken);
            }

            await output.FlushAsync(cancellationToken);
            output.Flush(flushToDisk: true);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            throw new OperationFailure("IMPORT_WRITE_FAILED", $"{part} cannot be written: {ex.Message}", ex);
        }

        return Convert.ToHexStringLower(sha.GetHashAndReset());
    }

    /// <summary>
    /// A qcow2 volume must be qcow2 indeed, and must not name any other host file (a backing or data file):
    /// such an image would give its guest another file of this host. A raw volume is opened as raw whatever it holds.
    /// </summary>
    private static async Task CheckImageAsync(string part, VolumeSpecification volume, CancellationToken cancellationToken)
    {
        if (volume.Format != "qcow2")
        {
            return;
        }

        var info = await ExternalTool.RunAsync("qemu-img", ["info", "--output=json", part], cancellationToken);
        if (info.ExitCode != 0)
        {
            throw new OperationFailure("IMAGE_FORMAT_MISMATCH", $"the image imported for {volume.Name} cannot be read by qemu-img: {info.Message}");
        }

        var root = JsonDocument.Parse(info.StandardOutput).RootElement;
        var format = root.TryGetProperty("format", out var f) ? f.GetString() : null;
        if (format != "qcow2")
        {
            throw new OperationFailure("IMAGE_FORMAT_MISMATCH", $"the image imported for {volume.Name} is {format}, not qcow2");
        }

        var dataFile = root.TryGetProperty("format-specific", out var specific) && specific.TryGetProperty("data", out var data)
            && data.TryGetProperty("data-file", out _);
        if (root.TryGetProperty("backing-filename", out _) || dataFile)
        {
            throw new OperationFailure("IMAGE_UNSAFE", $"the image imported for {volume.Name} refers to another file (backing or data file); refused");
        }
    }
}
