using System.Text.Json.Nodes;
using Quantixkvm.Network.Ovsdb;
using Quantixkvm.Testing;

namespace Quantixkvm.Network.Tests;

/// <summary>The protocol client against a real ovsdb-server serving OVN_Northbound (many root tables, name indexes).</summary>
public sealed class OvsdbClientTests(NorthboundDatabase database) : IClassFixture<NorthboundDatabase>
{
    private const string Nb = "OVN_Northbound";
    private static readonly TimeSpan Guard = TimeSpan.FromSeconds(30);

    private OvsdbServer Server => database.Server;

    private static string UniqueName(string prefix) => $"{prefix}-{Guid.NewGuid():N}"[..(prefix.Length + 13)];

    private static JsonObject SwitchRow(string name) => new() { ["name"] = name };

    [Fact]
    public async Task lists_the_databases_and_reads_a_schema()
    {
        await using var client = await OvsdbClient.ConnectAsync(Server.UnixEndpoint);

        (await client.ListDatabasesAsync()).ShouldContain(Nb);
        var schema = await client.GetSchemaAsync(Nb);
        schema["name"]!.GetValue<string>().ShouldBe(Nb);
        schema["tables"]!.AsObject().ContainsKey("Logical_Switch").ShouldBeTrue();
    }

    [Fact]
    public async Task inserts_selects_updates_and_deletes_rows_as_ovn_nbctl_sees_them()
    {
        await using var client = await OvsdbClient.ConnectAsync(Server.UnixEndpoint);
        var name = UniqueName("rt");

        var inserted = await client.TransactAsync(Nb, OvsdbOperation.Insert("Logical_Switch", new JsonObject
        {
            ["name"] = name,
            ["external_ids"] = OvsdbValue.Map([new("owner", "test"), new("n", "1")]),
        }));
        var uuid = inserted[0].Uuid!.Value;
        (await Server.ToolAsync("ovn-nbctl", "ls-list")).ShouldContain($"{uuid} ({name})");

        var selected = await client.TransactAsync(Nb, OvsdbOperation.Select("Logical_Switch", [OvsdbCondition.Equal("name", name)]));
        var row = selected[0].Rows.ShouldHaveSingleItem();
        row.Uuid.ShouldBe(uuid);
        row.StringMap("external_ids").ShouldBe(new Dictionary<string, string> { ["owner"] = "test", ["n"] = "1" }, ignoreOrder: true);

        var updated = await client.TransactAsync(Nb, OvsdbOperation.Update(
            "Logical_Switch", [OvsdbCondition.IsRow(uuid)], new JsonObject { ["other_config"] = OvsdbValue.Map([new("mtu", "1442")]) }));
        updated[0].Count.ShouldBe(1);
        (await Server.ToolAsync("ovn-nbctl", "get", "Logical_Switch", name, "other_config:mtu")).Trim().ShouldBe("\"1442\"");

        var deleted = await client.TransactAsync(Nb, OvsdbOperation.Delete("Logical_Switch", [OvsdbCondition.IsRow(uuid)]));
        deleted[0].Count.ShouldBe(1);
        (await Server.ToolAsync("ovn-nbctl", "ls-list")).ShouldNotContain(name);
    }

    [Fact]
    public async Task named_uuids_and_mutations_link_rows_inserted_in_one_transaction()
    {
        await using var client = await OvsdbClient.ConnectAsync(Server.UnixEndpoint);
        var name = UniqueName("nu");
        var port = UniqueName("lsp");

        await client.TransactAsync(
            Nb,
            OvsdbOperation.Comment("qkvm test: a switch and its port"),
            OvsdbOperation.Insert("Logical_Switch", SwitchRow(name), "sw"),
            OvsdbOperation.Insert("Logical_Switch_Port", new JsonObject { ["name"] = port, ["addresses"] = OvsdbValue.StringSet(["02:00:00:00:00:01 10.0.0.5"]) }, "p"),
            OvsdbOperation.Mutate("Logical_Switch", [OvsdbCondition.Equal("_uuid", OvsdbValue.NamedUuid("sw"))], [OvsdbMutation.Insert("ports", OvsdbValue.Set([OvsdbValue.NamedUuid("p")]))]));

        (await Server.ToolAsync("ovn-nbctl", "lsp-list", name)).ShouldContain($"({port})");
        (await Server.ToolAsync("ovn-nbctl", "lsp-get-addresses", port)).Trim().ShouldBe("02:00:00:00:00:01 10.0.0.5");
    }

    [Fact]
    public async Task a_failing_operation_is_named_and_nothing_of_the_transaction_is_kept()
    {
        await using var client = await OvsdbClient.ConnectAsync(Server.UnixEndpoint);
        var name = UniqueName("err");

        var error = await Should.ThrowAsync<OvsdbException>(() => client.TransactAsync(
            Nb,
            OvsdbOperation.Insert("Logical_Switch", SwitchRow(name)),
            OvsdbOperation.Update("Logical_Switch", [OvsdbCondition.Equal("name", name)], new JsonObject { ["no_such_column"] = 1 })));

        error.OperationIndex.ShouldBe(1);
        error.Operation.ShouldBe("update Logical_Switch");
        error.Error.ShouldBe("unknown column");
        error.Message.ShouldContain("operation 1 (update Logical_Switch)");
        (await Server.ToolAsync("ovn-nbctl", "ls-list")).ShouldNotContain(name);
    }

