using System.Text.Json.Nodes;
using System.Xml.Linq;
using Quantixkvm.Libvirt;
using Quantixkvm.Testing;

namespace Quantixkvm.EndToEnd.Tests;

/// <summary>GraphQL in, events out, RabbitMQ to the agent, libvirt acted on, outcomes back, subscribers told.</summary>
[Collection(PlatformCollection.Name)]
public sealed class VmLifecycleTests(Platform platform)
{
    private const string VmFields = "id name powerState desiredPowerState version host { name } currentOperation { id status }";
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(30);

    [Fact]
    public async Task a_vm_created_and_started_runs_in_libvirt_and_subscribers_see_every_step_in_order()
    {
        await using var ws = await GraphQLSubscriptionClient.ConnectAsync(new Uri(platform.Endpoint, "graphql"));
        await ws.SubscribeAsync("all-vms", $"subscription {{ vmChanged {{ {VmFields} }} }}");
        await Task.Delay(500);

        const string evilName = "<evil & \"x\">";
        var created = await CreateAsync(evilName, start: true);
        var vmId = created["vm"]!["id"]!.GetValue<string>();

        var messages = await ws.ReadUntilAsync("all-vms",
            d => d["vmChanged"]!["id"]!.GetValue<string>() == vmId
                 && d["vmChanged"]!["powerState"]!.GetValue<string>() == "RUNNING"
                 && d["vmChanged"]!["currentOperation"] is null,
            Wait);
        var versions = messages.Select(m => m["vmChanged"]!).Where(v => v["id"]!.GetValue<string>() == vmId)
            .Select(v => v["version"]!.GetValue<int>()).ToList();
        versions.ShouldBe(Enumerable.Range(1, versions.Count).ToList(), "one message per event, in stream order, none skipped");
        versions.Count.ShouldBe(5, "created, placed, requested, started by the agent, succeeded");
        messages[^1]["vmChanged"]!["desiredPowerState"]!.GetValue<string>().ShouldBe("RUNNING");
        var operationSteps = messages.Select(m => m["vmChanged"]!).Where(v => v["id"]!.GetValue<string>() == vmId)
            .Select(v => v["currentOperation"]?["status"]?.GetValue<string>() ?? "none").ToList();
        operationSteps.ShouldBe(["none", "none", "PENDING", "RUNNING", "none"], "each message shows the operation as it was after that event");

        var vm = (await platform.Api.DataAsync($"query($id: ID!) {{ vm(id: $id) {{ {VmFields} }} }}", new { id = vmId }))["vm"]!;
        vm["powerState"]!.GetValue<string>().ShouldBe("RUNNING");
        vm["name"]!.GetValue<string>().ShouldBe(evilName);
        vm["host"]!["name"]!.GetValue<string>().ShouldBe(platform.HostName);

        using var domain = platform.Libvirt.FindDomain(Guid.Parse(vmId));
        domain.ShouldNotBeNull("the agent defined the domain in libvirt");
        domain.GetState().State.ShouldBe(DomainState.Running);
        var xml = domain.GetXml();
        xml.ShouldContain("&lt;evil &amp;", Case.Sensitive, "the name is escaped in the domain XML");
        xml.ShouldNotContain("<evil");
        XDocument.Parse(xml).Root!.Element("title")!.Value.ShouldBe(evilName, "and reads back intact");
    }

    [Fact]
    public async Task the_vms_history_shows_who_did_what_under_the_callers_correlation_id_across_both_processes()
    {
        var correlationId = Guid.NewGuid().ToString();
        using var http = new HttpClient { BaseAddress = platform.Endpoint };
        http.DefaultRequestHeaders.Add("X-Correlation-Id", correlationId);
        var created = (await new GraphQLClient(http).DataAsync(
            "mutation { createVm(input: { name: \"audited\", vcpus: 1, memoryMiB: 64, start: true }) { operation { id } vm { id } } }"))["createVm"]!;
        await platform.OperationEndedAsync(created["operation"]!["id"]!.GetValue<string>());

        var history = (await platform.Api.DataAsync(
            "query($id: ID!) { vm(id: $id) { history { version type actor correlationId causationId data } } }",
            new { id = created["vm"]!["id"]!.GetValue<string>() }))["vm"]!["history"]!.AsArray();

        history.Select(h => h!["type"]!.GetValue<string>()).ShouldBe(
            ["vm.created.v1", "vm.placed.v1", "vm.operation-requested.v1", "vm.operation-started.v1", "vm.operation-succeeded.v1"]);
        history.Select(h => h!["version"]!.GetValue<int>()).ShouldBe([1, 2, 3, 4, 5]);
        history.Select(h => h!["correlationId"]!.GetValue<string>()).ShouldAllBe(c => c == correlationId,
            "the caller's correlation id went through RabbitMQ to the agent and came back with its reports");
        history[0]!["actor"]!.GetValue<string>().ShouldBe("user:anonymous");
        history[4]!["actor"]!.GetValue<string>().ShouldStartWith("agent:");
        history[4]!["causationId"]!.GetValue<string>().ShouldBe(created["operation"]!["id"]!.GetValue<string>());
        history[4]!["data"]!.GetValue<string>().ShouldContain("\"observedPowerState\":\"Running\"");
    }

