using System.Xml.Linq;
using Microsoft.Extensions.Options;
using Quantixkvm.Agent.Storage;
using Quantixkvm.Contracts;
using Quantixkvm.Libvirt;
using Quantixkvm.Network;
using Quantixkvm.Network.Linux;
using Quantixkvm.Network.Ovs;
using Quantixkvm.Network.Ovsdb;

namespace Quantixkvm.Agent.Hypervisor;

/// <summary>The values of <see cref="NetworkOptions.PlugMode"/>.</summary>
public static class NicPlugModes
{
    /// <summary>libvirt makes each NIC's TAP and plugs it into its bridge (as root, for Open vSwitch).</summary>
    public const string Libvirt = "libvirt";

    /// <summary>The agent makes each NIC's TAP, owned by QEMU's user, and plugs it; libvirt only hands it to QEMU (as os-vif does).</summary>
    public const string Agent = "agent";
}

/// <summary>
/// A VM's NICs as libvirt interfaces, and who plugs them into their networks (<see cref="NetworkOptions.PlugMode"/>).
/// In libvirt mode libvirt makes the TAP and plugs it: Linux bridge networks into their bridge, OVS networks into their
/// bridge with the network's VLAN as the port's tag, overlay networks into OVN's integration bridge with the port's id as
/// iface-id, which ovn-controller binds. In agent mode the agent does the same itself: a TAP per NIC named after its port
/// (<see cref="TapName"/>), owned by <see cref="NetworkOptions.TapOwner"/> and marked with the VM's id (ifalias
/// <c>qkvm-vm:ID</c>), enslaved to the Linux bridge or added to the OVS bridge (iface-id, attached-mac, vm-id), and
/// libvirt gets <c>&lt;interface type='ethernet'&gt;</c> on that TAP, which an unprivileged QEMU can open. TAPs are plugged
/// when QEMU is about to open them (a create of a running VM, a start, a live attach) and stay until the NIC is detached,
/// the VM deleted or migrated away. Every step finds what is already there, so a redelivered operation changes nothing.
/// </summary>
public sealed class DomainNics(IOptions<AgentOptions> options, IpLink ip)
{
    /// <summary>The start of every TAP the agent makes (<see cref="TapName"/>).</summary>
    public const string TapPrefix = "qkt";

    /// <summary>The ifalias of a VM's TAPs, followed by the VM's id: how a VM's TAPs are found when its domain is gone.</summary>
    public const string VmAliasPrefix = "qkvm-vm:";

    private NetworkOptions Settings => options.Value.Network;

    /// <summary>Whether this agent plugs NICs itself (<see cref="NicPlugModes.Agent"/>).</summary>
    /// <exception cref="OperationFailure">INVALID_SPEC: the setting is neither mode.</exception>
    public bool AgentPlugs => Settings.PlugMode switch
    {
        NicPlugModes.Agent => true,
        NicPlugModes.Libvirt or null or "" => false,
        var other => throw new OperationFailure(
            "NIC_PLUG_FAILED", $"Agent:Network:PlugMode is '{other}'; it must be '{NicPlugModes.Libvirt}' or '{NicPlugModes.Agent}'"),
    };

    /// <summary>The TAP of a port in agent mode: "qkt" and the first 12 hex digits of the port's id (15 characters, IFNAMSIZ).</summary>
    public static string TapName(Guid portId) => TapPrefix + portId.ToString("N")[..12];

    /// <summary>The ifalias that marks a TAP as one of the VM's.</summary>
    public static string VmAlias(Guid vmId) => VmAliasPrefix + vmId.ToString("D");

    /// <summary>How libvirt plugs the NIC itself (libvirt mode), by network kind.</summary>
    /// <exception cref="OperationFailure">INVALID_SPEC: a network kind this agent does not know.</exception>
    public static NicSpec LibvirtSpecOf(NicAttachment nic) => nic.NetworkKind switch
    {
        NetworkKinds.Bridge => new NicSpec(nic.Mac, nic.BridgeName, NicBridgeType.Linux, nic.Model, Mtu: nic.Mtu, LinkUp: nic.LinkUp),
        NetworkKinds.Ovs => new NicSpec(nic.Mac, nic.BridgeName, NicBridgeType.OpenVSwitch, nic.Model, nic.Vlan, nic.PortId, nic.Mtu, nic.LinkUp),
        NetworkKinds.Overlay => new NicSpec(
            nic.Mac, NetworkKinds.OvnIntegrationBridge, NicBridgeType.OpenVSwitch, nic.Model, OvsInterfaceId: nic.PortId, Mtu: nic.Mtu, LinkUp: nic.LinkUp),
        _ => throw UnknownKind(nic),
    };