    [Fact]
    public async Task a_commit_that_breaks_a_unique_index_fails_as_a_constraint_violation()
    {
        await using var client = await OvsdbClient.ConnectAsync(Server.UnixEndpoint);
        var name = "pg_" + Guid.NewGuid().ToString("N");

        var error = await Should.ThrowAsync<OvsdbException>(() => client.TransactAsync(
            Nb,
            OvsdbOperation.Insert("Port_Group", new JsonObject { ["name"] = name }),
            OvsdbOperation.Insert("Port_Group", new JsonObject { ["name"] = name })));

        error.IsConstraintViolation.ShouldBeTrue();
        error.OperationIndex.ShouldBeNull();
        error.Details.ShouldNotBeNull().ShouldContain(name);
    }

    [Fact]
    public async Task a_wait_for_absent_rows_fails_when_the_row_exists()
    {
        await using var client = await OvsdbClient.ConnectAsync(Server.UnixEndpoint);
        var name = UniqueName("wait");
        await Server.ToolAsync("ovn-nbctl", "ls-add", name);

        var error = await Should.ThrowAsync<OvsdbException>(() => client.TransactAsync(
            Nb,
            OvsdbOperation.WaitAbsent("Logical_Switch", [OvsdbCondition.Equal("name", name)], "name"),
            OvsdbOperation.Insert("Logical_Switch", SwitchRow(name))));

        error.IsWaitFailure.ShouldBeTrue();
        error.OperationIndex.ShouldBe(0);
        error.Operation.ShouldBe("wait on Logical_Switch");
        (await Server.ToolAsync("ovn-nbctl", "--bare", "--columns=name", "find", "Logical_Switch", $"name={name}"))
            .Split('\n', StringSplitOptions.RemoveEmptyEntries).ShouldHaveSingleItem();
    }

    [Fact]
    public async Task a_monitor_reports_the_initial_rows_then_changes_made_by_another_client()
    {
        await using var client = await OvsdbClient.ConnectAsync(Server.UnixEndpoint);
        var before = UniqueName("mon");
        var later = UniqueName("mon");
        await Server.ToolAsync("ovn-nbctl", "ls-add", before);

        await using var monitor = await client.MonitorAsync(Nb, [new OvsdbMonitorRequest("Logical_Switch", ["name", "other_config"])]);
        monitor.Initial.Table("Logical_Switch").Select(u => u.New!.String("name")).ShouldContain(before);

        using var guard = new CancellationTokenSource(Guard);
        await using var updates = monitor.ReadUpdatesAsync(guard.Token).GetAsyncEnumerator(guard.Token);
        await Server.ToolAsync("ovn-nbctl", "ls-add", later);
        var inserted = await NextChangeOfAsync(updates, later);
        inserted.IsInsert.ShouldBeTrue();

        await Server.ToolAsync("ovn-nbctl", "set", "Logical_Switch", later, "other_config:mtu=1400");
        var modified = await NextChangeOfAsync(updates, later);
        modified.Old.ShouldNotBeNull().Has("other_config").ShouldBeTrue();
        modified.New!.StringMap("other_config")["mtu"].ShouldBe("1400");

        await Server.ToolAsync("ovn-nbctl", "ls-del", later);
        (await NextChangeOfAsync(updates, later)).IsDelete.ShouldBeTrue();
    }

    [Fact]
    public async Task a_monitor_callback_receives_updates_and_stops_after_monitor_cancel()
    {
        await using var client = await OvsdbClient.ConnectAsync(Server.UnixEndpoint);
        var name = UniqueName("cb");
        var seen = new TaskCompletionSource<OvsdbRowUpdate>(TaskCreationOptions.RunContinuationsAsynchronously);
        var monitor = await client.MonitorAsync(Nb, [new OvsdbMonitorRequest("Address_Set")], update =>
        {
            foreach (var change in update.Table("Address_Set").Where(c => c.New?.String("name") == name))
            {
                seen.TrySetResult(change);
            }

            return Task.CompletedTask;
        });

        await Server.ToolAsync("ovn-nbctl", "create", "Address_Set", $"name={name}", "addresses=\"10.0.0.1\"");
        var change = await seen.Task.WaitAsync(Guard);
        change.New!.StringSet("addresses").ShouldBe(["10.0.0.1"]);

        await monitor.DisposeAsync();
        // The server forgot it: cancelling it again is refused as an unknown monitor.
        var error = await Should.ThrowAsync<OvsdbException>(() => client.CallAsync("monitor_cancel", [monitor.Id]));
        error.Error.ShouldBe("unknown monitor");
    }