    [Fact]
    public async Task stopping_then_deleting_a_vm_removes_it_from_libvirt_and_from_the_api()
    {
        var vmId = await platform.CreatedVmAsync("stop-delete", start: true);

        var stop = await platform.Api.DataAsync("mutation($id: ID!) { stopVm(id: $id) { operation { id status kind } } }", new { id = vmId });
        var stopId = stop["stopVm"]!["operation"]!["id"]!.GetValue<string>();
        await using (var ws = await GraphQLSubscriptionClient.ConnectAsync(new Uri(platform.Endpoint, "graphql")))
        {
            await ws.SubscribeAsync("op", "subscription($id: ID!) { operationUpdated(id: $id) { id status kind } }", new { id = stopId });
            var updates = await ws.ReadUntilAsync("op", d => d["operationUpdated"]!["status"]!.GetValue<string>() == "SUCCEEDED", Wait);
            var statuses = updates.Select(u => u["operationUpdated"]!["status"]!.GetValue<string>()).ToList();
            statuses.ShouldBe(statuses.OrderBy(s => Array.IndexOf(["PENDING", "RUNNING", "SUCCEEDED"], s)).ToList(), "statuses never go backwards");
            updates[^1]["operationUpdated"]!["kind"]!.GetValue<string>().ShouldBe("STOP");
        }

        using (var domain = platform.Libvirt.FindDomain(Guid.Parse(vmId)))
        {
            domain.ShouldNotBeNull().GetState().State.ShouldBe(DomainState.Shutoff);
        }

        var delete = await platform.Api.DataAsync("mutation($id: ID!) { deleteVm(id: $id) { operation { id } } }", new { id = vmId });
        var deleted = await platform.OperationEndedAsync(delete["deleteVm"]!["operation"]!["id"]!.GetValue<string>());
        deleted["status"]!.GetValue<string>().ShouldBe("SUCCEEDED");

        (await platform.Api.DataAsync("query($id: ID!) { vm(id: $id) { id } }", new { id = vmId }))["vm"].ShouldBeNull();
        (await platform.Api.DataAsync("{ vms { id } }"))["vms"]!.AsArray().Select(v => v!["id"]!.GetValue<string>()).ShouldNotContain(vmId);
        platform.Libvirt.FindDomain(Guid.Parse(vmId)).ShouldBeNull("the domain is undefined");
    }

    [Fact]
    public async Task a_stale_expected_version_is_a_concurrency_conflict_and_appends_nothing()
    {
        var vmId = await platform.CreatedVmAsync("versioned", start: false);
        var version = await VersionAsync(vmId);

        var (code, error) = await platform.Api.ErrorAsync(
            "mutation($id: ID!, $v: Int) { startVm(id: $id, expectedVersion: $v) { operation { id } } }", new { id = vmId, v = version - 1 });
        code.ShouldBe("CONCURRENCY_CONFLICT");
        error["extensions"]!["actualVersion"]!.GetValue<long>().ShouldBe(version);
        (await VersionAsync(vmId)).ShouldBe(version, "a refused command appends nothing");

        var started = await platform.Api.DataAsync(
            "mutation($id: ID!, $v: Int) { startVm(id: $id, expectedVersion: $v) { operation { id } } }", new { id = vmId, v = version });
        (await platform.OperationEndedAsync(started["startVm"]!["operation"]!["id"]!.GetValue<string>()))["status"]!.GetValue<string>()
            .ShouldBe("SUCCEEDED");
    }

