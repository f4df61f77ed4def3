using Quantixkvm.ControlPlane.Api.Schemas;
using Quantixkvm.Testing;

namespace Quantixkvm.ControlPlane.Tests;

/// <summary>
/// The files under schemas/ are the public contract; they must be exactly what the code prints, so
/// every API or event change shows up as a diff in review. To accept a change on purpose, run the
/// tests with QKVM_APPROVE=1 and commit the rewritten files.
/// </summary>
public sealed class ApprovedSchemasTests
{
    private static readonly string SchemasRoot = Path.Combine(PlatformProcess.RepositoryRoot, "schemas");

    public static TheoryData<string> Files() => [.. SchemaArtifacts.All().Keys];

    [Theory]
    [MemberData(nameof(Files))]
    public void the_committed_schema_file_matches_what_the_code_prints(string relativePath)
    {
        var printed = SchemaArtifacts.All()[relativePath];
        var path = Path.Combine(SchemasRoot, relativePath);
        if (Environment.GetEnvironmentVariable("QKVM_APPROVE") == "1")
        {
            Directory.CreateDirectory(Path.GetDirectoryName(path)!);
            File.WriteAllText(path, printed);
        }

        File.Exists(path).ShouldBeTrue($"{path} is missing; run the tests with QKVM_APPROVE=1 to write it");
        File.ReadAllText(path).ShouldBe(printed, $"{relativePath} drifted from the code; review and re-approve with QKVM_APPROVE=1");
    }

    [Fact]
    public void no_stale_schema_file_is_left_behind()
    {
        var expected = SchemaArtifacts.All().Keys.ToHashSet();
        var onDisk = Directory.EnumerateFiles(SchemasRoot, "*", SearchOption.AllDirectories)
            .Where(f => f.EndsWith(".schema.json", StringComparison.Ordinal) || f.EndsWith(".graphql", StringComparison.Ordinal))
            .Select(f => Path.GetRelativePath(SchemasRoot, f).Replace('\\', '/'));
        onDisk.Where(f => !expected.Contains(f)).ShouldBeEmpty("schema files for types that no longer exist");
    }

    [Fact]
    public void the_sdl_carries_the_public_api_contract()
    {
        // Compare without descriptions and line breaks: the contract is the names and types.
        var sdl = System.Text.RegularExpressions.Regex.Replace(SchemaArtifacts.PrintGraphQL(), "\"[^\"\n]*\"", "");
        sdl = System.Text.RegularExpressions.Regex.Replace(sdl, @"\(\s+", "(");
        sdl = System.Text.RegularExpressions.Regex.Replace(sdl, @",\s+", ", ");
        foreach (var field in new[]
                 {
                     "vms: [Vm!]!", "vm(id: ID!): Vm", "hosts: [Host!]!", "host(id: ID!): Host", "operation(id: ID!): Operation",
                     "createVm(input: CreateVmInput!): OperationPayload!",
                     "startVm(id: ID!, expectedVersion: Int, commandId: ID): OperationPayload!",
                     "stopVm(id: ID!, force: Boolean, expectedVersion: Int, commandId: ID): OperationPayload!",
                     "vmChanged(id: ID): Vm!", "operationUpdated(id: ID!): Operation!",
                 })
        {
            sdl.ShouldContain(field, Case.Sensitive);
        }

        foreach (var value in new[] { "STOPPED", "RUNNING", "PAUSED", "UNKNOWN", "PENDING", "SUCCEEDED", "FAILED", "TIMED_OUT" })
        {
            sdl.ShouldContain(value, Case.Sensitive);
        }
    }
}
