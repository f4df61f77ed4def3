using System.Text.RegularExpressions;
using Npgsql;
using Quantixkvm.Cli;
using Quantixkvm.ControlPlane.Tests.Support;
using Quantixkvm.Testing;

namespace Quantixkvm.ControlPlane.Tests.Replay;

/// <summary><c>qkvm read-models verify</c> run through its entry point against a control plane's real schema: its output and exit codes.</summary>
public sealed class QkvmReadModelsVerifyTests(QkvmReadModelsVerifyTests.Fixture fixture) : IClassFixture<QkvmReadModelsVerifyTests.Fixture>
{
    /// <summary>A control plane whose host answers everything, with two VMs made through it (one started).</summary>
    public sealed class Fixture : ControlPlaneFixture
    {
        public string VmId { get; private set; } = "";

        public override async Task InitializeAsync()
        {
            await base.InitializeAsync();
            Agent.AutoAnswer = DomainAnswer.AsAsked;
            var api = App.Api();
            var created = await api.CreateVmAsync("cli-vm", start: true);
            await api.OperationEndsAsync(created.Str("operation.id"), "SUCCEEDED");
            VmId = created.Str("vm.id");
            var stopped = await api.CreateVmAsync("cli-vm-stopped");
            await api.OperationEndsAsync(stopped.Str("operation.id"), "SUCCEEDED");
        }
    }

    [Fact]
    public async Task verify_prints_each_read_model_with_its_counts_and_exits_0_when_the_read_models_match_the_log()
    {
        var (code, output, error) = await QkvmAsync(["read-models", "verify", "--schema", fixture.Schema, "--connection", TestServices.Postgres]);

        code.ShouldBe(0, output + error);
        output.ShouldContain($"schema '{fixture.Schema}'");
        Row(output, "VmView").ShouldBe(["VmView", "2", "2", "0"]);
        Row(output, "OperationView").ShouldBe(["OperationView", "2", "2", "0"], "a create that starts the VM is one operation");
        Row(output, "HostView").ShouldBe(["HostView", "1", "1", "0"]);
        output.ShouldContain("every read model matches the log");
        error.ShouldBeEmpty();
    }

    [Fact]
    public async Task verify_takes_the_database_and_schema_from_the_control_planes_environment_variables()
    {
        var environment = new Dictionary<string, string?>
        {
            ["ConnectionStrings__Postgres"] = TestServices.Postgres,
            ["ControlPlane__DatabaseSchema"] = fixture.Schema,
        };

        var (code, output, _) = await QkvmAsync(["read-models", "verify"], environment);

        code.ShouldBe(0, output);
        output.ShouldContain($"schema '{fixture.Schema}'");
    }

    [Fact]
    public async Task verify_prints_every_difference_with_its_id_and_what_differs_and_exits_1()
    {
        await SqlAsync($"update \"{fixture.Schema}\".mt_doc_vmview set data = data || '{{\"name\": \"tampered\", \"vcpus\": 64}}' where id = '{fixture.VmId}'");
        try
        {
            var (code, output, _) = await QkvmAsync(["read-models", "verify", "--schema", fixture.Schema, "--connection", TestServices.Postgres]);

            code.ShouldBe(1, output);
            Row(output, "VmView").ShouldBe(["VmView", "2", "2", "1"]);
            output.ShouldContain($"VmView {fixture.VmId}: different: ");
            output.ShouldContain("name: live \"tampered\", rebuilt \"cli-vm\"");
            output.ShouldContain("vcpus: live 64, rebuilt 1");
            output.ShouldContain("1 document(s) differ from the log");
        }
        finally
        {
            await SqlAsync($"update \"{fixture.Schema}\".mt_doc_vmview set data = data || '{{\"name\": \"cli-vm\", \"vcpus\": 1}}' where id = '{fixture.VmId}'");
        }
    }

    [Fact]
    public async Task a_schema_without_an_event_store_exits_2_saying_so()
    {
        var (code, _, error) = await QkvmAsync(["read-models", "verify", "--schema", "nothing_here", "--connection", TestServices.Postgres]);

        code.ShouldBe(2);
        error.ShouldContain("schema 'nothing_here' holds no event store");
    }

    [Fact]
    public async Task an_unreachable_database_exits_2_naming_where_it_looked_without_the_password()
    {
        var (code, _, error) = await QkvmAsync(
            ["read-models", "verify", "--connection", "Host=127.0.0.1;Port=1;Database=qkvm;Username=operator;Password=secret;Timeout=2"]);

        code.ShouldBe(2);
        error.ShouldContain("cannot use PostgreSQL at 127.0.0.1:1/qkvm as operator");
        error.ShouldNotContain("secret");
    }

    [Theory]
    [InlineData("read-models verify --bogus", "unknown option or argument '--bogus'")]
    [InlineData("read-models verify --schema", "--schema needs a value")]
    [InlineData("read-models verify", "no database: pass --connection or set ConnectionStrings__Postgres")]
    [InlineData("read-models check", "unknown command 'read-models check'")]
    public async Task a_wrong_command_line_exits_2_with_a_clear_message(string arguments, string message)
    {
        var (code, output, error) = await QkvmAsync(arguments.Split(' '));

        code.ShouldBe(2);
        error.ShouldContain(message);
        output.ShouldNotContain("Rebuilding");
    }

    [Fact]
    public async Task help_lists_the_commands()
    {
        var (code, output, _) = await QkvmAsync(["--help"]);

        code.ShouldBe(0);
        output.ShouldContain("read-models verify");
    }

    private static async Task<(int Code, string Output, string Error)> QkvmAsync(string[] args, IReadOnlyDictionary<string, string?>? environment = null)
    {
        using var output = new StringWriter();
        using var error = new StringWriter();
        var code = await Qkvm.RunAsync(args, output, error, name => environment?.GetValueOrDefault(name));
        return (code, output.ToString(), error.ToString());
    }

    /// <summary>The words of the read model's row in the table of counts.</summary>
    private static string[] Row(string output, string readModel) =>
        output.Split('\n').Single(line => Regex.IsMatch(line, $@"^{readModel}\s+\d"))
            .Split(' ', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);

    private static async Task SqlAsync(string sql)
    {
        await using var connection = new NpgsqlConnection(TestServices.Postgres);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand(sql, connection);
        await command.ExecuteNonQueryAsync();
    }
}
