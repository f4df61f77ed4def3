namespace Quantixkvm.Libvirt;

/// <summary>The host's capacity as libvirt's <c>virNodeGetInfo</c> reports it.</summary>
/// <param name="CpuModel">CPU model string (at most 31 characters, e.g. <c>x86_64</c>).</param>
/// <param name="MemoryKiB">Memory size in KiB.</param>
/// <param name="Cpus">Number of active CPUs.</param>
/// <param name="MhZ">Expected CPU frequency in MHz; 0 when unknown.</param>
/// <param name="NumaNodes">Number of NUMA cells (1 for uniform memory access or unusual topologies).</param>
/// <param name="Sockets">CPU sockets per NUMA node.</param>
/// <param name="Cores">Cores per socket.</param>
/// <param name="Threads">Threads per core.</param>
public sealed record NodeInfo(
    string CpuModel,
    long MemoryKiB,
    int Cpus,
    int MhZ,
    int NumaNodes,
    int Sockets,
    int Cores,
    int Threads);
