using Quantixkvm.Libvirt;
using Quantixkvm.Testing;

namespace Quantixkvm.EndToEnd.Tests;

/// <summary>What happens when parts die: operations still end, commands are not lost.</summary>
[Collection(PlatformCollection.Name)]
public sealed class FailureTests(Platform platform)
{
    [Fact]
    public async Task an_agent_that_never_answers_leaves_the_operation_timed_out_and_the_vm_usable()
    {
        var vmId = await platform.CreatedVmAsync("agent-dies", start: false);
        await platform.Agent!.KillAsync();
        try
        {
            var start = await platform.Api.DataAsync("mutation($id: ID!) { startVm(id: $id) { operation { id deadline } } }", new { id = vmId });
            var operation = await platform.OperationEndedAsync(
                start["startVm"]!["operation"]!["id"]!.GetValue<string>(), TimeSpan.FromSeconds(Platform.OperationTimeoutSeconds + 20));
            operation["status"]!.GetValue<string>().ShouldBe("TIMED_OUT");
            operation["error"]!["code"]!.GetValue<string>().ShouldBe("TIMED_OUT");
            var vm = (await platform.Api.DataAsync("query($id: ID!) { vm(id: $id) { powerState currentOperation { id } } }", new { id = vmId }))["vm"]!;
            vm["currentOperation"].ShouldBeNull("a timed-out operation no longer holds the VM");
            vm["powerState"]!.GetValue<string>().ShouldBe("STOPPED");
        }
        finally
        {
            await platform.StartAgentAsync();
        }

        // The stale command still waiting in the queue is refused by the agent (past its deadline); a new one works.
        var again = await platform.Api.DataAsync("mutation($id: ID!) { startVm(id: $id) { operation { id } } }", new { id = vmId });
        (await platform.OperationEndedAsync(again["startVm"]!["operation"]!["id"]!.GetValue<string>()))["status"]!.GetValue<string>()
            .ShouldBe("SUCCEEDED");
        using var domain = platform.Libvirt.FindDomain(Guid.Parse(vmId)).ShouldNotBeNull();
        domain.GetState().State.ShouldBe(DomainState.Running);
    }

    [Fact]
    public async Task a_control_plane_killed_between_append_and_dispatch_still_delivers_the_command_once()
    {
        // Dispatch held: the command is appended to the log but not sent, then the process dies hard.
        await platform.StopControlPlaneAsync();
        await platform.StartControlPlaneAsync(dispatchEnabled: false);
        var created = await platform.Api.DataAsync(
            "mutation { createVm(input: { name: \"crash-recovery\", vcpus: 1, memoryMiB: 64, start: true }) { operation { id status } vm { id } } }");
        var operationId = created["createVm"]!["operation"]!["id"]!.GetValue<string>();
        var vmId = created["createVm"]!["vm"]!["id"]!.GetValue<string>();
        await Task.Delay(1000);
        platform.Libvirt.FindDomain(Guid.Parse(vmId)).ShouldBeNull("nothing was sent while dispatch was held");
        await platform.ControlPlane!.KillAsync();

        // Restarted, dispatch resumes from its checkpoint.
        await platform.StartControlPlaneAsync();
        var operation = await platform.OperationEndedAsync(operationId);
        operation["status"]!.GetValue<string>().ShouldBe("SUCCEEDED");

        using var domain = platform.Libvirt.FindDomain(Guid.Parse(vmId)).ShouldNotBeNull();
        domain.GetState().State.ShouldBe(DomainState.Running);
        platform.Libvirt.ListAllDomains().Count(d => d.Uuid == Guid.Parse(vmId)).ShouldBe(1);
        var operations = (await platform.Api.DataAsync("query($id: ID!) { vm(id: $id) { operations { id status } } }", new { id = vmId }))["vm"]!["operations"]!.AsArray();
        operations.Count.ShouldBe(1);
        platform.Agent!.Output.Split('\n').Count(l => l.Contains($"Running Create operation {operationId}")).ShouldBe(1, "the agent acted once");
    }

    [Fact]
    public async Task an_agent_whose_libvirt_daemon_restarts_reconnects_and_reports_what_it_finds()
    {
        var before = await platform.CreatedVmAsync("before-libvirtd-restart", start: false);
        await platform.RestartLibvirtAsync();

        // The agent notices the dead connection at its next heartbeat, reopens it, and reports its inventory at once:
        // the new test-driver host has none of the old domains, so the VM becomes UNKNOWN (drift, as an event).
        await Platform.WaitAsync(async () =>
        {
            var vm = (await platform.Api.DataAsync("query($id: ID!) { vm(id: $id) { powerState } } ", new { id = before }))["vm"]!;
            return vm["powerState"]!.GetValue<string>() == "UNKNOWN";
        }, TimeSpan.FromSeconds(30), "the agent to reconnect and report the VM missing", platform.Agent);
        platform.Agent!.Output.ShouldContain("reopened it");

        var created = await platform.Api.DataAsync(
            "mutation { createVm(input: { name: \"after-libvirtd-restart\", vcpus: 1, memoryMiB: 64, start: true }) { operation { id } vm { id } } }");
        var operation = await platform.OperationEndedAsync(created["createVm"]!["operation"]!["id"]!.GetValue<string>());
        operation["status"]!.GetValue<string>().ShouldBe("SUCCEEDED", operation.ToJsonString());
        using var domain = platform.Libvirt.FindDomain(Guid.Parse(created["createVm"]!["vm"]!["id"]!.GetValue<string>())).ShouldNotBeNull();
        domain.GetState().State.ShouldBe(DomainState.Running);
    }
}
