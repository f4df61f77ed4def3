using System.Net.Http.Json;
using Quantixkvm.ControlPlane.Tests.Support;
using Quantixkvm.Domain;

namespace Quantixkvm.ControlPlane.Tests;

/// <summary>What a mutation leaves in the event store: stable names, metadata, JSON as the committed schemas say.</summary>
public sealed class EventStoreTests(ControlPlaneFixture fixture) : IClassFixture<ControlPlaneFixture>
{
    [Fact]
    public async Task events_carry_stable_names_correlation_causation_and_actor_metadata()
    {
        var correlation = Guid.NewGuid();
        var commandId = $"create-{Guid.NewGuid():N}";
        var created = await fixture.App.Api(correlation).CreateVmAsync("audited", commandId: commandId);
        var vmId = Guid.Parse(created.Str("vm.id"));

        var events = await fixture.App.Events.StreamAsync(vmId);

        events.Select(e => e.Type).ShouldBe(["vm.created.v1", "vm.placed.v1", "vm.operation-requested.v1"]);
        events.Select(e => e.Version).ShouldBe([1L, 2L, 3L]);
        foreach (var e in events)
        {
            e.CorrelationId.ShouldBe(correlation.ToString(), $"{e.Type} carries the request's X-Correlation-Id");
            e.CausationId.ShouldBe(commandId, $"{e.Type} is caused by the command");
            e.UserName.ShouldBe("user:anonymous", $"{e.Type} names its actor");
        }

        events[2].Data["operationId"]!.GetValue<string>().ShouldBe(created.Str("operation.id"));
        events[2].Data["commandId"]!.GetValue<string>().ShouldBe(commandId);
        events[2].Data["kind"]!.GetValue<string>().ShouldBe("Create");
        events.ShouldAllBe(e => e.Data.Count > 0);
        foreach (var e in events)
        {
            e.ShouldMatchSchema();
        }
    }

    [Fact]
    public async Task no_stored_event_type_is_a_clr_name_and_every_event_matches_its_committed_schema()
    {
        await fixture.App.Api().CreateVmAsync("schema-checked", start: true);

        var all = await fixture.App.Events.AllAsync();

        all.ShouldNotBeEmpty();
        var catalog = EventCatalog.All.Select(e => e.Name).ToHashSet();
        foreach (var e in all)
        {
            catalog.ShouldContain(e.Type, $"stored type '{e.Type}' is not a catalogued stable name");
            e.Type.ShouldNotContain("Quantixkvm");
            e.Type.ShouldNotContain("_");
            e.ShouldMatchSchema();
        }

        all.Select(e => e.Type).ShouldContain("host.registered.v1");
        all.Select(e => e.Type).ShouldContain("vm.created.v1");
        all.Select(e => e.Type).ShouldContain("vm.operation-requested.v1");
    }

    [Fact]
    public async Task creating_a_vm_twice_with_the_same_command_id_returns_the_same_vm_and_operation_and_stores_it_once()
    {
        var api = fixture.App.Api();
        var commandId = $"create-{Guid.NewGuid():N}";

        var first = await api.CreateVmAsync("only-once", commandId: commandId);
        var second = await api.CreateVmAsync("only-once", commandId: commandId);

        second.Str("vm.id").ShouldBe(first.Str("vm.id"));
        second.Str("operation.id").ShouldBe(first.Str("operation.id"));
        second.Str("operation.commandId").ShouldBe(commandId);
        var events = await fixture.App.Events.StreamAsync(Guid.Parse(first.Str("vm.id")));
        events.Select(e => e.Type).ShouldBe(["vm.created.v1", "vm.placed.v1", "vm.operation-requested.v1"], "one stream, three events, nothing repeated");
        var named = await api.DataAsync("{ vms { id name } }");
        named["vms"]!.AsArray().Count(v => v!["name"]!.GetValue<string>() == "only-once").ShouldBe(1);
    }

    [Fact]
    public async Task concurrent_creates_with_the_same_command_id_make_one_vm()
    {
        var api = fixture.App.Api();
        var commandId = $"create-{Guid.NewGuid():N}";

        var results = await Task.WhenAll(Enumerable.Range(0, 8).Select(_ => Task.Run(() => api.SendAsync(
            $"mutation($input: CreateVmInput!) {{ createVm(input: $input) {{ operation {{ id }} vm {{ id }} }} }}",
            new { input = new { name = "raced-create", vcpus = 1, memoryMiB = 256, commandId } }))));

        foreach (var result in results)
        {
            result["errors"].ShouldBeNull($"a repeated create is not an error: {result.ToJsonString()}");
        }

        results.Select(r => r["data"]!["createVm"]!.Str("vm.id")).Distinct().Count().ShouldBe(1);
        results.Select(r => r["data"]!["createVm"]!.Str("operation.id")).Distinct().Count().ShouldBe(1);
        var events = await fixture.App.Events.StreamAsync(Guid.Parse(results[0]["data"]!["createVm"]!.Str("vm.id")));
        events.Select(e => e.Version).ShouldBe([1L, 2L, 3L]);
    }

    [Fact]
    public async Task a_response_echoes_the_callers_correlation_id_and_makes_one_up_otherwise()
    {
        using var http = fixture.App.CreateClient();
        var mine = Guid.NewGuid().ToString();
        using var given = new HttpRequestMessage(HttpMethod.Post, "/graphql") { Content = JsonContent.Create(new { query = "{ hosts { id } }" }) };
        given.Headers.Add("X-Correlation-Id", mine);
        using var notGiven = new HttpRequestMessage(HttpMethod.Post, "/graphql") { Content = JsonContent.Create(new { query = "{ hosts { id } }" }) };
        notGiven.Headers.Add("X-Correlation-Id", "not a uuid");

        using var echoed = await http.SendAsync(given);
        using var invented = await http.SendAsync(notGiven);

        echoed.Headers.GetValues("X-Correlation-Id").Single().ShouldBe(mine);
        var made = invented.Headers.GetValues("X-Correlation-Id").Single();
        Guid.TryParse(made, out _).ShouldBeTrue($"'{made}' is a fresh UUID");
    }
}
