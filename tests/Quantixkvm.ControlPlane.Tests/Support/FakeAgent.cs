using System.Collections.Concurrent;
using System.Threading.Channels;
using MassTransit;
using Quantixkvm.Contracts;
using Quantixkvm.Hosting;
using Quantixkvm.Testing;

namespace Quantixkvm.ControlPlane.Tests.Support;

/// <summary>
/// The test plays a host's node agent over the real broker: registers, sends heartbeats, reads its
/// own host queue and reports outcomes, exactly with the contract messages the real agent uses.
/// </summary>
public sealed class FakeAgent : IAsyncDisposable
{
    private readonly IBusControl _bus;
    private readonly Channel<RunDomainOperation> _inbox = Channel.CreateUnbounded<RunDomainOperation>();
    private readonly ConcurrentQueue<RunDomainOperation> _received = new();
    private readonly ConcurrentQueue<RunStorageOperation> _storageReceived = new();
    private readonly List<(Func<RunStorageOperation, bool> Match, Func<RunStorageOperation, StorageAnswer?> Answer)> _storageRules = [];
    private readonly ConcurrentQueue<ReleaseDomains> _releases = new();
    private readonly ConcurrentQueue<CancelDomainOperation> _cancels = new();
    private readonly ConcurrentQueue<FenceHost> _fences = new();
    private readonly ConcurrentQueue<RealizeNetworks> _networks = new();
    private CancellationTokenSource? _heartbeats;
    private Task? _heartbeatLoop;

    private FakeAgent(Guid hostId, string name, string virtualHost)
    {
        HostId = hostId;
        Name = name;
        _bus = MassTransit.Bus.Factory.CreateUsingRabbitMq(rabbitmq =>
        {
            rabbitmq.UseQuantixkvmBroker(BrokerOptions(virtualHost));
            rabbitmq.ReceiveEndpoint(AgentQueues.ForHost(hostId), e =>
            {
                // As the real agent: only the control plane sends here, by queue name.
                e.ConfigureConsumeTopology = false;
                e.Handler<RunDomainOperation>(async context =>
                {
                    _received.Enqueue(context.Message);
                    await _inbox.Writer.WriteAsync(context.Message);
                    if (AutoAnswer?.Invoke(context.Message) is { } answer)
                    {
                        await ReportStartedAsync(context.Message);
                        await ReportFinishedAsync(context.Message, answer.Succeeded, answer.Observed, answer.ErrorCode, answer.ErrorMessage);
                    }
                });
                e.Handler<ReleaseDomains>(context =>
                {
                    _releases.Enqueue(context.Message);
                    return Task.CompletedTask;
                });
                e.Handler<CancelDomainOperation>(context =>
                {
                    _cancels.Enqueue(context.Message);
                    return Task.CompletedTask;
                });
                e.Handler<FenceHost>(async context =>
                {
                    _fences.Enqueue(context.Message);
                    if (AnswersFence)
                    {
                        await context.Publish(new HostFencedBySelf(HostId, context.Message.FenceId, FencedVmIds, DateTimeOffset.UtcNow));
                    }
                });
                e.Handler<RealizeNetworks>(context =>
                {
                    _networks.Enqueue(context.Message);
                    return Task.CompletedTask;
                });
                e.Handler<RunStorageOperation>(async context =>
                {
                    _storageReceived.Enqueue(context.Message);
                    if (StorageAnswerFor(context.Message) is { } answer)
                    {
                        await ReportStorageStartedAsync(context.Message);
                        await ReportStorageFinishedAsync(context.Message, answer);
                    }
                });
            });
        });
    }

    public Guid HostId { get; }

    public string Name { get; }

    /// <summary>What the agent registers beyond its size: live-migration support, CPU features, and how peers reach it.</summary>
    public bool? LiveMigration { get; set; }

    public IReadOnlyList<string>? CpuFeatures { get; set; }

    public string LibvirtUri { get; set; } = "test:///default";

    public string? MigrateAddress { get; set; }

    public string? PeerLibvirtUri { get; set; }

    /// <summary>
    /// When set, domain operations it answers (non-null) are reported started and finished as soon as they arrive; they
    /// still show in <see cref="Received"/> and <see cref="NextOperationAsync(Func{RunDomainOperation, bool}?, TimeSpan?)"/>.
    /// </summary>
    public Func<RunDomainOperation, DomainAnswer?>? AutoAnswer { get; set; }

    /// <summary>Whether the agent obeys <see cref="FenceHost"/> with <see cref="HostFencedBySelf"/> (naming <see cref="FencedVmIds"/>).</summary>
    public bool AnswersFence { get; set; }

    public IReadOnlyList<Guid> FencedVmIds { get; set; } = [];

    /// <summary>Every ReleaseDomains the host queue has delivered so far.</summary>
    public IReadOnlyList<ReleaseDomains> Releases => [.. _releases];