    /// <summary>The NIC as libvirt gets it in this agent's mode: plugged by libvirt, or on the TAP the agent plugged.</summary>
    public NicSpec SpecOf(NicAttachment nic)
    {
        if (!AgentPlugs)
        {
            return LibvirtSpecOf(nic);
        }

        _ = BridgeOf(nic);
        return NicSpec.ExistingTap(nic.Mac, TapName(nic.PortId), nic.Model, nic.Mtu, nic.LinkUp);
    }

    public static bool Holds(LibvirtDomain domain, NicAttachment nic) =>
        domain.ListInterfaces(inactive: true).Any(i => string.Equals(i.Mac, nic.Mac, StringComparison.OrdinalIgnoreCase));

    /// <summary>
    /// Plugs the NIC into the running domain (live hot-plug) and its definition; already there with that MAC is success.
    /// A stopped domain is redefined with the NIC added: every driver can do that, while some (the test driver) cannot
    /// attach a device to a definition. In agent mode the TAP of a live attach is plugged first, and unplugged again when
    /// libvirt refuses; a stopped domain's TAPs are plugged when it starts.
    /// </summary>
    public async Task AttachAsync(LibvirtConnection connection, LibvirtDomain domain, Guid vmId, NicAttachment nic, bool live, CancellationToken cancellationToken)
    {
        if (live)
        {
            await PlugAsync(vmId, nic, cancellationToken);
        }

        if (Holds(domain, nic))
        {
            return;
        }

        try
        {
            if (live)
            {
                domain.AttachInterface(SpecOf(nic), live: true, config: true);
                return;
            }

            var definition = XDocument.Parse(domain.GetXml(inactive: true));
            var devices = definition.Root?.Element("devices") ?? throw new OperationFailure("INVALID_SPEC", "the domain's definition has no devices");
            devices.Add(XElement.Parse(DomainXml.Interface(SpecOf(nic))));
            connection.DefineDomain(definition.ToString()).Dispose();
        }
        catch (Exception) when (live && AgentPlugs)
        {
            await UnplugAsync(nic, CancellationToken.None);
            throw;
        }
    }

    /// <summary>
    /// Unplugs the NIC (found by its MAC) from the running domain and its definition; a NIC not there is success. In agent
    /// mode its TAP is then unplugged and deleted, once the guest released the device (or <paramref name="releaseWait"/> passed).
    /// </summary>
    public async Task DetachAsync(
        LibvirtConnection connection, LibvirtDomain domain, NicAttachment nic, bool live, TimeSpan releaseWait, CancellationToken cancellationToken)
    {
        if (Holds(domain, nic))
        {
            if (live)
            {
                domain.DetachInterface(nic.Mac, live: true, config: true);
            }
            else
            {
                var definition = XDocument.Parse(domain.GetXml(inactive: true));
                definition.Root?.Element("devices")?.Elements("interface")
                    .Where(i => string.Equals((string?)i.Element("mac")?.Attribute("address"), nic.Mac, StringComparison.OrdinalIgnoreCase))
                    .Remove();
                connection.DefineDomain(definition.ToString()).Dispose();
            }
        }

        if (!AgentPlugs)
        {
            return;
        }

        // The guest releases a hot-unplugged device on its own time (ACPI); its TAP goes after that, not under QEMU's feet.
        var waited = System.Diagnostics.Stopwatch.StartNew();
        while (live && waited.Elapsed < releaseWait
            && domain.ListInterfaces().Any(i => string.Equals(i.Mac, nic.Mac, StringComparison.OrdinalIgnoreCase)))
        {
            await Task.Delay(TimeSpan.FromMilliseconds(200), cancellationToken);
        }

        await UnplugAsync(nic, cancellationToken);
    }

    /// <summary>In agent mode, plugs each of the VM's NICs (before its domain starts); nothing in libvirt mode.</summary>
    public async Task PlugAllAsync(Guid vmId, IReadOnlyList<NicAttachment>? nics, CancellationToken cancellationToken)
    {
        foreach (var nic in nics ?? [])
        {
            await PlugAsync(vmId, nic, cancellationToken);
        }
    }

