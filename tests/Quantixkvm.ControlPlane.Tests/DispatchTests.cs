using Quantixkvm.Contracts;
using Quantixkvm.ControlPlane.Tests.Support;

namespace Quantixkvm.ControlPlane.Tests;

/// <summary>From the event log to the host's queue, and the agent's outcome back into the VM's state.</summary>
public sealed class DispatchTests(ControlPlaneFixture fixture) : IClassFixture<ControlPlaneFixture>
{
    private ControlPlaneApp App => fixture.App;

    private FakeAgent Agent => fixture.Agent;

    [Fact]
    public async Task a_requested_operation_is_sent_to_its_hosts_queue_with_the_commands_ids_and_the_vms_spec()
    {
        var correlation = Guid.NewGuid();
        var commandId = $"create-{Guid.NewGuid():N}";
        var created = await App.Api(correlation).CreateVmAsync("dispatched", commandId: commandId, vcpus: 2, memoryMiB: 512);
        var operationId = Guid.Parse(created.Str("operation.id"));
        var vmId = Guid.Parse(created.Str("vm.id"));

        var message = await Agent.NextOperationAsync(operationId);

        message.CommandId.ShouldBe(commandId);
        message.CorrelationId.ShouldBe(correlation);
        message.HostId.ShouldBe(Agent.HostId);
        message.Kind.ShouldBe(DomainOperationKind.Create);
        message.Force.ShouldBeFalse();
        message.Domain.ShouldBe(new DomainSpecification(vmId, "dispatched", 2, 512));
        message.DesiredPowerState.ShouldBe(DomainPowerState.Stopped);
        message.Deadline.ShouldBe(DateTimeOffset.Parse(created.Str("operation.deadline"), System.Globalization.CultureInfo.InvariantCulture));
    }

    [Fact]
    public async Task an_operation_is_sent_once_although_both_the_early_send_and_the_logs_dispatcher_see_it()
    {
        var created = await App.Api().CreateVmAsync("sent-once");
        var operationId = Guid.Parse(created.Str("operation.id"));
        await Agent.NextOperationAsync(operationId);

        // Once the log's dispatcher has passed the request, a second send would already be in the queue.
        await Eventually.WaitAsync(async () => await DispatcherPositionAsync() >= await LastSequenceAsync(),
            $"the log's dispatcher to pass the request: {await ScalarTextAsync($"SELECT string_agg(name || '=' || last_seq_id, ', ') FROM \"{fixture.Schema}\".mt_event_progression")} vs {await LastSequenceAsync()}");
        await Task.Delay(500);

