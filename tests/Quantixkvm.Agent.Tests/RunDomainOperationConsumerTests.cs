using MassTransit;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Quantixkvm.Agent.Consumers;
using Quantixkvm.Agent.Hypervisor;
using Quantixkvm.Agent.Tests.Support;
using Quantixkvm.Contracts;
using Quantixkvm.Libvirt;
using Quantixkvm.Testing;
using static Quantixkvm.Agent.Tests.Support.TestHypervisor;

namespace Quantixkvm.Agent.Tests;

/// <summary>
/// The agent's consumer wired as Program.cs wires it, on the real RabbitMQ (a vhost of this class):
/// the host's queue, the agent's singletons, and an observer for what it publishes.
/// </summary>
public sealed class AgentOnTheBus : IAsyncLifetime
{
    private readonly string _vhost = TestServices.UniqueName("agent");
    private IHost? _host;

    public AgentOptions Options { get; } = new() { HostName = TestServices.UniqueName("agent-host") };

    public MessageLog Log { get; } = new();

    /// <summary>The test's own view of the hypervisor; kept open for the class's life.</summary>
    public LibvirtConnection Libvirt { get; } = LibvirtConnection.Open(LibvirtUri);

    public async Task InitializeAsync()
    {
        await TestServices.CreateVirtualHostAsync(_vhost);
        _host = TestBus.Build(
            _vhost,
            Log,
            [typeof(DomainOperationStarted), typeof(DomainOperationFinished), typeof(StorageOperationStarted), typeof(StorageOperationFinished)],
            services => AgentParts.AddOperations(services, LibvirtUri, Options),
            bus =>
            {
                bus.AddConsumer<RunDomainOperationConsumer>();
                bus.AddConsumer<RunStorageOperationConsumer>();
            },
            (context, rabbitmq) => rabbitmq.ReceiveEndpoint(AgentQueues.ForHost(Options.HostId), e =>
            {
                // As Program.cs has it.
                e.ConfigureConsumeTopology = false;
                e.PrefetchCount = 16;
                e.ConcurrentMessageLimit = 8;
                e.ConfigureConsumer<RunDomainOperationConsumer>(context);
                e.ConfigureConsumer<RunStorageOperationConsumer>(context);
            }));
        await _host.StartAsync();
    }

    public async Task DisposeAsync()
    {
        if (_host is not null)
        {
            await _host.StopAsync();
            _host.Dispose();
        }

        Libvirt.Dispose();
        await TestServices.DeleteVirtualHostAsync(_vhost);
    }

    /// <summary>Sends as the control plane does: by name, to the host's own queue.</summary>
    public Task SendAsync(RunDomainOperation command) => SendAsync<RunDomainOperation>(command);

    public Task SendAsync(RunStorageOperation command) => SendAsync<RunStorageOperation>(command);

    private async Task SendAsync<T>(T command)
        where T : class
    {
        var bus = _host!.Services.GetRequiredService<IBus>();
        var endpoint = await bus.GetSendEndpoint(new Uri($"queue:{AgentQueues.ForHost(Options.HostId)}"));
        await endpoint.Send(command);
    }
}

public sealed class RunDomainOperationConsumerTests(AgentOnTheBus agent) : IClassFixture<AgentOnTheBus>, IDisposable
{
    private readonly List<Guid> _vms = [];

    private static DateTimeOffset InAMinute => DateTimeOffset.UtcNow.AddMinutes(1);

    public void Dispose()
    {
        foreach (var vmId in _vms)
        {
            Remove(agent.Libvirt, vmId);
        }
    }

    [Fact]
    public async Task an_operation_is_reported_started_then_finished_with_its_operation_command_and_correlation_ids()
    {
        var vmId = NewVm();
        var create = Command(DomainOperationKind.Create, vmId, InAMinute, desired: DomainPowerState.Running, hostId: agent.Options.HostId);

        await agent.SendAsync(create);

        var finished = (await agent.Log.WaitForAsync<DomainOperationFinished>(f => f.OperationId == create.OperationId)).ShouldHaveSingleItem();
        var started = agent.Log.Of<DomainOperationStarted>(s => s.OperationId == create.OperationId).ShouldHaveSingleItem();
        started.Sequence.ShouldBeLessThan(finished.Sequence, "Started comes before Finished");

        started.Message.ShouldBe(new DomainOperationStarted(
            create.OperationId, create.CommandId, create.CorrelationId, vmId, agent.Options.HostId, started.Message.StartedAt));
        started.CorrelationId.ShouldBe(create.CorrelationId);

        var f = finished.Message;
        (f.OperationId, f.CommandId, f.CorrelationId, f.VmId, f.HostId).ShouldBe(
            (create.OperationId, create.CommandId, create.CorrelationId, vmId, agent.Options.HostId));
        finished.CorrelationId.ShouldBe(create.CorrelationId);
        f.Succeeded.ShouldBeTrue();
        f.ObservedPowerState.ShouldBe(DomainPowerState.Running);
        f.ErrorCode.ShouldBeNull();
        f.ErrorMessage.ShouldBeNull();
        f.FinishedAt.ShouldBeGreaterThanOrEqualTo(started.Message.StartedAt);
        StateOf(agent.Libvirt, vmId)!.Value.State.ShouldBe(DomainState.Running);
    }

