using Marten;
using Microsoft.Extensions.DependencyInjection;
using Quantixkvm.Contracts;
using Quantixkvm.ControlPlane.Commands;
using Quantixkvm.ControlPlane.ReadModels;
using Quantixkvm.ControlPlane.Tests.Support;
using Quantixkvm.Domain;
using Quantixkvm.Domain.Vms;

namespace Quantixkvm.ControlPlane.Tests;

/// <summary>Many writers on one VM at once: optimistic concurrency keeps the stream whole and the domain's rules intact.</summary>
public sealed class ConcurrencyTests(ControlPlaneFixture fixture) : IClassFixture<ControlPlaneFixture>
{
    private const int Writers = 8;

    private ControlPlaneApp App => fixture.App;

    [Fact]
    public async Task parallel_starts_of_a_stopped_vm_start_it_once_and_refuse_the_rest_as_invalid_state()
    {
        var vmId = await StoppedVmAsync("raced-start");
        var go = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var commandIds = Enumerable.Range(0, Writers).Select(i => $"start-{i}-{Guid.NewGuid():N}").ToList();

        var attempts = commandIds.Select(commandId => Task.Run(async () =>
        {
            await using var scope = App.Services.CreateAsyncScope();
            var vms = scope.ServiceProvider.GetRequiredService<VmCommands>();
            await go.Task;
            try
            {
                var result = await vms.HandleAsync(vmId, (context, timeouts) => new StartVm(context, timeouts),
                    new CommandMetadata(commandId, "user:test", Guid.NewGuid().ToString()), expectedVersion: null, CancellationToken.None);
                return (CommandId: commandId, Result: (CommandResult?)result, Rejection: (Rejection?)null);
            }
            catch (CommandRejectedException ex)
            {
                return (CommandId: commandId, Result: null, Rejection: ex.Rejection);
            }
        })).ToList();
        go.SetResult();
        var outcomes = await Task.WhenAll(attempts);

        var winners = outcomes.Where(o => o.Result is not null).ToList();
        winners.Count.ShouldBe(1, "exactly one start may win");
        outcomes.Where(o => o.Rejection is not null).Select(o => o.Rejection!.Code)
            .ShouldBe(Enumerable.Repeat(RejectionCode.InvalidState, Writers - 1), "the others find a start under way");

        var winner = winners[0];
        var events = await App.Events.StreamAsync(vmId);
        events.Select(e => e.Version).ShouldBe(Enumerable.Range(1, events.Count).Select(v => (long)v), "versions are contiguous, no gaps or duplicates");
        events.Select(e => e.Type).ShouldBe(
            ["vm.created.v1", "vm.placed.v1", "vm.operation-requested.v1", "vm.operation-succeeded.v1", "vm.operation-requested.v1"]);
        events[^1].Data["commandId"]!.GetValue<string>().ShouldBe(winner.CommandId);
        winner.Result!.Version.ShouldBe(events[^1].Version);

        await using var session = App.Services.GetRequiredService<IDocumentStore>().QuerySession();
        var vm = (await session.LoadAsync<VmView>(vmId))!;
        vm.Version.ShouldBe(events[^1].Version, "the read model is at the stream's head");
        vm.CurrentOperationId.ShouldBe(winner.Result.OperationId);
        vm.DesiredPowerState.ShouldBe(PowerState.Running);
        foreach (var loser in outcomes.Where(o => o.Result is null))
        {
            (await session.LoadAsync<OperationView>(VmDecider.OperationIdFor(vmId, loser.CommandId))).ShouldBeNull();
        }
    }

    [Fact]
    public async Task parallel_graphql_starts_with_the_same_expected_version_let_one_through_and_report_conflicts()
    {
        var vmId = await StoppedVmAsync("raced-expected-version");
        var api = App.Api();
        var version = (await api.VmAsync(vmId.ToString()))!["version"]!.GetValue<int>();

        var answers = await Task.WhenAll(Enumerable.Range(0, Writers).Select(_ =>
            Task.Run(() => api.SendLifecycleAsync("startVm", vmId.ToString(), expectedVersion: version))));

        var succeeded = answers.Where(a => a["errors"] is null).ToList();
        succeeded.Count.ShouldBe(1, string.Join("\n", answers.Select(a => a.ToJsonString())));
        var codes = answers.Where(a => a["errors"] is not null).Select(a => a["errors"]![0]!["extensions"]!["code"]!.GetValue<string>()).ToList();
        codes.ShouldAllBe(code => code == "CONCURRENCY_CONFLICT");
        codes.Count.ShouldBe(Writers - 1);
        var conflict = answers.First(a => a["errors"] is not null)["errors"]![0]!["extensions"]!;
        conflict["expectedVersion"]!.GetValue<long>().ShouldBe(version);

        var events = await App.Events.StreamAsync(vmId);
        events.Select(e => e.Version).ShouldBe(Enumerable.Range(1, version + 1).Select(v => (long)v));
        events[^1].Type.ShouldBe("vm.operation-requested.v1");
        (await api.VmAsync(vmId.ToString()))!["version"]!.GetValue<int>().ShouldBe(version + 1);
    }

    [Fact]
    public async Task a_stale_expected_version_is_refused_and_appends_nothing()
    {
        var vmId = await StoppedVmAsync("stale-version");
        var api = App.Api();

        var answer = await api.SendLifecycleAsync("startVm", vmId.ToString(), expectedVersion: 1);

        answer["errors"]![0]!["extensions"]!["code"]!.GetValue<string>().ShouldBe("CONCURRENCY_CONFLICT");
        answer["errors"]![0]!["extensions"]!["actualVersion"]!.GetValue<long>().ShouldBe(4, "created, placed, create requested, create succeeded");
        (await App.Events.StreamAsync(vmId)).Count.ShouldBe(4);
    }

    [Fact]
    public async Task a_conflict_reports_the_version_the_vm_is_really_at()
    {
        var vmId = await StoppedVmAsync("superseded-in-a-race");
        var api = App.Api();
        (await api.SendLifecycleAsync("startVm", vmId.ToString()))["errors"].ShouldBeNull();
        var version = (await api.VmAsync(vmId.ToString()))!["version"]!.GetValue<int>();

        // A forced stop supersedes the start: the winner appends two events (the start failed, the stop requested).
        var answers = await Task.WhenAll(Enumerable.Range(0, Writers).Select(_ =>
            Task.Run(() => api.SendLifecycleAsync("stopVm", vmId.ToString(), expectedVersion: version, force: true))));

        answers.Count(a => a["errors"] is null).ShouldBe(1);
        var actual = (await App.Events.StreamAsync(vmId))[^1].Version;
        actual.ShouldBe(version + 2);
        answers.Where(a => a["errors"] is not null)
            .Select(a => a["errors"]![0]!["extensions"]!["actualVersion"]!.GetValue<long>())
            .ShouldAllBe(reported => reported == actual, "a client retrying with the reported version must not conflict again");
    }

    /// <summary>A VM that exists and was last seen STOPPED: created, its create operation reported done by the agent.</summary>
    private async Task<Guid> StoppedVmAsync(string name)
    {
        var api = App.Api();
        var created = await api.CreateVmAsync(name);
        var message = await fixture.Agent.NextOperationAsync(Guid.Parse(created.Str("operation.id")));
        await fixture.Agent.ReportFinishedAsync(message, succeeded: true, DomainPowerState.Stopped);
        await api.OperationEndsAsync(created.Str("operation.id"), "SUCCEEDED");
        return Guid.Parse(created.Str("vm.id"));
    }
}