    /// <summary>Every CancelDomainOperation the host queue has delivered so far.</summary>
    public IReadOnlyList<CancelDomainOperation> Cancels => [.. _cancels];

    /// <summary>Every FenceHost the host queue has delivered so far.</summary>
    public IReadOnlyList<FenceHost> Fences => [.. _fences];

    /// <summary>The desired network states the control plane sent this host, oldest first.</summary>
    public IReadOnlyList<RealizeNetworks> NetworkStates => [.. _networks];

    /// <summary>What a real agent reports after applying a desired network state.</summary>
    public async Task<Guid> ReportNetworksAsync(long revision, IReadOnlyList<NetworkRealization> networks, bool canWriteNorthbound = false)
    {
        var messageId = NewId.NextGuid();
        await _bus.Publish(new NetworksRealized(HostId, revision, networks, DateTimeOffset.UtcNow, canWriteNorthbound), c => c.MessageId = messageId);
        return messageId;
    }

    /// <summary>Every operation message the host queue has delivered so far, duplicates included.</summary>
    public IReadOnlyList<RunDomainOperation> Received => [.. _received];

    public IBus Bus => _bus;

    /// <summary>Every storage operation message the host queue has delivered so far, duplicates included.</summary>
    public IReadOnlyList<RunStorageOperation> StorageReceived => [.. _storageReceived];

    /// <summary>What the agent reports for a pool it creates or refreshes (unless a rule says otherwise).</summary>
    public long PoolCapacityBytes { get; set; } = 500L << 30;

    public long PoolAllocationBytes { get; set; } = 20L << 30;

    public long PoolAvailableBytes { get; set; } = 480L << 30;

    /// <summary>The size the agent reports for an imported image (its volume asks for none).</summary>
    public long ImportedImageBytes { get; set; } = 2L << 30;

    public static RabbitMqOptions BrokerOptions(string virtualHost) => new()
    {
        Host = TestServices.RabbitHost,
        Port = ushort.Parse(TestServices.RabbitPort, System.Globalization.CultureInfo.InvariantCulture),
        Username = TestServices.RabbitUser,
        Password = TestServices.RabbitPassword,
        VirtualHost = virtualHost,
    };

    /// <summary>Connects to the vhost and starts reading the host queue (nothing is published yet).</summary>
    public static async Task<FakeAgent> ConnectAsync(string virtualHost, string? name = null, Guid? hostId = null)
    {
        var agent = new FakeAgent(hostId ?? Guid.NewGuid(), name ?? TestServices.UniqueName("host"), virtualHost);
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        await agent._bus.StartAsync(cts.Token);
        return agent;
    }

    /// <summary>Registers, starts heartbeats, and waits until the control plane shows the host ONLINE.</summary>
    public static async Task<FakeAgent> StartOnlineAsync(ControlPlaneApp app, int cpus = 64, long memoryMiB = 1024 * 1024, Action<FakeAgent>? configure = null)
    {
        var agent = await ConnectAsync(app.VirtualHost);
        configure?.Invoke(agent);
        await agent.RegisterAsync(cpus, memoryMiB);
        agent.StartHeartbeats(TimeSpan.FromMilliseconds(250));
        await agent.WaitUntilAsync(app, "ONLINE");
        return agent;
    }

    public async Task<Guid> RegisterAsync(int cpus = 64, long memoryMiB = 1024 * 1024)
    {
        var messageId = NewId.NextGuid();
        await _bus.Publish(
            new HostRegistration(HostId, Name, cpus, memoryMiB, "test-cpu", LibvirtUri, "test-agent", DateTimeOffset.UtcNow,
                CpuFeatures, LiveMigration, MigrateAddress, PeerLibvirtUri),
            c => c.MessageId = messageId);
        return messageId;
    }

    public async Task<Guid> HeartbeatAsync()
    {
        var messageId = NewId.NextGuid();
        await _bus.Publish(new HostHeartbeat(HostId, Name, 0, DateTimeOffset.UtcNow), c => c.MessageId = messageId);
        return messageId;
    }

    public void StartHeartbeats(TimeSpan interval)
    {
        _heartbeats = new CancellationTokenSource();
        var token = _heartbeats.Token;
        _heartbeatLoop = Task.Run(async () =>
        {
            while (!token.IsCancellationRequested)
            {
                try
                {
                    await HeartbeatAsync();
                    await Task.Delay(interval, token);
                }
                catch (OperationCanceledException)
                {
                    return;
                }
            }
        });
    }

    public async Task StopHeartbeatsAsync()
    {
        if (_heartbeats is null)
        {
            return;
        }

        await _heartbeats.CancelAsync();
        await _heartbeatLoop!;
        _heartbeats.Dispose();
        _heartbeats = null;
    }

