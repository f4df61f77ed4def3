using Quantixkvm.Domain.Networks;

namespace Quantixkvm.Domain.Vms;

/// <summary>Rules for a VM's NICs: each plugs into its own port, with a MAC no other NIC of the VM has.</summary>
public static class VmNics
{
    /// <summary>One PCI slot each, beside the disks; more than any guest of this platform needs.</summary>
    public const int MaxNics = 8;

    /// <summary>
    /// The NIC in canonical form (MAC normalised) when it can join <paramref name="current"/>; else why not: Conflict when
    /// the VM already has its port or MAC, Validation for anything else.
    /// </summary>
    public static (VmNic? Nic, Rejection? Problem) Check(VmNic nic, IReadOnlyCollection<VmNic> current)
    {
        if (nic.PortId == Guid.Empty || nic.NetworkId == Guid.Empty)
        {
            return Invalid(nic.PortId == Guid.Empty ? "a NIC must name its port" : "a NIC must name its network");
        }

        if (!Enum.IsDefined(nic.Model))
        {
            return Invalid($"NIC model {nic.Model} is not one of {string.Join(", ", Enum.GetNames<NicModel>())}");
        }

        var (mac, macError) = MacAddress.Normalize(nic.Mac);
        if (mac is null)
        {
            return Invalid(macError!);
        }

        var addresses = new List<string>();
        foreach (var text in nic.Addresses ?? [])
        {
            var (address, error) = Cidr.ParseAddress("NIC address", text);
            if (address is null)
            {
                return Invalid(error!);
            }

            addresses.Add(address.ToString());
        }

        if (current.Any(n => n.PortId == nic.PortId))
        {
            return (null, new Rejection(RejectionCode.Conflict, $"port {nic.PortId} is already a NIC of the VM"));
        }

        if (current.FirstOrDefault(n => n.Mac == mac) is { } other)
        {
            return (null, new Rejection(RejectionCode.Conflict, $"MAC {mac} is already used by the VM's NIC on port {other.PortId}"));
        }

        return current.Count >= MaxNics
            ? Invalid($"a VM can have at most {MaxNics} NICs")
            : (nic with { Mac = mac, Addresses = addresses }, null);
    }

    private static (VmNic?, Rejection?) Invalid(string message) => (null, new Rejection(RejectionCode.Validation, message));
}
