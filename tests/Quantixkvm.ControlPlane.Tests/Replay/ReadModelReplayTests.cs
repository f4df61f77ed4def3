using Quantixkvm.ControlPlane.EventStore;
using Quantixkvm.Testing;

namespace Quantixkvm.ControlPlane.Tests.Replay;

/// <summary>
/// Replay verification against a control plane's real log: the read models rebuilt from it match the live ones, the live
/// schema is left as it was, and a live read model that disagrees with the log is caught, naming the document.
/// </summary>
public sealed class ReadModelReplayTests(ReplayWorkloadFixture fixture) : IClassFixture<ReplayWorkloadFixture>
{
    private static readonly string[] ProjectedReadModels =
    [
        "VmView", "OperationView", "HostView", "StoragePoolView", "VolumeView", "StorageOperationView", "TemplateView", "ClusterView", "MigrationView",
        "NetworkView", "SecurityGroupView",
    ];

    [Fact]
    public async Task read_models_rebuilt_from_the_log_of_a_real_workload_match_the_live_ones_and_the_live_schema_is_left_as_it_was()
    {
        var before = await LiveSchemaStateAsync();

        var report = await ReadModelReplay.VerifyAsync(TestServices.Postgres, fixture.Schema);

        report.ReadModels.Where(r => r.Differences.Count > 0).ShouldBeEmpty(Describe(report));
        report.LogMovedDuringVerification.ShouldBeFalse();
        report.Matches.ShouldBeTrue();
        report.Events.ShouldBe(await fixture.App.Events.ScalarAsync("select count(*) from {schema}.mt_events"));
        report.ReadModels.Select(r => r.ReadModel).ShouldBe(ProjectedReadModels, ignoreOrder: true);
        report.ReadModels.ShouldAllBe(r => r.Live > 0 && r.Live == r.Rebuilt, Describe(report));
        report.ReadModels.Select(r => r.ReadModel).ShouldNotContain("HostLiveness", "telemetry is not projected, so not compared");
        (await LiveSchemaStateAsync()).ShouldBe(before, "replay writes nothing into the live schema");
        (await SchemasLikeAsync(fixture.Schema + "_replay_%")).ShouldBe(0, "the scratch schema is dropped");
    }

    [Fact]
    public async Task a_tampered_live_document_is_reported_different_with_its_id_and_the_properties_that_differ()
    {
        await fixture.ExecuteAsync(
            $"update {{schema}}.mt_doc_vmview set data = jsonb_set(jsonb_set(data, '{{name}}', '\"renamed\"'), '{{disks,0,disk,bus}}', '\"Scsi\"') where id = '{fixture.VmId}'");
        try
        {
            var report = await ReadModelReplay.VerifyAsync(TestServices.Postgres, fixture.Schema);

            report.Matches.ShouldBeFalse();
            var difference = report.ReadModels.Single(r => r.ReadModel == "VmView").Differences.ShouldHaveSingleItem();
            difference.Id.ShouldBe(fixture.VmId);
            difference.Kind.ShouldBe("different");
            difference.Detail.ShouldNotBeNull();
            difference.Detail.ShouldContain("name: live \"renamed\", rebuilt \"with-disk\"");
            difference.Detail.ShouldContain("disks[0].disk.bus: live \"Scsi\"");
            report.ReadModels.Where(r => r.ReadModel != "VmView").ShouldAllBe(r => r.Differences.Count == 0);
        }
        finally
        {
            await RestoreAsync("vmview", fixture.VmId);
        }
    }

    [Fact]
    public async Task a_deleted_live_document_is_reported_missing_in_live()
    {
        var operationId = await fixture.WithCommandAsync(
            "select id::text from {schema}.mt_doc_operationview order by id limit 1", async c => (string)(await c.ExecuteScalarAsync())!);
        await fixture.ExecuteAsync(
            $"create table {{schema}}.kept as select * from {{schema}}.mt_doc_operationview where id = '{operationId}'; "
            + $"delete from {{schema}}.mt_doc_operationview where id = '{operationId}'");
        try
        {
            var report = await ReadModelReplay.VerifyAsync(TestServices.Postgres, fixture.Schema);

            report.Matches.ShouldBeFalse();
            var operations = report.ReadModels.Single(r => r.ReadModel == "OperationView");
            operations.Rebuilt.ShouldBe(operations.Live + 1);
            operations.Differences.ShouldBe([new ReadModelDifference(operationId, "missing-in-live", null)]);
        }
        finally
        {
            await fixture.ExecuteAsync("insert into {schema}.mt_doc_operationview select * from {schema}.kept; drop table {schema}.kept");
        }
    }

    [Fact]
    public async Task a_live_document_no_event_made_is_reported_missing_in_rebuild()
    {
        var stray = Guid.NewGuid().ToString();
        await fixture.ExecuteAsync(
            $"insert into {{schema}}.mt_doc_hostview (id, data, mt_dotnet_type) "
            + $"select '{stray}', jsonb_set(data, '{{id}}', '\"{stray}\"'), mt_dotnet_type from {{schema}}.mt_doc_hostview limit 1");
        try
        {
            var report = await ReadModelReplay.VerifyAsync(TestServices.Postgres, fixture.Schema);

            report.Matches.ShouldBeFalse();
            report.ReadModels.Single(r => r.ReadModel == "HostView").Differences
                .ShouldBe([new ReadModelDifference(stray, "missing-in-rebuild", null)]);
        }
        finally
        {
            await fixture.ExecuteAsync($"delete from {{schema}}.mt_doc_hostview where id = '{stray}'");
        }
    }

