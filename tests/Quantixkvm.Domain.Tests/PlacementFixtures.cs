using Quantixkvm.Domain.Hosts;
using Quantixkvm.Domain.Placement;

namespace Quantixkvm.Domain.Tests;

/// <summary>Hosts, VMs and rules by name, for the placement and DRS tests.</summary>
internal static class Fleet
{
    public static readonly Guid ClusterA = DeterministicId.From("test-cluster", "a");
    public static readonly Guid ClusterB = DeterministicId.From("test-cluster", "b");

    /// <summary>The VM being placed, unless a test says otherwise.</summary>
    public static readonly Guid NewVm = Vm("new-vm");

    public static Guid HostIdOf(string name) => HostDecider.HostIdFor(name);

    public static Guid Vm(string name) => DeterministicId.From("test-vm", name);

    public static HostCandidate Host(
        string name,
        HostAvailability availability = HostAvailability.Online,
        Guid? cluster = null,
        int cpus = 32,
        long memoryMiB = 65_536,
        int allocatedVcpus = 0,
        long allocatedMemoryMiB = 0,
        double cpuOvercommit = 1.0,
        double memoryOvercommit = 1.0,
        string cpuModel = "EPYC-Milan",
        string[]? features = null,
        Dictionary<string, string>? labels = null,
        Guid[]? vms = null) =>
        new(
            HostIdOf(name), name, availability, cluster ?? ClusterA,
            cpus, memoryMiB, allocatedVcpus, allocatedMemoryMiB,
            cpuOvercommit, memoryOvercommit,
            cpuModel, new HashSet<string>(features ?? ["sse4_2", "avx", "avx2"]),
            labels ?? [],
            new HashSet<Guid>(vms ?? []));

    public static PlacementRequest Request(
        int vcpus = 2,
        int memoryMiB = 4096,
        string? on = null,
        PlacementStrategy strategy = PlacementStrategy.Spread,
        params AffinityRule[] rules) =>
        new(NewVm, vcpus, memoryMiB, RequestedHostId: on is null ? null : HostIdOf(on), Strategy: strategy, Rules: rules);

    public static AffinityRule Rule(string name, AffinityKind kind, RuleEnforcement enforcement, Guid[] vms, string[]? hosts = null) =>
        new(DeterministicId.From("test-rule", name), name, kind, enforcement, vms, (hosts ?? []).Select(HostIdOf).ToArray());
}