    public Task WaitUntilAsync(ControlPlaneApp app, string state, TimeSpan? timeout = null) =>
        Eventually.WaitAsync(
            async () => (await app.Api().DataAsync("query($id: ID!) { host(id: $id) { state } }", new { id = HostId.ToString() }))["host"],
            host => host?["state"]?.GetValue<string>() == state,
            $"host {Name} to be {state}", timeout);

    /// <summary>The next operation message for this host that matches, skipping others.</summary>
    public async Task<RunDomainOperation> NextOperationAsync(Func<RunDomainOperation, bool>? match = null, TimeSpan? timeout = null)
    {
        var limit = timeout ?? Eventually.DefaultTimeout;
        using var cts = new CancellationTokenSource(limit);
        try
        {
            while (true)
            {
                var message = await _inbox.Reader.ReadAsync(cts.Token);
                if (match is null || match(message))
                {
                    return message;
                }
            }
        }
        catch (OperationCanceledException)
        {
            throw new TimeoutException($"no matching RunDomainOperation on {AgentQueues.ForHost(HostId)} within {limit}; received: "
                + string.Join(", ", Received.Select(r => $"{r.Kind} {r.OperationId}")));
        }
    }

    public Task<RunDomainOperation> NextOperationAsync(Guid operationId, TimeSpan? timeout = null) =>
        NextOperationAsync(m => m.OperationId == operationId, timeout);

    public async Task<Guid> ReportStartedAsync(RunDomainOperation operation)
    {
        var messageId = NewId.NextGuid();
        await _bus.Publish(
            new DomainOperationStarted(operation.OperationId, operation.CommandId, operation.CorrelationId, operation.Domain.VmId, HostId, DateTimeOffset.UtcNow),
            c =>
            {
                c.MessageId = messageId;
                c.CorrelationId = operation.CorrelationId;
            });
        return messageId;
    }

    public async Task<Guid> ReportFinishedAsync(
        RunDomainOperation operation, bool succeeded, DomainPowerState observed, string? errorCode = null, string? errorMessage = null)
    {
        var messageId = NewId.NextGuid();
        await _bus.Publish(
            new DomainOperationFinished(
                operation.OperationId, operation.CommandId, operation.CorrelationId, operation.Domain.VmId, HostId, succeeded, observed,
                errorCode, errorMessage, DateTimeOffset.UtcNow),
            c =>
            {
                c.MessageId = messageId;
                c.CorrelationId = operation.CorrelationId;
            });
        return messageId;
    }

    /// <summary>A live migration's job figures, as the source host's agent reports them while it copies memory.</summary>
    public async Task<Guid> ReportProgressAsync(RunDomainOperation operation, long totalBytes, long processedBytes, double elapsedSeconds)
    {
        var messageId = NewId.NextGuid();
        await _bus.Publish(
            new DomainOperationProgress(operation.OperationId, operation.Domain.VmId, HostId, totalBytes, processedBytes, totalBytes - processedBytes,
                elapsedSeconds, DateTimeOffset.UtcNow),
            c =>
            {
                c.MessageId = messageId;
                c.CorrelationId = operation.CorrelationId;
            });
        return messageId;
    }

    public Task<Guid> ReportInventoryAsync(params InventoryDomain[] domains) => ReportInventoryAsync(domains, pools: null);

    public async Task<Guid> ReportInventoryAsync(IReadOnlyList<InventoryDomain> domains, IReadOnlyList<InventoryPool>? pools)
    {
        var messageId = NewId.NextGuid();
        await _bus.Publish(new HostInventory(HostId, domains, DateTimeOffset.UtcNow, pools), c => c.MessageId = messageId);
        return messageId;
    }

    /// <summary>
    /// How the agent answers storage operations that match: the answer it reports (started, then finished), or
    /// null to answer nothing (the test reports by hand, or lets the deadline pass). Later rules win; operations
    /// no rule matches succeed with <see cref="DefaultAnswer"/>.
    /// </summary>
    public void OnStorage(Func<RunStorageOperation, bool> match, Func<RunStorageOperation, StorageAnswer?> answer)
    {
        lock (_storageRules)
        {
            _storageRules.Add((match, answer));
        }
    }

    /// <summary>A libvirt-like success: the pool's figures, or the volume's size (as asked, resized to, or imported), allocation and path.</summary>
    public StorageAnswer DefaultAnswer(RunStorageOperation m)
    {
        var pool = m.Pool;
        switch (m.Kind)
        {
            case StorageOperationKind.CreatePool or StorageOperationKind.RefreshPool:
                return new StorageAnswer(CapacityBytes: PoolCapacityBytes, AllocationBytes: PoolAllocationBytes, AvailableBytes: PoolAvailableBytes, Path: pool.Path);
            case StorageOperationKind.DeletePool or StorageOperationKind.DeleteVolume:
                return new StorageAnswer();
            default:
                var volume = m.Volume!;
                var capacity = m.Kind == StorageOperationKind.ResizeVolume ? m.SizeBytes!.Value
                    : volume.ImportUrl is not null && volume.SizeBytes == 0 ? ImportedImageBytes
                    : volume.SizeBytes;
                var path = pool.Kind == "rbd" ? $"{pool.CephPool}/{volume.Name}" : $"{pool.Path}/{volume.Name}";
                return new StorageAnswer(CapacityBytes: capacity, AllocationBytes: Math.Min(capacity, 196_608), Path: path);
        }
    }

