namespace Quantixkvm.Domain.Tests.Support;

internal static class RepoFiles
{
    /// <summary>The repository root: the first directory above the test binaries that holds Quantixkvm.sln.</summary>
    public static string Root
    {
        get
        {
            for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            {
                if (File.Exists(Path.Combine(dir.FullName, "Quantixkvm.sln")))
                {
                    return dir.FullName;
                }
            }

            throw new InvalidOperationException($"no Quantixkvm.sln above {AppContext.BaseDirectory}");
        }
    }

    public static string Read(string relativePath) => File.ReadAllText(Path.Combine(Root, relativePath));
}
