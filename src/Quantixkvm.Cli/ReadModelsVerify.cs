using System.Globalization;
using Npgsql;
using Quantixkvm.ControlPlane.Configuration;
using Quantixkvm.ControlPlane.EventStore;

namespace Quantixkvm.Cli;

/// <summary>
/// <c>qkvm read-models verify</c>: rebuilds every read model from the event log into a scratch schema and compares it
/// with the live one (<see cref="ReadModelReplay"/>), printing each read model's counts and every difference.
/// </summary>
public static class ReadModelsVerify
{
    public const string ConnectionVariable = "ConnectionStrings__Postgres";
    public const string SchemaVariable = "ControlPlane__DatabaseSchema";

    public static CliCommand Command { get; } = new(
        ["read-models", "verify"],
        "Rebuilds every read model from the event log into a scratch schema and compares it with the live one.",
        [
            new CliOption("--schema", "S", $"the control plane's schema (default: ${SchemaVariable}, else '{new ControlPlaneOptions().DatabaseSchema}')"),
            new CliOption("--connection", "CS", $"PostgreSQL connection string (default: ${ConnectionVariable})"),
            new CliOption("--keep-scratch", null, "keep the rebuilt schema for inspection instead of dropping it"),
        ],
        RunAsync);

    private static async Task<int> RunAsync(CommandInvocation invocation, CancellationToken cancellationToken)
    {
        var connection = invocation.Value("--connection") ?? invocation.Environment(ConnectionVariable)
            ?? throw new UsageException($"no database: pass --connection or set {ConnectionVariable}");
        var schema = invocation.Value("--schema") ?? invocation.Environment(SchemaVariable) ?? new ControlPlaneOptions().DatabaseSchema;
        var output = invocation.Output;

        ReplayReport report;
        try
        {
            await output.WriteLineAsync($"Rebuilding the read models of schema '{schema}' ({Describe(connection)}) from its event log ...");
            report = await ReadModelReplay.VerifyAsync(connection, schema, cancellationToken, invocation.Flag("--keep-scratch"));
        }
        catch (ReplayException e)
        {
            await invocation.Error.WriteLineAsync($"qkvm read-models verify: {e.Message}");
            return Qkvm.CannotRun;
        }
        catch (Exception e) when (e is NpgsqlException or ArgumentException)
        {
            await invocation.Error.WriteLineAsync($"qkvm read-models verify: cannot use PostgreSQL at {Describe(connection)}: {e.Message}");
            return Qkvm.CannotRun;
        }

        await WriteAsync(output, report);
        return report.Matches ? Qkvm.Success : Qkvm.Findings;
    }

    private static async Task WriteAsync(TextWriter output, ReplayReport report)
    {
        await output.WriteLineAsync();
        await output.WriteLineAsync($"{"read model",-22}{"live",10}{"rebuilt",10}{"differences",13}");
        foreach (var r in report.ReadModels)
        {
            await output.WriteLineAsync($"{r.ReadModel,-22}{r.Live,10}{r.Rebuilt,10}{r.Differences.Count,13}");
        }

        var differences = report.ReadModels.SelectMany(r => r.Differences.Select(d => (r.ReadModel, Difference: d))).ToList();
        if (differences.Count > 0)
        {
            await output.WriteLineAsync();
            foreach (var (readModel, d) in differences)
            {
                await output.WriteLineAsync($"{readModel} {d.Id}: {d.Kind}{(d.Detail is null ? "" : ": " + d.Detail)}");
            }
        }

        await output.WriteLineAsync();
        if (report.ScratchSchema is not null)
        {
            await output.WriteLineAsync($"The rebuilt read models are kept in schema '{report.ScratchSchema}' (drop it when done).");
        }

        if (report.LogMovedDuringVerification)
        {
            await output.WriteLineAsync(
                "The live log changed during verification: events projected live after the copy can show as differences. Run it again when the log is quiet.");
        }

        var seconds = report.Elapsed.TotalSeconds.ToString("0.0", CultureInfo.InvariantCulture);
        await output.WriteLineAsync(report.Matches
            ? $"Replayed {report.Events} events in {seconds} s: every read model matches the log."
            : $"Replayed {report.Events} events in {seconds} s: {differences.Count} document(s) differ from the log.");
    }

    /// <summary>Where the connection string points, without its password.</summary>
    private static string Describe(string connection)
    {
        try
        {
            var builder = new NpgsqlConnectionStringBuilder(connection);
            return $"{builder.Host}:{builder.Port}/{builder.Database} as {builder.Username}";
        }
        catch (ArgumentException)
        {
            return "an unreadable connection string";
        }
    }
}
