namespace Quantixkvm.ControlPlane.Ha.Fencing;

/// <summary>A named secret's value, or why there is none.</summary>
internal sealed record SecretRead(string? Value, string? Problem);

/// <summary>Reads a password by its name: a file of that name in the secrets folder. The value is never logged.</summary>
internal static class FencingSecrets
{
    public static async Task<SecretRead> ReadAsync(string directory, string name, CancellationToken cancellationToken)
    {
        // The name is checked when fencing is configured; this keeps a bad name from ever leaving the folder.
        if (string.IsNullOrWhiteSpace(name) || name is "." or ".." || name.IndexOfAny(['/', '\\', '\0']) >= 0)
        {
            return new SecretRead(null, $"password secret '{name}' is not a file name");
        }

        var path = Path.Combine(directory, name);
        try
        {
            var value = (await File.ReadAllTextAsync(path, cancellationToken)).Trim();
            return value.Length == 0
                ? new SecretRead(null, $"password secret '{name}' ({path}) is empty")
                : new SecretRead(value, null);
        }
        catch (Exception ex) when (ex is FileNotFoundException or DirectoryNotFoundException)
        {
            return new SecretRead(null, $"password secret '{name}' is missing: no file {path}");
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            return new SecretRead(null, $"password secret '{name}' ({path}) cannot be read: {ex.Message}");
        }
    }
}