    /// <summary>The storage operation message with this id, once the host queue has delivered it (it stays in <see cref="StorageReceived"/>).</summary>
    public async Task<RunStorageOperation> StorageOperationAsync(Guid operationId, TimeSpan? timeout = null) =>
        (await Eventually.WaitAsync(
            () => Task.FromResult(_storageReceived.FirstOrDefault(m => m.OperationId == operationId)),
            m => m is not null, $"RunStorageOperation {operationId} on {AgentQueues.ForHost(HostId)}", timeout))!;

    /// <summary>The operation message with this id, once delivered; unlike <see cref="NextOperationAsync(Guid, TimeSpan?)"/> it skips nothing.</summary>
    public async Task<RunDomainOperation> OperationAsync(Guid operationId, TimeSpan? timeout = null) =>
        (await Eventually.WaitAsync(
            () => Task.FromResult(_received.FirstOrDefault(m => m.OperationId == operationId)),
            m => m is not null, $"RunDomainOperation {operationId} on {AgentQueues.ForHost(HostId)}", timeout))!;

    /// <summary>Waits for the operation message, reports it finished as asked, and returns it.</summary>
    public async Task<RunDomainOperation> FinishAsync(
        Guid operationId, bool succeeded, DomainPowerState observed, string? errorCode = null, string? errorMessage = null)
    {
        var message = await OperationAsync(operationId);
        await ReportFinishedAsync(message, succeeded, observed, errorCode, errorMessage);
        return message;
    }

    public async Task<Guid> ReportStorageStartedAsync(RunStorageOperation operation)
    {
        var messageId = NewId.NextGuid();
        await _bus.Publish(
            new StorageOperationStarted(operation.OperationId, operation.CommandId, operation.CorrelationId, operation.TargetId, HostId, DateTimeOffset.UtcNow),
            c =>
            {
                c.MessageId = messageId;
                c.CorrelationId = operation.CorrelationId;
            });
        return messageId;
    }

    public async Task<Guid> ReportStorageFinishedAsync(RunStorageOperation operation, StorageAnswer answer)
    {
        var messageId = NewId.NextGuid();
        await _bus.Publish(
            new StorageOperationFinished(
                operation.OperationId, operation.CommandId, operation.CorrelationId, operation.TargetId, HostId, answer.Succeeded,
                answer.ErrorCode, answer.ErrorMessage, answer.CapacityBytes, answer.AllocationBytes, answer.AvailableBytes, answer.Path,
                DateTimeOffset.UtcNow),
            c =>
            {
                c.MessageId = messageId;
                c.CorrelationId = operation.CorrelationId;
            });
        return messageId;
    }

    private StorageAnswer? StorageAnswerFor(RunStorageOperation message)
    {
        lock (_storageRules)
        {
            for (var i = _storageRules.Count - 1; i >= 0; i--)
            {
                if (_storageRules[i].Match(message))
                {
                    return _storageRules[i].Answer(message);
                }
            }
        }

        return DefaultAnswer(message);
    }

    public async ValueTask DisposeAsync()
    {
        await StopHeartbeatsAsync();
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        await _bus.StopAsync(cts.Token);
    }
}

/// <summary>What a fake agent reports for a domain operation it answers on its own.</summary>
public sealed record DomainAnswer(bool Succeeded, DomainPowerState Observed, string? ErrorCode = null, string? ErrorMessage = null)
{
    public static DomainAnswer Ok(DomainPowerState observed) => new(true, observed);

    /// <summary>Success with the power state the operation asked for (a libvirt-like outcome).</summary>
    public static DomainAnswer AsAsked(RunDomainOperation m) => new(true, m.Kind == DomainOperationKind.Delete ? DomainPowerState.Stopped : m.DesiredPowerState);
}

/// <summary>
/// What a fake agent reports for a storage operation: success (with libvirt's figures, as far as given) or the
/// error code and message of a failure.
/// </summary>
public sealed record StorageAnswer(
    bool Succeeded = true, string? ErrorCode = null, string? ErrorMessage = null, long? CapacityBytes = null, long? AllocationBytes = null,
    long? AvailableBytes = null, string? Path = null)
{
    public static StorageAnswer Failure(string code, string message) => new(false, code, message);
}