    [Fact]
    public async Task echo_round_trips_and_the_servers_own_echo_probes_are_answered()
    {
        // Over TCP ovsdb-server probes an idle client with "echo" and drops it if no reply comes.
        await using var client = await OvsdbClient.ConnectAsync(Server.TcpEndpoint);
        (await client.EchoAsync(["ping", 7])).ToJsonString().ShouldBe("""["ping",7]""");

        using var guard = new CancellationTokenSource(Guard);
        while (client.EchoRequestsAnswered == 0)
        {
            await Task.Delay(200, guard.Token);
        }

        client.IsConnected.ShouldBeTrue();
        (await client.ListDatabasesAsync()).ShouldContain(Nb);
    }

    [Fact]
    public async Task concurrent_requests_on_one_connection_each_get_their_own_response()
    {
        await using var client = await OvsdbClient.ConnectAsync(Server.UnixEndpoint);
        var prefix = UniqueName("cc");
        var names = Enumerable.Range(0, 40).Select(i => $"{prefix}-{i}").ToList();

        var results = await Task.WhenAll(names.Select(async name =>
        {
            var result = await client.TransactAsync(
                Nb,
                OvsdbOperation.Insert("Logical_Switch", SwitchRow(name)),
                OvsdbOperation.Select("Logical_Switch", [OvsdbCondition.Equal("name", name)], ["name"]));
            return (name, result);
        }));

        foreach (var (name, result) in results)
        {
            result[1].Rows.ShouldHaveSingleItem().String("name").ShouldBe(name);
        }

        results.Select(r => r.result[0].Uuid).Distinct().Count().ShouldBe(names.Count);
        var listed = await Server.ToolAsync("ovn-nbctl", "ls-list");
        names.ShouldAllBe(name => listed.Contains($"({name})"));
    }

    [Fact]
    public async Task a_cancelled_request_is_abandoned_and_the_connection_stays_usable()
    {
        await using var client = await OvsdbClient.ConnectAsync(Server.UnixEndpoint);
        var name = UniqueName("never");

        // The server holds this transaction until a switch with that name appears (up to a minute).
        using var cancel = new CancellationTokenSource();
        var blocked = client.TransactAsync(
            Nb,
            [OvsdbOperation.Wait("Logical_Switch", [OvsdbCondition.Equal("name", name)], ["name"], [], untilEqual: false, timeoutMs: 60_000)],
            cancel.Token);
        await Task.Delay(100);
        blocked.IsCompleted.ShouldBeFalse();
        await cancel.CancelAsync();

        await Should.ThrowAsync<OperationCanceledException>(() => blocked);
        (await client.EchoAsync()).ShouldNotBeEmpty();
    }

    [Fact]
    public async Task a_missing_socket_is_a_connection_error_naming_it()
    {
        var path = Path.Combine(Path.GetTempPath(), $"qkvm-no-such-{Guid.NewGuid():N}.sock");

        var error = await Should.ThrowAsync<OvsdbConnectionException>(() => OvsdbClient.ConnectAsync("unix:" + path));

        error.Endpoint.ShouldBe("unix:" + path);
        error.Message.ShouldContain(path);
    }

    [Fact]
    public async Task an_endpoint_that_is_not_one_is_refused()
    {
        var error = await Should.ThrowAsync<ArgumentException>(() => OvsdbClient.ConnectAsync("tcp:localhost"));
        error.Message.ShouldContain("tcp:localhost");
    }

    [Fact]
    public async Task when_the_server_goes_away_pending_and_later_requests_and_monitors_fail_with_a_connection_error()
    {
        await using var server = await OvsdbServer.StartAsync(OvsdbServer.NorthboundSchema);
        await using var client = await OvsdbClient.ConnectAsync(server.UnixEndpoint);
        await using var monitor = await client.MonitorAsync(Nb, [new OvsdbMonitorRequest("Logical_Switch", ["name"])]);
        var pending = client.TransactAsync(
            Nb,
            [OvsdbOperation.Wait("Logical_Switch", [OvsdbCondition.Equal("name", "never")], ["name"], [], untilEqual: false, timeoutMs: 60_000)],
            CancellationToken.None);

        await server.KillAsync();

        (await Should.ThrowAsync<OvsdbConnectionException>(() => pending)).Message.ShouldContain("closed the connection");
        await client.Completion.WaitAsync(Guard);
        client.IsConnected.ShouldBeFalse();
        await Should.ThrowAsync<OvsdbConnectionException>(() => client.ListDatabasesAsync());
        await Should.ThrowAsync<OvsdbConnectionException>(async () =>
        {
            await foreach (var _ in monitor.ReadUpdatesAsync())
            {
            }
        });
    }

    private static async Task<OvsdbRowUpdate> NextChangeOfAsync(IAsyncEnumerator<OvsdbTableUpdates> updates, string name)
    {
        while (await updates.MoveNextAsync())
        {
            foreach (var change in updates.Current.Table("Logical_Switch"))
            {
                if ((change.New ?? change.Old)?.Columns["name"]?.GetValue<string>() == name)
                {
                    return change;
                }
            }
        }

        throw new InvalidOperationException("the updates ended");
    }
}
