using System.Net;
using System.Text.Json.Nodes;
using Quantixkvm.Testing;

namespace Quantixkvm.EndToEnd.Tests;

/// <summary>
/// The platform with real guests on overlay networks: an Open vSwitch + OVN stack of its own (<see cref="OvnStack"/>, in a
/// network namespace), and the whole "host" in that namespace with it: the session libvirtd (so its QEMU opens TAPs there)
/// and the agent's `ip` (Agent:Network:IpCommandPrefix). The agent plugs the NICs itself (PlugMode agent) with TAPs owned
/// by the daemon's user, which is what lets an unprivileged libvirt put guests on Open vSwitch. The agent process stays in
/// this machine's namespace: libvirt and OVSDB are unix sockets, which namespaces do not separate.
/// </summary>
public sealed class OverlayGuestPlatform : GuestPlatform
{
    public OvnStack Stack { get; private set; } = null!;

    public override async Task InitializeAsync()
    {
        Stack = await OvnStack.StartAsync();
        await base.InitializeAsync();
    }

    public override async Task DisposeAsync()
    {
        await base.DisposeAsync();
        if (Stack is not null)
        {
            await Stack.DisposeAsync();
        }
    }

    protected override Task<LibvirtDaemon> StartDaemonAsync() => LibvirtDaemon.StartAsync(networkNamespace: Stack.SwitchNamespace);

    protected override IEnumerable<KeyValuePair<string, string>> ControlPlaneSettings => NetworkSteps.FastReconciliation;

    protected override IEnumerable<KeyValuePair<string, string>> AgentSettings(LibvirtDaemon daemon) =>
    [
        .. base.AgentSettings(daemon),
        new("Agent__Network__OvsDb", Stack.OvsDb),
        new("Agent__Network__OvnNorthboundDb", Stack.NorthboundDb),
        new("Agent__Network__PlugMode", "agent"),
        new("Agent__Network__TapOwner", LibvirtDaemon.User),
        new("Agent__Network__IpCommandPrefix__0", "ip"),
        new("Agent__Network__IpCommandPrefix__1", "netns"),
        new("Agent__Network__IpCommandPrefix__2", "exec"),
        new("Agent__Network__IpCommandPrefix__3", Stack.SwitchNamespace),
    ];
}

/// <summary>
/// As a new user would, with a real (TCG) guest on an overlay network: OVN's own DHCP gives it exactly the address the
/// platform allocated, a neighbour pings it, and a NIC hot-plugged into the running guest gets its lease and leaves again.
/// </summary>
public sealed class OverlayGuestTests(OverlayGuestPlatform platform) : IClassFixture<OverlayGuestPlatform>
{
    private static readonly TimeSpan Boot = TimeSpan.FromSeconds(120);
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(60);

    private GraphQLClient App => platform.Api;

    private OvnStack Stack => platform.Stack;

    private sealed record Nic(string PortId, string Mac, IPAddress Address);