    [Fact]
    public async Task repeating_a_command_id_returns_the_same_operation_and_acts_once()
    {
        var vmId = await platform.CreatedVmAsync("idempotent", start: false);
        const string query = "mutation($id: ID!) { startVm(id: $id, commandId: \"start-once\") { operation { id } } }";
        var first = (await platform.Api.DataAsync(query, new { id = vmId }))["startVm"]!["operation"]!["id"]!.GetValue<string>();
        var second = (await platform.Api.DataAsync(query, new { id = vmId }))["startVm"]!["operation"]!["id"]!.GetValue<string>();
        second.ShouldBe(first);
        await platform.OperationEndedAsync(first);
        var third = (await platform.Api.DataAsync(query, new { id = vmId }))["startVm"]!["operation"]!["id"]!.GetValue<string>();
        third.ShouldBe(first, "also after the operation ended");

        var operations = (await platform.Api.DataAsync("query($id: ID!) { vm(id: $id) { operations { kind } } }", new { id = vmId }))["vm"]!["operations"]!.AsArray();
        operations.Select(o => o!["kind"]!.GetValue<string>()).ShouldBe(["START", "CREATE"]);
    }

    [Fact]
    public async Task a_retry_sent_exactly_as_before_with_its_expected_version_gets_the_first_answer()
    {
        var vmId = await platform.CreatedVmAsync("lost-response", start: false);
        var version = await VersionAsync(vmId);
        const string query = "mutation($id: ID!, $v: Int) { startVm(id: $id, expectedVersion: $v, commandId: \"retry-me\") { operation { id } } }";

        var first = (await platform.Api.DataAsync(query, new { id = vmId, v = version }))["startVm"]!["operation"]!["id"]!.GetValue<string>();
        await platform.OperationEndedAsync(first);
        // The response was lost; the client retries the same mutation, whose expectedVersion is now behind.
        var retry = (await platform.Api.DataAsync(query, new { id = vmId, v = version }))["startVm"]!["operation"]!["id"]!.GetValue<string>();

        retry.ShouldBe(first);
    }

    [Fact]
    public async Task an_operation_the_host_finds_impossible_ends_failed_with_the_hosts_reason_and_the_state_it_found()
    {
        var vmId = await platform.CreatedVmAsync("fails-on-the-host", start: true);
        using (var domain = platform.Libvirt.FindDomain(Guid.Parse(vmId)).ShouldNotBeNull())
        {
            domain.Destroy(); // behind the platform's back: the VM is still RUNNING in the read model
        }

        var reboot = await platform.Api.DataAsync("mutation($id: ID!) { rebootVm(id: $id) { operation { id } } }", new { id = vmId });
        var operation = await platform.OperationEndedAsync(reboot["rebootVm"]!["operation"]!["id"]!.GetValue<string>());
        operation["status"]!.GetValue<string>().ShouldBe("FAILED");
        // The agent read the domain's state first and did not ask libvirt to reboot a stopped domain.
        operation["error"]!["code"]!.GetValue<string>().ShouldBe("INVALID_POWER_STATE");
        operation["error"]!["message"]!.GetValue<string>().ShouldContain("is STOPPED on this host, not RUNNING");

        var vm = (await platform.Api.DataAsync("query($id: ID!) { vm(id: $id) { powerState currentOperation { id } } }", new { id = vmId }))["vm"]!;
        vm["powerState"]!.GetValue<string>().ShouldBe("STOPPED", "the agent reported the state it found");
        vm["currentOperation"].ShouldBeNull();
    }

