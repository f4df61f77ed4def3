using Npgsql;
using Quantixkvm.FaultHarness;
using Quantixkvm.Libvirt;
using Xunit.Abstractions;

namespace Quantixkvm.EndToEnd.Tests;

/// <summary>
/// The fault harness, short version: a small workload with one fault of each kind, on a PostgreSQL and RabbitMQ of its
/// own. The run happens once, in the fixture; afterwards (agent stopped, so nothing repairs the plants) the same platform
/// takes planted violations, to show that each invariant can fail.
/// </summary>
public sealed class FaultHarnessFixture : IAsyncLifetime
{
    /// <summary>No recovery time bound: tests assert no timings (the bench's run does bound it).</summary>
    public static readonly FaultOptions Options = new() { Operations = 40, Faults = 6, Vms = 6, Clients = 3, Seed = 5, RecoveryBoundSeconds = null };

    public FaultPlatform Platform { get; private set; } = null!;
    public FaultRunResult Result { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        Platform = await FaultPlatform.StartAsync(Options);
        Result = await FaultRun.RunAsync(Platform, Options);
        await Platform.KillAgentAsync();
    }

    public async Task DisposeAsync()
    {
        if (Platform is not null)
        {
            await Platform.DisposeAsync();
        }
    }
}

public sealed class FaultHarnessTests(FaultHarnessFixture fixture, ITestOutputHelper output) : IClassFixture<FaultHarnessFixture>
{
    private FaultPlatform Platform => fixture.Platform;
    private Invariants Invariants => new(fixture.Platform);

    [Fact]
    public void a_short_run_with_one_fault_of_each_kind_keeps_every_invariant()
    {
        var result = fixture.Result;
        output.WriteLine(result.ToMarkdown());
        result.Faults.Select(f => f.Kind).Order().ShouldBe(Enum.GetValues<FaultKind>());
        result.Acknowledged.ShouldBeGreaterThanOrEqualTo(FaultHarnessFixture.Options.Operations);
        foreach (var invariant in result.Invariants)
        {
            invariant.NotChecked.ShouldBeNull(invariant.Name);
            invariant.Holds.ShouldBeTrue($"{invariant.Name}: {string.Join("; ", invariant.Violations)}");
        }

        var ended = result.Invariants.Single(i => i.Name == Invariants.OperationsEnded).Figures;
        ended["stuck"].ShouldBe(0);
        ended["operations"].ShouldBeGreaterThanOrEqualTo(result.Acknowledged);
    }

    [Fact]
    public async Task a_second_domain_for_a_vm_is_reported_as_a_duplicate()
    {
        using var original = Platform.Libvirt.ListAllDomains().First(d => d.Name.StartsWith("qkvm-", StringComparison.Ordinal));
        var copyUuid = Guid.NewGuid();
        // The same definition (vm-id metadata included) under another name and UUID: what an agent creating twice would leave.
        var xml = original.GetXml()
            .Replace($"<name>{original.Name}</name>", $"<name>copy-{original.Name}</name>", StringComparison.Ordinal)
            .Replace($"<uuid>{original.Uuid}</uuid>", $"<uuid>{copyUuid}</uuid>", StringComparison.OrdinalIgnoreCase);
        using var copy = Platform.Libvirt.DefineDomain(xml);
        try
        {
            var store = await Invariants.LogAsync(CancellationToken.None);
            var result = Invariants.CheckEffectAtMostOnce(store, Invariants.Domains(), Invariants.ApiCalls(Platform.Daemon.ApiLog));
            result.Holds.ShouldBeFalse();
            result.Figures["VMs with more than one domain"].ShouldBe(1);
            result.Violations.ShouldContain(v => v.Contains($"copy-{original.Name}"));
            // The hand-made define is also a libvirt call no operation asked for.
            result.Violations.ShouldContain(v => v.Contains($"define domain {copyUuid}"));
        }
        finally
        {
            copy.Undefine();
        }
    }

    [Fact]
    public async Task an_acknowledged_operation_missing_from_the_log_is_reported_lost()
    {
        var store = await Invariants.LogAsync(CancellationToken.None);
        var acknowledged = new AcknowledgedOperation
        {
            OperationId = Guid.NewGuid(), VmId = Guid.NewGuid(), Mutation = "startVm", CommandId = "planted", AcknowledgedAt = DateTimeOffset.UtcNow, Attempts = 1,
        };
        var result = Invariants.CheckNothingLost(store, [acknowledged]);
        result.Holds.ShouldBeFalse();
        result.Figures["missing"].ShouldBe(1);
        result.Violations.ShouldContain(v => v.Contains(acknowledged.OperationId.ToString()) && v.Contains("not in the log"));
    }