    [Fact]
    public async Task a_guest_gets_its_address_from_ovn_dhcp_answers_a_ping_and_a_nic_hot_plugged_into_it_comes_and_goes()
    {
        var networkId = await App.OverlayAsync("guest-net", "10.80.0.0/24");
        var otherNetworkId = await App.OverlayAsync("side-net", "10.81.0.0/24");
        var group = await App.GroupAsync("ping");
        await App.RuleAsync(group, new { direction = "INGRESS", protocol = "ICMP" });

        // A VM from the guest image, given a NIC while stopped; started, the agent plugs its TAP and the guest asks for a lease.
        var vmId = await GuestVmAsync("dhcp-guest");
        var eth0 = await AttachNicAsync(vmId, networkId, group);
        await platform.NetworkReadyAsync(networkId, Patience);
        await platform.VmOperationSucceededAsync("mutation($id: ID!) { startVm(id: $id) { operation { id } } }", new { id = vmId }, "startVm", Boot);

        var console = platform.ConsoleLogOf(vmId);
        var lease = await GuestImage.WaitForSerialLineAsync(
            console, l => l.StartsWith("QKVM-NET eth0 ", StringComparison.Ordinal), Boot, default);
        lease.ShouldBe($"QKVM-NET eth0 {eth0.Mac} {eth0.Address}/24", "OVN's DHCP gives the guest exactly the address the platform allocated");
        (await Stack.NbctlAsync("lsp-get-addresses", eth0.PortId)).Trim().ShouldBe($"{eth0.Mac} {eth0.Address}");

        // A neighbour on the network: a namespace plugged under the port of a second (stopped) VM's NIC.
        var neighbourVm = await App.DataAsync(
            "mutation($input: CreateVmInput!) { createVm(input: $input) { operation { id } vm { id nics { portId mac addresses } } } }",
            new { input = new { name = "neighbour", vcpus = 1, memoryMiB = 64, nics = new[] { new { networkId } } } });
        var created = neighbourVm["createVm"]!;
        (await platform.OperationEndedAsync(created["operation"]!["id"]!.GetValue<string>(), Patience))["status"]!.GetValue<string>().ShouldBe("SUCCEEDED");
        var neighbourNic = NicOf(created["vm"]!["nics"]!.AsArray().Single()!);
        await platform.NetworkReadyAsync(networkId, Patience);
        await using var neighbour = await Stack.CreateGuestAsync();
        await neighbour.ConfigureAsync(neighbourNic.Mac, neighbourNic.Address, 24, mtu: 1442);
        await Stack.PlugAsync(neighbour, neighbourNic.PortId);

        await Platform.WaitAsync(() => neighbour.PingAsync(eth0.Address), Patience, $"the guest at {eth0.Address} to answer a ping", platform.Agent);

        // A second NIC, hot-plugged into the running guest on another overlay network: the guest gets its lease too.
        var eth1 = await AttachNicAsync(vmId, otherNetworkId, group);
        var secondLease = await GuestImage.WaitForSerialLineAsync(console, l => l.StartsWith("QKVM-NET eth1 ", StringComparison.Ordinal), Boot, default);
        secondLease.ShouldBe($"QKVM-NET eth1 {eth1.Mac} {eth1.Address}/24");
        var tap = $"qkt{Guid.Parse(eth1.PortId):N}"[..15];
        (await Stack.VsctlAsync("get", "Interface", tap, "external_ids:iface-id")).Trim().Trim('"').ShouldBe(eth1.PortId);

        await platform.VmOperationSucceededAsync(
            "mutation($id: ID!, $portId: ID!) { detachNic(id: $id, portId: $portId) { operation { id } } }",
            new { id = vmId, portId = eth1.PortId }, "detachNic", Boot);

        await GuestImage.WaitForSerialLineAsync(console, l => l == "QKVM-NET-GONE eth1", Boot, default);
        await Platform.WaitAsync(async () => !(await Stack.NbctlAsync("lsp-list", $"qkvm-{otherNetworkId}")).Contains(eth1.PortId),
            Patience, "OVN to drop the detached NIC's port", platform.Agent);
        (await Stack.VsctlAsync("list-ports", OvnStack.IntegrationBridge)).ShouldNotContain(tap);
        (await LinkExistsAsync(tap)).ShouldBeFalse("the agent deletes the TAP of a detached NIC");
        (await neighbour.PingAsync(eth0.Address)).ShouldBeTrue("the first NIC is untouched");

        // Deleted, the VM's TAPs go with it.
        var eth0Tap = $"qkt{Guid.Parse(eth0.PortId):N}"[..15];
        (await LinkExistsAsync(eth0Tap)).ShouldBeTrue();
        await platform.VmOperationSucceededAsync("mutation($id: ID!) { stopVm(id: $id, force: true) { operation { id } } }", new { id = vmId }, "stopVm", Boot);
        await platform.VmOperationSucceededAsync("mutation($id: ID!) { deleteVm(id: $id) { operation { id } } }", new { id = vmId }, "deleteVm", Boot);
        (await LinkExistsAsync(eth0Tap)).ShouldBeFalse();
        (await Stack.VsctlAsync("list-ports", OvnStack.IntegrationBridge)).ShouldNotContain(eth0Tap);
    }

    /// <summary>A stopped VM made from the guest image (imported into a pool, a template).</summary>
    private async Task<string> GuestVmAsync(string name)
    {
        var (_, imageId) = await platform.ImportGuestImageAsync(Boot);
        var templateId = (await App.DataAsync(
            "mutation($input: CreateTemplateInput!) { createTemplate(input: $input) { id } }",
            new { input = new { name = "busybox-net", vcpus = 1, memoryMiB = 128, imageId } }))
            ["createTemplate"]!["id"]!.GetValue<string>();
        var created = (await App.DataAsync(
            "mutation($input: CreateVmFromTemplateInput!) { createVmFromTemplate(input: $input) { operation { id } vm { id } } }",
            new { input = new { templateId, name, start = false } }))["createVmFromTemplate"]!;
        (await platform.OperationEndedAsync(created["operation"]!["id"]!.GetValue<string>(), Boot))["status"]!.GetValue<string>().ShouldBe("SUCCEEDED");
        return created["vm"]!["id"]!.GetValue<string>();
    }

    /// <summary>Attaches a NIC on the network in the group; returns it as the read model shows it once attached.</summary>
    private async Task<Nic> AttachNicAsync(string vmId, string networkId, string groupId)
    {
        var before = (await VmNicsAsync(vmId)).Select(n => n!["portId"]!.GetValue<string>()).ToHashSet();
        await platform.VmOperationSucceededAsync(
            "mutation($id: ID!, $nic: NicInput!) { attachNic(id: $id, nic: $nic) { operation { id } } }",
            new { id = vmId, nic = new { networkId, securityGroupIds = new[] { groupId } } }, "attachNic", Boot);
        var added = (await VmNicsAsync(vmId)).Single(n => !before.Contains(n!["portId"]!.GetValue<string>()))!;
        added["state"]!.GetValue<string>().ShouldBe("ATTACHED");
        return NicOf(added);
    }

    private async Task<JsonArray> VmNicsAsync(string vmId) =>
        (await App.DataAsync("query($id: ID!) { vm(id: $id) { nics { portId mac addresses state } } }", new { id = vmId }))["vm"]!["nics"]!.AsArray();

    private static Nic NicOf(JsonNode nic) => new(
        nic["portId"]!.GetValue<string>(), nic["mac"]!.GetValue<string>(), IPAddress.Parse(nic["addresses"]!.AsArray().Single()!.GetValue<string>()));

    /// <summary>Whether a device of that name exists in the stack's namespace, where the agent makes the TAPs.</summary>
    private async Task<bool> LinkExistsAsync(string name) =>
        (await HostCommand.RunAsync("ip", ["-n", Stack.SwitchNamespace, "link", "show", "dev", name])).Succeeded;
}