    [Fact]
    public async Task the_same_operation_sent_again_is_reported_finished_again_with_the_same_outcome_without_acting_twice()
    {
        var vmId = NewVm();
        var create = Command(DomainOperationKind.Create, vmId, InAMinute, desired: DomainPowerState.Running, hostId: agent.Options.HostId);
        await agent.SendAsync(create);
        var first = (await agent.Log.WaitForAsync<DomainOperationFinished>(f => f.OperationId == create.OperationId)).Single().Message;
        first.Succeeded.ShouldBeTrue();

        // Take the domain away by hand: running the create again would define (and start) it again.
        Remove(agent.Libvirt, vmId);
        await agent.SendAsync(create);

        var finished = await agent.Log.WaitForAsync<DomainOperationFinished>(f => f.OperationId == create.OperationId, count: 2);
        finished.Count.ShouldBe(2);
        var second = finished[1].Message;
        (second.Succeeded, second.ObservedPowerState, second.ErrorCode, second.ErrorMessage)
            .ShouldBe((first.Succeeded, first.ObservedPowerState, first.ErrorCode, first.ErrorMessage));
        (second.CommandId, second.CorrelationId).ShouldBe((create.CommandId, create.CorrelationId));
        finished[1].CorrelationId.ShouldBe(create.CorrelationId);
        // The observer consumes in the broker's order and Started is published before Finished, so a second
        // Started would already be in the log.
        agent.Log.Of<DomainOperationStarted>(s => s.OperationId == create.OperationId).Count.ShouldBe(1);
        StateOf(agent.Libvirt, vmId).ShouldBeNull("the domain must not have been defined a second time");
    }

    [Fact]
    public async Task a_reboot_sent_twice_reboots_once()
    {
        var vmId = NewVm();
        Arrange(agent.Libvirt, vmId, DomainPowerState.Running);
        var reboot = Command(DomainOperationKind.Reboot, vmId, InAMinute, hostId: agent.Options.HostId);
        await agent.SendAsync(reboot);
        await agent.Log.WaitForAsync<DomainOperationFinished>(f => f.OperationId == reboot.OperationId);
        StateOf(agent.Libvirt, vmId).ShouldBe(new DomainStateInfo(DomainState.Running, RunningBooted));

        // Pause and resume by hand (reason UNPAUSED): a second reboot would make it BOOTED again.
        using (var domain = agent.Libvirt.FindDomain(vmId)!)
        {
            domain.Suspend();
            domain.Resume();
        }

        await agent.SendAsync(reboot);
        await agent.Log.WaitForAsync<DomainOperationFinished>(f => f.OperationId == reboot.OperationId, count: 2);

        StateOf(agent.Libvirt, vmId).ShouldBe(new DomainStateInfo(DomainState.Running, RunningUnpaused));
        agent.Log.Of<DomainOperationStarted>(s => s.OperationId == reboot.OperationId).Count.ShouldBe(1);
    }

    [Fact]
    public async Task a_new_operation_on_the_same_vm_is_run_and_reported_on_its_own()
    {
        var vmId = NewVm();
        Arrange(agent.Libvirt, vmId, DomainPowerState.Running);
        var pause = Command(DomainOperationKind.Pause, vmId, InAMinute, hostId: agent.Options.HostId);
        await agent.SendAsync(pause);
        await agent.Log.WaitForAsync<DomainOperationFinished>(f => f.OperationId == pause.OperationId);

        var resume = Command(DomainOperationKind.Resume, vmId, InAMinute, hostId: agent.Options.HostId);
        await agent.SendAsync(resume);

        var finished = (await agent.Log.WaitForAsync<DomainOperationFinished>(f => f.OperationId == resume.OperationId)).ShouldHaveSingleItem();
        finished.Message.Succeeded.ShouldBeTrue();
        finished.Message.ObservedPowerState.ShouldBe(DomainPowerState.Running);
        agent.Log.Of<DomainOperationStarted>(s => s.OperationId == resume.OperationId).ShouldHaveSingleItem();
        StateOf(agent.Libvirt, vmId).ShouldBe(new DomainStateInfo(DomainState.Running, RunningUnpaused));
    }

    [Fact]
    public async Task a_failed_operation_is_reported_finished_with_its_error_code_and_message()
    {
        var vmId = NewVm();
        var start = Command(DomainOperationKind.Start, vmId, InAMinute, hostId: agent.Options.HostId);

        await agent.SendAsync(start);

        var finished = (await agent.Log.WaitForAsync<DomainOperationFinished>(f => f.OperationId == start.OperationId)).ShouldHaveSingleItem().Message;
        finished.Succeeded.ShouldBeFalse();
        finished.ErrorCode.ShouldBe("DOMAIN_NOT_FOUND");
        finished.ErrorMessage.ShouldNotBeNull().ShouldContain(DomainOperations.DomainName(vmId));
        finished.ObservedPowerState.ShouldBe(DomainPowerState.Unknown);
        agent.Log.Of<DomainOperationStarted>(s => s.OperationId == start.OperationId).ShouldHaveSingleItem();
    }

    [Fact]
    public async Task an_operation_the_agent_cannot_carry_out_is_still_reported_finished()
    {
        var vmId = NewVm();
        var create = Command(DomainOperationKind.Create, vmId, InAMinute, name: "web\uFFFE1", hostId: agent.Options.HostId);

        await agent.SendAsync(create);

        await agent.Log.WaitForAsync<DomainOperationStarted>(s => s.OperationId == create.OperationId);
        var finished = (await agent.Log.WaitForAsync<DomainOperationFinished>(
            f => f.OperationId == create.OperationId, timeout: TimeSpan.FromSeconds(10))).ShouldHaveSingleItem().Message;
        finished.Succeeded.ShouldBeFalse();
        finished.ErrorCode.ShouldNotBeNullOrEmpty();
    }

    private Guid NewVm()
    {
        var vmId = Guid.NewGuid();
        _vms.Add(vmId);
        return vmId;
    }
}
