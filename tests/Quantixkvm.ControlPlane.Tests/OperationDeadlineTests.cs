using System.Diagnostics;
using Microsoft.Extensions.DependencyInjection;
using Quantixkvm.Contracts;
using Quantixkvm.ControlPlane.Commands;
using Quantixkvm.ControlPlane.Tests.Support;
using Quantixkvm.Domain.Vms;

namespace Quantixkvm.ControlPlane.Tests;

/// <summary>No operation hangs forever: past its deadline it ends TIMED_OUT and the VM takes commands again.</summary>
public sealed class OperationDeadlineTests(OperationDeadlineTests.ShortDeadlines fixture) : IClassFixture<OperationDeadlineTests.ShortDeadlines>
{
    private const int TimeoutSeconds = 2;

    /// <summary>Two-second deadlines, scanned four times a second; the agent never answers.</summary>
    public sealed class ShortDeadlines : ControlPlaneFixture
    {
        protected override IReadOnlyDictionary<string, string?> Settings => new Dictionary<string, string?>
        {
            ["ControlPlane:OperationTimeoutSeconds"] = TimeoutSeconds.ToString(System.Globalization.CultureInfo.InvariantCulture),
            ["ControlPlane:DeadlineScanSeconds"] = "0.25",
        };
    }

    [Fact]
    public async Task an_operation_no_agent_answers_times_out_and_the_vm_then_takes_a_new_command()
    {
        var api = fixture.App.Api();
        var clock = Stopwatch.StartNew();
        var created = await api.CreateVmAsync("never-answered");
        var operationId = created.Str("operation.id");
        var vmId = created.Str("vm.id");
        var deadline = DateTimeOffset.Parse(created.Str("operation.deadline"), System.Globalization.CultureInfo.InvariantCulture);
        var requestedAt = DateTimeOffset.Parse(created.Str("operation.startedAt"), System.Globalization.CultureInfo.InvariantCulture);
        (deadline - requestedAt).ShouldBe(TimeSpan.FromSeconds(TimeoutSeconds));

        var early = await api.SendLifecycleAsync("deleteVm", vmId);
        if (clock.Elapsed < TimeSpan.FromSeconds(TimeoutSeconds))
        {
            // Only meaningful while the deadline is still ahead (a very slow machine may already be past it).
            early["errors"]![0]!["extensions"]!["code"]!.GetValue<string>().ShouldBe("INVALID_STATE", "the create is still under way");
        }

        var timedOut = await api.OperationEndsAsync(operationId, "TIMED_OUT");
        timedOut.Str("error.code").ShouldBe("TIMED_OUT");
        timedOut.Str("error.message").ShouldContain("deadline");
        var finishedAt = DateTimeOffset.Parse(timedOut.Str("finishedAt"), System.Globalization.CultureInfo.InvariantCulture);
        finishedAt.ShouldBeGreaterThanOrEqualTo(deadline, "nothing times out before its deadline");
        var vm = (await api.VmAsync(vmId))!;
        vm["currentOperation"].ShouldBeNull();
        vm.Str("powerState").ShouldBe("UNKNOWN", "no host ever said what became of it");
        var events = await fixture.App.Events.StreamAsync(Guid.Parse(vmId));
        events[^1].Type.ShouldBe("vm.operation-timed-out.v1");
        events[^1].UserName.ShouldBe("system:deadline-watcher");
        events[^1].ShouldMatchSchema();

        var next = await api.SendLifecycleAsync("stopVm", vmId, force: true);
        next["errors"].ShouldBeNull(next.ToJsonString());
        var nextOperation = next["data"]!["stopVm"]!["operation"]!;
        nextOperation.Str("status").ShouldBe("PENDING");
        nextOperation.Str("kind").ShouldBe("STOP");
        nextOperation.Str("id").ShouldNotBe(operationId);
    }

    [Fact]
    public async Task an_operation_the_agent_started_but_never_finished_times_out_too()
    {
        var api = fixture.App.Api();
        var created = await api.CreateVmAsync("started-never-finished");
        var operationId = Guid.Parse(created.Str("operation.id"));
        // The agent's "started" report, through the same command path its consumer uses (no broker hop, so well inside the deadline).
        var started = await fixture.App.InScopeAsync(services => services.GetRequiredService<VmCommands>().HandleAsync(
            Guid.Parse(created.Str("vm.id")), (context, _) => new MarkOperationStarted(context, operationId),
            new CommandMetadata($"report:{Guid.NewGuid()}", $"agent:{fixture.Agent.HostId}", Guid.NewGuid().ToString()),
            expectedVersion: null, CancellationToken.None));
        started.Appended.ShouldBeTrue("the operation was RUNNING before its deadline");

        var timedOut = await api.OperationEndsAsync(created.Str("operation.id"), "TIMED_OUT");

        timedOut.Str("error.code").ShouldBe("TIMED_OUT");
        timedOut["acceptedByHostAt"].ShouldNotBeNull();
    }

    [Fact]
    public async Task a_report_arriving_after_the_timeout_keeps_what_it_says_of_the_host_without_reviving_the_operation()
    {
        var api = fixture.App.Api();
        var created = await api.CreateVmAsync("late-reporter", start: true);
        var message = await fixture.Agent.NextOperationAsync(Guid.Parse(created.Str("operation.id")));
        await api.OperationEndsAsync(created.Str("operation.id"), "TIMED_OUT");

        await fixture.App.Consumed.WaitAsync(await fixture.Agent.ReportFinishedAsync(message, succeeded: true, DomainPowerState.Running));

        (await api.OperationAsync(created.Str("operation.id")))!.Str("status").ShouldBe("TIMED_OUT", "an ended operation stays ended");
        (await api.VmAsync(created.Str("vm.id")))!.Str("powerState").ShouldBe("RUNNING", "but the host's word is kept");
        var last = (await fixture.App.Events.StreamAsync(Guid.Parse(created.Str("vm.id"))))[^1];
        last.Type.ShouldBe("vm.power-state-observed.v1");
        last.Data["source"]!.GetValue<string>().ShouldBe("late-report");
    }
}