    [Fact]
    public async Task an_operation_left_running_is_reported_stuck()
    {
        await using var data = NpgsqlDataSource.Create(Platform.Services.Postgres);
        var id = (Guid)(await Scalar(data, $"select id from {FaultPlatform.Schema}.mt_doc_operationview limit 1"))!;
        var before = (string)(await Scalar(data, $"select data->>'status' from {FaultPlatform.Schema}.mt_doc_operationview where id = '{id}'"))!;
        await Scalar(data, $"update {FaultPlatform.Schema}.mt_doc_operationview set data = jsonb_set(data, '{{status}}', '\"Running\"') where id = '{id}'");
        try
        {
            var result = Invariants.CheckOperationsEnded(await Invariants.LogAsync(CancellationToken.None));
            result.Holds.ShouldBeFalse();
            result.Figures["stuck"].ShouldBe(1);
            result.Violations.ShouldContain(v => v.Contains(id.ToString()));
        }
        finally
        {
            await Scalar(data, $"update {FaultPlatform.Schema}.mt_doc_operationview set data = jsonb_set(data, '{{status}}', to_jsonb('{before}'::text)) where id = '{id}'");
        }
    }

    [Fact]
    public async Task a_tampered_read_model_document_differs_from_the_rebuild()
    {
        await using var data = NpgsqlDataSource.Create(Platform.Services.Postgres);
        var id = (Guid)(await Scalar(data, $"select id from {FaultPlatform.Schema}.mt_doc_vmview limit 1"))!;
        var name = (string)(await Scalar(data, $"select data->>'name' from {FaultPlatform.Schema}.mt_doc_vmview where id = '{id}'"))!;
        await Scalar(data, $"update {FaultPlatform.Schema}.mt_doc_vmview set data = jsonb_set(data, '{{name}}', '\"tampered\"') where id = '{id}'");
        try
        {
            var result = await Invariants.CheckReplayAsync(CancellationToken.None);
            result.NotChecked.ShouldBeNull();
            result.Holds.ShouldBeFalse();
            result.Violations.ShouldContain(v => v.Contains(id.ToString()));
        }
        finally
        {
            await Scalar(data, $"update {FaultPlatform.Schema}.mt_doc_vmview set data = jsonb_set(data, '{{name}}', to_jsonb('{name}'::text)) where id = '{id}'");
        }
    }

    [Fact]
    public async Task a_domain_whose_state_differs_from_the_read_model_is_reported()
    {
        var domains = Invariants.Domains();
        var target = domains.First(d => d.VmId is not null && d.PowerState is "RUNNING" or "STOPPED");
        using var domain = Platform.Libvirt.FindDomain(target.Uuid)!;
        // Behind the platform's back, and with the agent stopped nothing reports it as drift.
        if (target.PowerState == "RUNNING")
        {
            domain.Suspend();
        }
        else
        {
            domain.Start();
        }

        try
        {
            var result = Invariants.CheckLibvirtMatchesReadModels(await Invariants.LogAsync(CancellationToken.None), Invariants.Domains());
            result.Holds.ShouldBeFalse();
            result.Figures["differing"].ShouldBe(1);
            result.Violations.ShouldContain(v => v.Contains(target.VmId!.Value.ToString()));
        }
        finally
        {
            if (target.PowerState == "RUNNING")
            {
                domain.Resume();
            }
            else
            {
                domain.Destroy();
            }
        }
    }

    [Fact]
    public void a_fault_after_which_nothing_succeeds_again_is_reported()
    {
        var now = DateTimeOffset.UtcNow;
        FaultRecord[] faults =
        [
            new(1, FaultKind.AgentKill, 10, now, now, 1, 1, "recovered") { OperationsResumedSeconds = 2 },
            new(2, FaultKind.RabbitMqKill, 20, now, now, 1, 1, "never recovered"),
        ];
        var result = Invariants.CheckRecovered(faults, planned: 2);
        result.Holds.ShouldBeFalse();
        result.Figures["faults after which operations succeeded again"].ShouldBe(1);
        result.Violations.ShouldHaveSingleItem().ShouldContain("fault 2 (RabbitMqKill");

        // With a bound, a recovery that took longer counts as none.
        var bounded = Invariants.CheckRecovered([faults[0] with { OperationsResumedSeconds = 300 }], planned: 1, TimeSpan.FromSeconds(60));
        bounded.Holds.ShouldBeFalse();
        bounded.Violations.ShouldHaveSingleItem().ShouldContain("only after 300.0 s");
    }

    private static async Task<object?> Scalar(NpgsqlDataSource data, string sql)
    {
        await using var command = data.CreateCommand(sql);
        return await command.ExecuteScalarAsync();
    }
}
