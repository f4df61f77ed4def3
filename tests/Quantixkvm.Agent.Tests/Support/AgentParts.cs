using Quantixkvm.Agent;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using Quantixkvm.Agent.Hypervisor;
using Quantixkvm.Agent.Storage;
using Quantixkvm.Contracts;
using Quantixkvm.Network.Linux;

namespace Quantixkvm.Agent.Tests.Support;

/// <summary>The agent's operation classes put together as Program.cs does, for tests that call them directly.</summary>
public static class AgentParts
{
    public static DomainOperations Domains(HypervisorConnection hypervisor, TimeProvider clock, AgentOptions? options = null, MigrationJobs? migrations = null)
    {
        var wrapped = Options.Create(options ?? new AgentOptions());
        return new DomainOperations(
            hypervisor, clock, new StoragePools(hypervisor, wrapped), new CloudInitSeeds(wrapped), wrapped, migrations ?? new MigrationJobs(),
            new DomainNics(wrapped, new IpLink(wrapped.Value.Network.IpCommandPrefix)));
    }

    public static StorageOperations StorageOps(HypervisorConnection hypervisor, TimeProvider clock, AgentOptions? options = null, HttpClient? http = null)
    {
        var wrapped = Options.Create(options ?? new AgentOptions());
        return new StorageOperations(new StoragePools(hypervisor, wrapped), new VolumeImporter(wrapped, http ?? new HttpClient()), new RbdTool(wrapped), clock);
    }

    /// <summary>Registers what the consumers need, as the agent composes them, on the hypervisor at <paramref name="libvirtUri"/>.</summary>
    public static void AddOperations(IServiceCollection services, string libvirtUri, AgentOptions options)
    {
        options.LibvirtUri = libvirtUri;
        services.AddSingleton(Options.Create(options));
        services.AddAgentHost();
    }

    /// <summary>A pool as the control plane names it.</summary>
    public static StoragePoolSpecification DirPool(string path, Guid? poolId = null)
    {
        var id = poolId ?? Guid.NewGuid();
        return new StoragePoolSpecification(id, StoragePoolSpecification.LibvirtNameFor(id), "dir", path, null, null, null);
    }

    /// <summary>An RBD pool as the control plane names it.</summary>
    public static StoragePoolSpecification RbdPool(string cephPool, IReadOnlyList<string> monitors, string cephUser, Guid? poolId = null)
    {
        var id = poolId ?? Guid.NewGuid();
        return new StoragePoolSpecification(id, StoragePoolSpecification.LibvirtNameFor(id), "rbd", null, cephPool, monitors, cephUser);
    }

    public static RunStorageOperation StorageCommand(
        StorageOperationKind kind, StoragePoolSpecification pool, DateTimeOffset deadline, VolumeSpecification? volume = null,
        string? snapshotName = null, long? sizeBytes = null) =>
        new(
            OperationId: Guid.NewGuid(),
            CommandId: "cmd-" + Guid.NewGuid().ToString("N")[..8],
            CorrelationId: Guid.NewGuid(),
            HostId: Guid.NewGuid(),
            TargetId: volume?.VolumeId ?? pool.PoolId,
            Kind: kind,
            Pool: pool,
            Volume: volume,
            SnapshotName: snapshotName,
            SizeBytes: sizeBytes,
            Deadline: deadline);
}