    [Fact]
    public async Task a_schema_without_an_event_store_is_refused_with_a_clear_message()
    {
        var error = await Should.ThrowAsync<ReplayException>(() => ReadModelReplay.VerifyAsync(TestServices.Postgres, "no_such_schema"));

        error.Message.ShouldContain("no_such_schema");
        error.Message.ShouldContain("no event store");
    }

    [Fact]
    public async Task an_event_whose_data_cannot_be_read_stops_the_rebuild_naming_the_event()
    {
        var sequence = await TamperFirstEventAsync("vm.created.v1", "data = jsonb_set(data, '{vcpus}', '\"many\"')");
        try
        {
            var error = await Should.ThrowAsync<ReplayException>(() => ReadModelReplay.VerifyAsync(TestServices.Postgres, fixture.Schema));

            error.Message.ShouldStartWith($"event {sequence} (vm.created.v1) cannot be deserialized into VmCreated: ");
            (await SchemasLikeAsync(fixture.Schema + "_replay_%")).ShouldBe(0, "the scratch schema is dropped");
        }
        finally
        {
            await RestoreEventAsync();
        }
    }

    [Fact]
    public async Task an_event_of_a_type_the_catalog_lacks_stops_the_rebuild_naming_the_event()
    {
        var sequence = await TamperFirstEventAsync("vm.operation-started.v1", "type = 'vm.operation-begun.v0'");
        try
        {
            var error = await Should.ThrowAsync<ReplayException>(() => ReadModelReplay.VerifyAsync(TestServices.Postgres, fixture.Schema));

            error.Message.ShouldBe($"event {sequence} has the type 'vm.operation-begun.v0', which no event in the catalog has");
        }
        finally
        {
            await RestoreEventAsync();
        }
    }

    [Fact]
    public async Task keep_scratch_leaves_the_rebuilt_schema_for_inspection()
    {
        var report = await ReadModelReplay.VerifyAsync(TestServices.Postgres, fixture.Schema, keepScratch: true);
        try
        {
            report.ScratchSchema.ShouldNotBeNull();
            report.ScratchSchema.ShouldStartWith(fixture.Schema + "_replay_");
            (await SchemasLikeAsync(report.ScratchSchema)).ShouldBe(1);
        }
        finally
        {
            if (report.ScratchSchema is not null)
            {
                await TestServices.DropSchemaAsync(report.ScratchSchema);
            }
        }
    }

    /// <summary>Puts back the document the log says (it is in the kept scratch schema of a fresh replay).</summary>
    private async Task RestoreAsync(string table, string id)
    {
        var report = await ReadModelReplay.VerifyAsync(TestServices.Postgres, fixture.Schema, keepScratch: true);
        try
        {
            await fixture.ExecuteAsync(
                $"update {{schema}}.mt_doc_{table} l set data = r.data from \"{report.ScratchSchema}\".mt_doc_{table} r where l.id = r.id and l.id = '{id}'");
        }
        finally
        {
            await TestServices.DropSchemaAsync(report.ScratchSchema!);
        }
    }

    /// <summary>Changes the first event of a type in the live log, keeping the original row to restore; returns its sequence.</summary>
    private async Task<long> TamperFirstEventAsync(string type, string change)
    {
        var sequence = await fixture.WithCommandAsync(
            $"select min(seq_id) from {{schema}}.mt_events where type = '{type}'", async c => (long)(await c.ExecuteScalarAsync())!);
        await fixture.ExecuteAsync(
            $"create table {{schema}}.kept_event as select * from {{schema}}.mt_events where seq_id = {sequence}; "
            + $"update {{schema}}.mt_events set {change} where seq_id = {sequence}");
        return sequence;
    }

    private Task RestoreEventAsync() => fixture.ExecuteAsync(
        "update {schema}.mt_events e set type = k.type, data = k.data from {schema}.kept_event k where e.seq_id = k.seq_id; drop table {schema}.kept_event");

    /// <summary>The live schema's tables with their row counts, and the daemon's progression rows.</summary>
    private async Task<string> LiveSchemaStateAsync()
    {
        var tables = await fixture.WithCommandAsync(
            $"select table_name from information_schema.tables where table_schema = '{fixture.Schema}' order by table_name",
            async c =>
            {
                var names = new List<string>();
                await using var reader = await c.ExecuteReaderAsync();
                while (await reader.ReadAsync())
                {
                    names.Add(reader.GetString(0));
                }

                return names;
            });
        var state = new List<string>();
        foreach (var table in tables)
        {
            state.Add($"{table}: {await fixture.App.Events.ScalarAsync($"select count(*) from {{schema}}.{table}")} rows");
        }

        state.Add(await fixture.WithCommandAsync(
            "select string_agg(name || '@' || last_seq_id, ', ' order by name) from {schema}.mt_event_progression",
            async c => (string)(await c.ExecuteScalarAsync())!));
        return string.Join(Environment.NewLine, state);
    }

    private async Task<long> SchemasLikeAsync(string pattern) =>
        await fixture.WithCommandAsync($"select count(*) from pg_namespace where nspname like '{pattern}'", async c => (long)(await c.ExecuteScalarAsync())!);

    private static string Describe(ReplayReport report) => string.Join(Environment.NewLine, report.ReadModels.Select(r =>
        $"{r.ReadModel}: live {r.Live}, rebuilt {r.Rebuilt}" + string.Concat(r.Differences.Select(d => $"{Environment.NewLine}  {d.Kind} {d.Id}: {d.Detail}"))));
}