    /// <summary>
    /// In agent mode: the NIC's TAP (owned by <see cref="NetworkOptions.TapOwner"/>, with the network's MTU, marked as the
    /// VM's), on its bridge: enslaved to a Linux bridge, or a port of the OVS bridge (br-int for overlays) with iface-id,
    /// attached-mac and vm-id. Nothing in libvirt mode.
    /// </summary>
    /// <exception cref="OperationFailure">NIC_PLUG_FAILED: a setting is missing, or `ip` or OVSDB refused.</exception>
    public async Task PlugAsync(Guid vmId, NicAttachment nic, CancellationToken cancellationToken)
    {
        if (!AgentPlugs)
        {
            return;
        }

        var bridge = BridgeOf(nic);
        var tap = TapName(nic.PortId);
        var owner = Settings.TapOwner is { Length: > 0 } user
            ? user
            : throw new OperationFailure("NIC_PLUG_FAILED", "Agent:Network:TapOwner is not set: in plug mode 'agent' the TAPs belong to the user QEMU runs as");
        await PluggingAsync(tap, async () =>
        {
            await ip.EnsureTapAsync(tap, owner, nic.Mtu, VmAlias(vmId), cancellationToken);
            if (nic.NetworkKind == NetworkKinds.Bridge)
            {
                await ip.EnsureMasterAsync(tap, bridge, cancellationToken);
                return;
            }

            await using var client = await OvsAsync(cancellationToken);
            await new OvsSwitch(client).EnsurePortAsync(
                new OvsPortSpec(bridge, tap, OvsInterfaceType.System, nic.NetworkKind == NetworkKinds.Ovs ? nic.Vlan : null, InterfaceExternalIds: new Dictionary<string, string>
                {
                    ["iface-id"] = nic.InterfaceId ?? NicAttachment.InterfaceIdFor(nic.PortId),
                    ["attached-mac"] = nic.Mac.ToLowerInvariant(),
                    ["vm-id"] = vmId.ToString("D"),
                    ["iface-status"] = "active",
                }),
                cancellationToken);
        });
    }

    /// <summary>In agent mode, takes the NIC's TAP off its OVS bridge (if on one) and deletes it; nothing when it is gone already.</summary>
    public async Task UnplugAsync(NicAttachment nic, CancellationToken cancellationToken)
    {
        if (AgentPlugs)
        {
            await UnplugTapAsync(TapName(nic.PortId), nic.NetworkKind != NetworkKinds.Bridge, cancellationToken);
        }
    }

    /// <summary>
    /// In agent mode, unplugs and deletes every TAP marked as the VM's (<see cref="VmAlias"/>): after the domain was
    /// deleted, or migrated away. Nothing in libvirt mode.
    /// </summary>
    public async Task UnplugVmAsync(Guid vmId, CancellationToken cancellationToken)
    {
        if (!AgentPlugs)
        {
            return;
        }

        var alias = VmAlias(vmId);
        IReadOnlyList<LinkInfo> taps = [];
        await PluggingAsync(alias, async () => taps = [.. (await ip.ListAsync(cancellationToken)).Where(l => l.Alias == alias && l.TunType == "tap")]);
        foreach (var tap in taps)
        {
            await UnplugTapAsync(tap.Name, fromOvs: Settings.OvsDb is not null, cancellationToken);
        }
    }

    private async Task UnplugTapAsync(string tap, bool fromOvs, CancellationToken cancellationToken) =>
        await PluggingAsync(tap, async () =>
        {
            if (fromOvs)
            {
                await using var client = await OvsAsync(cancellationToken);
                await new OvsSwitch(client).RemovePortFromAnyBridgeAsync(tap, cancellationToken);
            }

            await ip.DeleteAsync(tap, cancellationToken);
        });

    /// <summary>The bridge the NIC's TAP goes on: the network's own, or OVN's integration bridge.</summary>
    private static string BridgeOf(NicAttachment nic) => nic.NetworkKind switch
    {
        NetworkKinds.Bridge or NetworkKinds.Ovs => nic.BridgeName,
        NetworkKinds.Overlay => NetworkKinds.OvnIntegrationBridge,
        _ => throw UnknownKind(nic),
    };

    private async Task<OvsdbClient> OvsAsync(CancellationToken cancellationToken) =>
        await OvsdbClient.ConnectAsync(
            Settings.OvsDb ?? throw new OperationFailure("NIC_PLUG_FAILED", "Agent:Network:OvsDb is not set: this host cannot plug NICs into Open vSwitch"),
            cancellationToken);

    /// <summary>What `ip` or OVSDB refused, as the operation's failure naming the TAP.</summary>
    private static async Task PluggingAsync(string tap, Func<Task> step)
    {
        try
        {
            await step();
        }
        catch (Exception ex) when (ex is IpCommandException or LinkConflictException or OvsdbException or NetworkObjectMissingException
            or IOException or System.Net.Sockets.SocketException or System.ComponentModel.Win32Exception)
        {
            throw new OperationFailure("NIC_PLUG_FAILED", $"plugging {tap}: {ex.Message}");
        }
    }

    private static OperationFailure UnknownKind(NicAttachment nic) =>
        new("INVALID_SPEC", $"NIC {nic.Mac} is on a network of kind '{nic.NetworkKind}', which this agent does not know");
}
