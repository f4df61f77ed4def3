namespace Quantixkvm.Domain.Vms;

/// <summary>What a host's inventory says that the records do not: the VMs whose observed state differs.</summary>
public static class InventoryDrift
{
    public const string Source = "inventory";
    public const string MissingSource = "inventory: domain missing on host";

    /// <summary>
    /// For every VM recorded on the host, the state the host reports for it; a VM the host does not
    /// list at all is UNKNOWN there. Only differences are returned.
    /// </summary>
    public static IReadOnlyList<(Guid VmId, PowerState Observed, string Source)> Find(
        IEnumerable<(Guid VmId, PowerState Recorded)> placedOnHost, IReadOnlyDictionary<Guid, PowerState> reported) =>
        placedOnHost
            .Select(vm => reported.TryGetValue(vm.VmId, out var seen)
                ? (vm.VmId, Observed: seen, Source, vm.Recorded)
                : (vm.VmId, Observed: PowerState.Unknown, Source: MissingSource, vm.Recorded))
            .Where(d => d.Observed != d.Recorded)
            .Select(d => (d.VmId, d.Observed, d.Source))
            .ToList();
}