    [Fact]
    public async Task bad_input_gets_a_typed_error_and_changes_nothing()
    {
        var before = (await platform.Api.DataAsync("{ vms { id version } }"))["vms"]!.ToJsonString();
        const string create = "mutation($input: CreateVmInput!) { createVm(input: $input) { operation { id } } }";

        (await platform.Api.ErrorAsync(create, new { input = new { name = "", vcpus = 1, memoryMiB = 64 } })).Code.ShouldBe("VALIDATION");
        (await platform.Api.ErrorAsync(create, new { input = new { name = new string('n', 65), vcpus = 1, memoryMiB = 64 } })).Code.ShouldBe("VALIDATION");
        (await platform.Api.ErrorAsync(create, new { input = new { name = "bad\u0007bell", vcpus = 1, memoryMiB = 64 } })).Code.ShouldBe("VALIDATION");
        (await platform.Api.ErrorAsync(create, new { input = new { name = "zero", vcpus = 0, memoryMiB = 64 } })).Code.ShouldBe("VALIDATION");
        (await platform.Api.ErrorAsync(create, new { input = new { name = "tiny", vcpus = 1, memoryMiB = 1 } })).Code.ShouldBe("VALIDATION");
        (await platform.Api.ErrorAsync(create, new { input = new { name = "nowhere", vcpus = 1, memoryMiB = 64, hostId = Guid.NewGuid() } })).Code.ShouldBe("NOT_FOUND");

        var (noHost, noHostError) = await platform.Api.ErrorAsync(create, new { input = new { name = "huge", vcpus = 1, memoryMiB = 4 * 1024 * 1024 } });
        noHost.ShouldBe("NO_HOST_AVAILABLE");
        var rejection = noHostError["extensions"]!["rejections"]!.AsArray().Single(r => r!["hostName"]!.GetValue<string>() == platform.HostName)!;
        rejection["filter"]!.GetValue<string>().ShouldBe("memory");

        (await platform.Api.ErrorAsync("mutation { startVm(id: \"not-a-uuid\") { operation { id } } }")).Code.ShouldBe("VALIDATION");
        (await platform.Api.ErrorAsync("mutation($id: ID!) { startVm(id: $id) { operation { id } } }", new { id = Guid.NewGuid() })).Code.ShouldBe("NOT_FOUND");
        var hostId = (await platform.Api.DataAsync("{ hosts { id } }"))["hosts"]![0]!["id"]!.GetValue<string>();
        (await platform.Api.ErrorAsync("mutation($id: ID!) { stopVm(id: $id, force: true) { operation { id } } }", new { id = hostId })).Code
            .ShouldBe("NOT_FOUND", "a host's id is no VM's id");
        (await platform.Api.ErrorAsync("{ vms { id noSuchField } }")).Code.ShouldBe("FIELDS_ON_CORRECT_TYPE");
        (await platform.Api.ErrorAsync("{ vms { id ")).Code.ShouldBe("SYNTAX_ERROR");
        var deep = "{ " + string.Concat(Enumerable.Repeat("vms { host { ", 8)) + "id" + new string('}', 16).Replace("}", " }") + " }";
        (await platform.Api.ErrorAsync(deep)).Code.ShouldBe("COMPLEXITY", "nesting is bounded");
        (await platform.Api.DataAsync(IntrospectionQuery))["__schema"]!["types"]!.AsArray().Count.ShouldBeGreaterThan(10, "introspection is not bounded by it");

        (await platform.Api.DataAsync("{ vms { id version } }"))["vms"]!.ToJsonString().ShouldBe(before, "nothing was appended");
    }

    [Fact]
    public async Task a_command_in_the_wrong_state_is_refused_naming_the_state_and_the_command()
    {
        var vmId = await platform.CreatedVmAsync("wrong-state", start: false);
        var (code, error) = await platform.Api.ErrorAsync("mutation($id: ID!) { stopVm(id: $id) { operation { id } } }", new { id = vmId });
        code.ShouldBe("INVALID_STATE");
        error["extensions"]!["state"]!.GetValue<string>().ShouldBe("STOPPED");
        error["extensions"]!["command"]!.GetValue<string>().ShouldBe("stop");
        error["message"]!.GetValue<string>().ShouldContain("allowed only when RUNNING");
    }

    /// <summary>The shape of the introspection query explorers send: deep type references.</summary>
    private const string IntrospectionQuery =
        "{ __schema { queryType { name } types { kind name fields(includeDeprecated: true) { name args { name type { ...TypeRef } } type { ...TypeRef } } "
        + "inputFields { name type { ...TypeRef } } enumValues(includeDeprecated: true) { name } } } } "
        + "fragment TypeRef on __Type { kind name ofType { kind name ofType { kind name ofType { kind name ofType { kind name ofType { kind name ofType { kind name ofType { kind name } } } } } } } }";

    private async Task<JsonNode> CreateAsync(string name, bool start)
    {
        var data = await platform.Api.DataAsync(
            "mutation($input: CreateVmInput!) { createVm(input: $input) { operation { id status kind } vm { id version } } }",
            new { input = new { name, vcpus = 1, memoryMiB = 128, start } });
        return data["createVm"]!;
    }

    private async Task<long> VersionAsync(string vmId) =>
        (await platform.Api.DataAsync("query($id: ID!) { vm(id: $id) { version } }", new { id = vmId }))["vm"]!["version"]!.GetValue<long>();
}