        Agent.Received.Count(m => m.OperationId == operationId).ShouldBe(1);
    }

    private async Task<long> DispatcherPositionAsync() =>
        await ScalarAsync($"SELECT coalesce(max(last_seq_id), 0) FROM \"{fixture.Schema}\".mt_event_progression WHERE name LIKE 'agent-dispatch%'");

    private async Task<long> LastSequenceAsync() => await ScalarAsync($"SELECT coalesce(max(seq_id), 0) FROM \"{fixture.Schema}\".mt_events");

    private static async Task<string?> ScalarTextAsync(string sql)
    {
        await using var data = Npgsql.NpgsqlDataSource.Create(Quantixkvm.Testing.TestServices.Postgres);
        await using var command = data.CreateCommand(sql);
        return (string?)await command.ExecuteScalarAsync();
    }

    private static async Task<long> ScalarAsync(string sql)
    {
        await using var data = Npgsql.NpgsqlDataSource.Create(Quantixkvm.Testing.TestServices.Postgres);
        await using var command = data.CreateCommand(sql);
        return (long)(await command.ExecuteScalarAsync())!;
    }

    [Fact]
    public async Task an_agents_outcomes_move_the_operation_through_running_to_succeeded_and_set_the_vms_power_state()
    {
        var api = App.Api();
        var created = await api.CreateVmAsync("reported", start: true);
        var operationId = Guid.Parse(created.Str("operation.id"));
        var message = await Agent.NextOperationAsync(operationId);
        message.DesiredPowerState.ShouldBe(DomainPowerState.Running);

        await Agent.ReportStartedAsync(message);
        var running = await api.OperationEndsAsync(operationId.ToString(), "RUNNING");
        running["acceptedByHostAt"].ShouldNotBeNull();
        (await api.VmAsync(created.Str("vm.id")))!.Str("powerState").ShouldBe("UNKNOWN", "nothing is observed before the outcome");

        await Agent.ReportFinishedAsync(message, succeeded: true, DomainPowerState.Running);
        var succeeded = await api.OperationEndsAsync(operationId.ToString(), "SUCCEEDED");
        succeeded["error"].ShouldBeNull();
        succeeded["finishedAt"].ShouldNotBeNull();
        var vm = (await api.VmAsync(created.Str("vm.id")))!;
        vm.Str("powerState").ShouldBe("RUNNING");
        vm.Str("desiredPowerState").ShouldBe("RUNNING");
        vm["currentOperation"].ShouldBeNull();
    }

    [Fact]
    public async Task a_failed_outcome_surfaces_as_failed_with_the_hosts_error_code_and_message()
    {
        var api = App.Api();
        var created = await api.CreateVmAsync("will-not-start");
        var create = await Agent.NextOperationAsync(Guid.Parse(created.Str("operation.id")));
        await Agent.ReportFinishedAsync(create, succeeded: true, DomainPowerState.Stopped);
        await api.OperationEndsAsync(created.Str("operation.id"), "SUCCEEDED");

        var start = await api.SendLifecycleAsync("startVm", created.Str("vm.id"));
        start["errors"].ShouldBeNull(start.ToJsonString());
        var startId = Guid.Parse(start["data"]!["startVm"]!.Str("operation.id"));
        var message = await Agent.NextOperationAsync(startId);
        message.Kind.ShouldBe(DomainOperationKind.Start);
        await Agent.ReportFinishedAsync(message, succeeded: false, DomainPowerState.Stopped,
            "VIR_ERR_OPERATION_FAILED", "operation failed: guest CPU doesn't match specification");

        var failed = await api.OperationEndsAsync(startId.ToString(), "FAILED");
        failed.Str("error.code").ShouldBe("VIR_ERR_OPERATION_FAILED");
        failed.Str("error.message").ShouldBe("operation failed: guest CPU doesn't match specification");
        var vm = (await api.VmAsync(created.Str("vm.id")))!;
        vm.Str("powerState").ShouldBe("STOPPED");
        vm["currentOperation"].ShouldBeNull();
    }

    [Fact]
    public async Task a_redelivered_outcome_changes_nothing()
    {
        var api = App.Api();
        var created = await api.CreateVmAsync("reported-twice");
        var vmId = Guid.Parse(created.Str("vm.id"));
        var message = await Agent.NextOperationAsync(Guid.Parse(created.Str("operation.id")));
        await App.Consumed.WaitAsync(await Agent.ReportFinishedAsync(message, succeeded: true, DomainPowerState.Stopped));
        var before = await App.Events.StreamAsync(vmId);

        await App.Consumed.WaitAsync(await Agent.ReportFinishedAsync(message, succeeded: true, DomainPowerState.Stopped));
        (await App.Events.StreamAsync(vmId)).Count.ShouldBe(before.Count, "a second 'finished' is a duplicate");

        // "Started" overtaken by "finished" (separate messages): recorded once when it comes, the operation stays SUCCEEDED.
        await App.Consumed.WaitAsync(await Agent.ReportStartedAsync(message));
        await App.Consumed.WaitAsync(await Agent.ReportStartedAsync(message));
        var after = await App.Events.StreamAsync(vmId);
        after.Select(e => e.Type).ShouldBe(["vm.created.v1", "vm.placed.v1", "vm.operation-requested.v1", "vm.operation-succeeded.v1", "vm.operation-started.v1"]);
        var operation = await api.OperationEndsAsync(message.OperationId.ToString(), "SUCCEEDED");
        operation["acceptedByHostAt"].ShouldNotBeNull();
        before.Select(e => e.Type).ShouldBe(["vm.created.v1", "vm.placed.v1", "vm.operation-requested.v1", "vm.operation-succeeded.v1"]);
        var succeeded = before[^1];
        succeeded.CorrelationId.ShouldBe(message.CorrelationId.ToString(), "the outcome keeps the request's correlation id");
        succeeded.CausationId.ShouldBe(message.OperationId.ToString(), "the outcome is caused by the operation");
        succeeded.UserName.ShouldBe($"agent:{Agent.HostId}");
    }

    [Fact]
    public async Task a_delete_the_host_confirms_removes_the_vm_from_queries()
    {
        var api = App.Api();
        var created = await api.CreateVmAsync("to-be-deleted");
        var vmId = created.Str("vm.id");
        await Agent.ReportFinishedAsync(await Agent.NextOperationAsync(Guid.Parse(created.Str("operation.id"))), succeeded: true, DomainPowerState.Stopped);
        await api.OperationEndsAsync(created.Str("operation.id"), "SUCCEEDED");

        var delete = await api.SendLifecycleAsync("deleteVm", vmId);
        delete["errors"].ShouldBeNull(delete.ToJsonString());
        var message = await Agent.NextOperationAsync(Guid.Parse(delete["data"]!["deleteVm"]!.Str("operation.id")));
        message.Kind.ShouldBe(DomainOperationKind.Delete);
        await Agent.ReportFinishedAsync(message, succeeded: true, DomainPowerState.Stopped);
        await api.OperationEndsAsync(message.OperationId.ToString(), "SUCCEEDED");

        (await api.VmAsync(vmId)).ShouldBeNull();
        (await api.DataAsync("{ vms { id } }"))["vms"]!.AsArray().ShouldNotContain(v => v!["id"]!.GetValue<string>() == vmId);
        (await App.Events.StreamAsync(Guid.Parse(vmId)))[^1].Type.ShouldBe("vm.deleted.v1");
        var (code, _) = await api.ErrorAsync("mutation($id: ID!) { startVm(id: $id) { operation { id } } }", new { id = vmId });
        code.ShouldBe("NOT_FOUND");
    }
}
