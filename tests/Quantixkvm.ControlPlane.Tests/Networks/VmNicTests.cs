using System.Text.Json.Nodes;
using Microsoft.Extensions.DependencyInjection;
using Quantixkvm.ControlPlane.Commands;
using Quantixkvm.ControlPlane.ReadModels;
using Quantixkvm.ControlPlane.Tests.Support;
using Quantixkvm.Contracts;
using Quantixkvm.Domain.Networks;

namespace Quantixkvm.ControlPlane.Tests.Networks;

/// <summary>
/// VM NICs across the two aggregates (ADR 13): the network allocates the port (MAC, addresses), the VM takes the NIC as an
/// operation the host carries out, and a port no VM holds is released. Plus the desired state hosts are sent, and their reports.
/// </summary>
public sealed class VmNicTests(VmNicTests.Fixture fixture) : IClassFixture<VmNicTests.Fixture>
{
    public sealed class Fixture : ControlPlaneFixture
    {
        protected override IReadOnlyDictionary<string, string?> Settings => new Dictionary<string, string?>
        {
            ["ControlPlane:Networking:ReconcileSeconds"] = "0.5",
            ["ControlPlane:Networking:PortJanitorSeconds"] = "0.5",
            ["ControlPlane:Networking:PortGraceSeconds"] = "1",
        };
    }

    private const string NicFields = "portId networkId mac model addresses linkUp state";

    private ControlPlaneApp App => fixture.App;

    private FakeAgent Agent => fixture.Agent;

    [Fact]
    public async Task a_vm_created_with_a_nic_gets_a_port_with_the_first_free_address_and_its_create_tells_the_host_how_to_plug_it()
    {
        var networkId = await OverlayAsync("10.41.0.0/24");

        var created = await CreateVmAsync("web-nic", new { networkId }, cloudInit: new { hostname = "web-nic" });

        var nic = created.Arr("vm.nics").Single()!;
        nic.Str("networkId").ShouldBe(networkId.ToString());
        nic.Arr("addresses").Select(a => a!.GetValue<string>()).ShouldBe(["10.41.0.2"], "10.41.0.1 is the gateway");
        nic.Str("state").ShouldBe("ATTACHED");
        nic.Str("model").ShouldBe("VIRTIO");
        var network = await NetworkAsync(networkId);
        var port = network.Ports.ShouldHaveSingleItem();
        port.PortId.ToString().ShouldBe(nic.Str("portId"));
        port.Mac.ShouldBe(nic.Str("mac"));
        port.VmId.ToString().ShouldBe(created.Str("vm.id"));

        var message = await Agent.OperationAsync(Guid.Parse(created.Str("operation.id")));
        var wire = message.Nics.ShouldNotBeNull().ShouldHaveSingleItem();
        wire.NetworkKind.ShouldBe(NetworkKinds.Overlay);
        wire.BridgeName.ShouldBe(NetworkKinds.OvnIntegrationBridge);
        wire.InterfaceId.ShouldBe(port.PortId.ToString(), "ovn-controller binds the TAP whose iface-id is the logical port's name");
        wire.Mac.ShouldBe(port.Mac);
        wire.Mtu.ShouldBe(1442);
        var networkConfig = message.CloudInit.ShouldNotBeNull().NetworkConfig.ShouldNotBeNull();
        networkConfig.ShouldContain($"macaddress: \"{port.Mac}\"", customMessage: "cloud-init without a network-config gets one naming the NIC");
        networkConfig.ShouldContain("dhcp4: true", customMessage: "an overlay's IPv4 address comes from OVN's DHCP");
    }

    [Fact]
    public async Task attach_hot_plugs_a_nic_through_the_host_and_detach_releases_its_address_for_the_next_vm()
    {
        var networkId = await OverlayAsync("10.42.0.0/29");
        var created = await CreateVmAsync("hotplug", nics: null);
        var vmId = created.Str("vm.id");
        await Agent.FinishAsync(Guid.Parse(created.Str("operation.id")), succeeded: true, DomainPowerState.Running);
        await App.Api().OperationEndsAsync(created.Str("operation.id"), "SUCCEEDED");

        var attach = await App.Api().DataAsync(
            $"mutation($id: ID!, $nic: NicInput!) {{ attachNic(id: $id, nic: $nic) {{ operation {{ id kind }} vm {{ nics {{ {NicFields} }} }} }} }}",
            new { id = vmId, nic = new { networkId, fixedAddresses = new[] { "10.42.0.5" }, model = "E1000" } });
        attach.Str("attachNic.operation.kind").ShouldBe("ATTACH_NIC");
        var pending = attach["attachNic"]!.Arr("vm.nics").Single()!;
        pending.Str("state").ShouldBe("ATTACHING");
        pending.Arr("addresses").Select(a => a!.GetValue<string>()).ShouldBe(["10.42.0.5"]);

        var message = await Agent.FinishAsync(Guid.Parse(attach.Str("attachNic.operation.id")), succeeded: true, DomainPowerState.Running);
        message.Kind.ShouldBe(DomainOperationKind.AttachNic);
        message.Nic.ShouldNotBeNull().Model.ShouldBe("e1000");
        var portId = Guid.Parse(pending.Str("portId"));
        await Eventually.WaitAsync(async () => (await NicsAsync(vmId)).Single()!.Str("state") == "ATTACHED", "the NIC to be ATTACHED");

        // Taken: a second VM cannot have it.
        var other = await CreateVmAsync("second", nics: null);
        await Agent.FinishAsync(Guid.Parse(other.Str("operation.id")), succeeded: true, DomainPowerState.Stopped);
        await App.Api().OperationEndsAsync(other.Str("operation.id"), "SUCCEEDED");
        var (code, error) = await App.Api().ErrorAsync(
            "mutation($id: ID!, $nic: NicInput!) { attachNic(id: $id, nic: $nic) { operation { id } } }",
            new { id = other.Str("vm.id"), nic = new { networkId, fixedAddresses = new[] { "10.42.0.5" } } });
        code.ShouldBe("ALREADY_EXISTS", error.ToJsonString());
        error.Str("message").ShouldContain("10.42.0.5");
        (await NetworkAsync(networkId)).Ports.Count.ShouldBe(1, "nothing half-applied: the refused attach allocated no port");

        var detach = await App.Api().DataAsync(
            "mutation($id: ID!, $portId: ID!) { detachNic(id: $id, portId: $portId) { operation { id kind } } }", new { id = vmId, portId });
        var detached = await Agent.FinishAsync(Guid.Parse(detach.Str("detachNic.operation.id")), succeeded: true, DomainPowerState.Running);
        detached.Nic.ShouldNotBeNull().PortId.ShouldBe(portId);
        await Eventually.WaitAsync(async () => (await NetworkAsync(networkId)).Ports.Count == 0, "the detached NIC's port to be released");
        (await NicsAsync(vmId)).ShouldBeEmpty();

        var reused = await App.Api().DataAsync(
            "mutation($id: ID!, $nic: NicInput!) { attachNic(id: $id, nic: $nic) { vm { nics { addresses } } } }",
            new { id = other.Str("vm.id"), nic = new { networkId, fixedAddresses = new[] { "10.42.0.5" } } });
        reused["attachNic"]!.Arr("vm.nics").Single()!.Arr("addresses").Select(a => a!.GetValue<string>()).ShouldBe(["10.42.0.5"]);
    }

    [Fact]
    public async Task a_failed_hot_plug_leaves_the_vm_without_the_nic_and_its_port_is_released()
    {
        var networkId = await OverlayAsync("10.43.0.0/24");
        var created = await CreateVmAsync("failing-plug", nics: null);
        var vmId = created.Str("vm.id");
        await Agent.FinishAsync(Guid.Parse(created.Str("operation.id")), succeeded: true, DomainPowerState.Running);
        await App.Api().OperationEndsAsync(created.Str("operation.id"), "SUCCEEDED");

        var attach = await App.Api().DataAsync(
            "mutation($id: ID!, $nic: NicInput!) { attachNic(id: $id, nic: $nic) { operation { id } } }", new { id = vmId, nic = new { networkId } });
        await Agent.FinishAsync(Guid.Parse(attach.Str("attachNic.operation.id")), succeeded: false, DomainPowerState.Running);

        await Eventually.WaitAsync(async () => (await NicsAsync(vmId)).Count == 0, "the failed NIC to be gone from the VM");
        await Eventually.WaitAsync(async () => (await NetworkAsync(networkId)).Ports.Count == 0, "the failed NIC's port to be released");
        (await App.Events.StreamAsync(networkId)).Select(e => e.Type).ShouldContain("network.port-removed.v1");
    }

    [Fact]
    public async Task a_ports_security_groups_are_replaced_and_a_group_in_use_cannot_be_deleted()
    {
        var networkId = await OverlayAsync("10.46.0.0/24");
        var web = (await App.Api().CreateGroupAsync(NetworkApi.Unique("web"))).Text("securityGroup.id");
        var ssh = (await App.Api().CreateGroupAsync(NetworkApi.Unique("ssh"))).Text("securityGroup.id");
        var created = await CreateVmAsync("grouped", new { networkId, securityGroupIds = new[] { web } });
        var portId = created.Arr("vm.nics").Single()!.Str("portId");
        (await NetworkAsync(networkId)).Ports.Single().SecurityGroupIds.ShouldBe([Guid.Parse(web)]);

        var (code, message) = await App.Api().RefusalAsync(
            "mutation($id: ID!) { deleteSecurityGroup(id: $id) { version } }", new { id = web });
        code.ShouldBe("INVALID_STATE");
        message.ShouldContain("1 port");

        await App.Api().DataAsync(
            "mutation($networkId: ID!, $portId: ID!, $groups: [ID!]!) { setPortSecurityGroups(networkId: $networkId, portId: $portId, securityGroupIds: $groups) { version } }",
            new { networkId, portId, groups = new[] { ssh } });
        var port = (await NetworkAsync(networkId)).Ports.Single();
        port.SecurityGroupIds.ShouldBe([Guid.Parse(ssh)]);
        await App.Api().DataAsync("mutation($id: ID!) { deleteSecurityGroup(id: $id) { version } }", new { id = web });
        (await App.Api().GroupAsync(web)).ShouldBeNull("a group no port uses can be deleted");
    }

    [Fact]
    public async Task concurrent_attaches_never_give_two_vms_one_address()
    {
        var networkId = await OverlayAsync("10.44.0.0/28");
        var vms = new List<string>();
        for (var i = 0; i < 6; i++)
        {
            var created = await CreateVmAsync($"racer-{i}", nics: null);
            await Agent.FinishAsync(Guid.Parse(created.Str("operation.id")), succeeded: true, DomainPowerState.Stopped);
            await App.Api().OperationEndsAsync(created.Str("operation.id"), "SUCCEEDED");
            vms.Add(created.Str("vm.id"));
        }

        await Task.WhenAll(vms.Select(vmId => App.Api().DataAsync(
            "mutation($id: ID!, $nic: NicInput!) { attachNic(id: $id, nic: $nic) { operation { id } } }", new { id = vmId, nic = new { networkId } })));

        var ports = (await NetworkAsync(networkId)).Ports;
        ports.Count.ShouldBe(6);
        ports.SelectMany(p => p.Addresses).Select(a => a.Address).Distinct().Count().ShouldBe(6);
        ports.Select(p => p.Mac).Distinct().Count().ShouldBe(6);
    }

    [Fact]
    public async Task every_online_host_is_sent_the_networks_and_its_reports_show_per_host_what_it_holds()
    {
        var networkId = await OverlayAsync("10.45.0.0/24");

        var sent = await Eventually.WaitAsync(
            () => Task.FromResult(Agent.NetworkStates.LastOrDefault(s => s.Networks.Any(n => n.NetworkId == networkId))),
            s => s is not null, "the host to be sent the new network");
        var spec = sent!.Networks.Single(n => n.NetworkId == networkId);
        spec.Kind.ShouldBe(NetworkKinds.Overlay);
        spec.Subnets.ShouldHaveSingleItem().Cidr.ShouldBe("10.45.0.0/24");
        sent.Northbound.ShouldBeNull("no host has said it can write OVN's northbound database");

        await App.Consumed.WaitAsync(await Agent.ReportNetworksAsync(sent.Revision,
            [new NetworkRealization(networkId, spec.Generation, false, "br-int is missing", null)], canWriteNorthbound: true));
        var failed = await NetworkAsync(networkId);
        failed.Hosts.ShouldHaveSingleItem().Error.ShouldBe("br-int is missing");

        // Now that the host can write the northbound database, it is sent that part too.
        var withNorthbound = await Eventually.WaitAsync(
            () => Task.FromResult(Agent.NetworkStates.LastOrDefault(s => s.Northbound is not null)), s => s is not null, "the northbound state");
        withNorthbound!.Northbound!.OverlayNetworks.Select(n => n.NetworkId).ShouldContain(networkId);

        await App.Consumed.WaitAsync(await Agent.ReportNetworksAsync(withNorthbound.Revision,
            [new NetworkRealization(networkId, spec.Generation, true, null, "br-int present")], canWriteNorthbound: true));
        var realized = (await NetworkAsync(networkId)).Hosts.ShouldHaveSingleItem();
        realized.Error.ShouldBeNull();
        realized.Generation.ShouldBe(spec.Generation);
        var events = await App.Events.StreamAsync(networkId);

        await App.Consumed.WaitAsync(await Agent.ReportNetworksAsync(withNorthbound.Revision + 1,
            [new NetworkRealization(networkId, spec.Generation, true, null, "br-int present")], canWriteNorthbound: true));
        (await App.Events.StreamAsync(networkId)).Count.ShouldBe(events.Count, "a report that repeats what is recorded appends nothing");
    }

    private async Task<Guid> OverlayAsync(string cidr)
    {
        var name = $"net-{Guid.NewGuid():N}"[..20];
        return await App.InScopeAsync(async services =>
        {
            var networks = services.GetRequiredService<NetworkCommands>();
            var created = await networks.CreateNetworkAsync(new CreateNetworkRequest(name, NetworkKind.Overlay), Metadata(), CancellationToken.None);
            await networks.AddSubnetAsync(created.StreamId, new AddSubnetRequest(cidr), Metadata(), null, CancellationToken.None);
            return created.StreamId;
        });
    }

    private static CommandMetadata Metadata() => new(Guid.NewGuid().ToString(), "test", Guid.NewGuid().ToString());

    private async Task<JsonNode> CreateVmAsync(string name, object? nic = null, object[]? nics = null, object? cloudInit = null)
    {
        var data = await App.Api().DataAsync(
            $"mutation($input: CreateVmInput!) {{ createVm(input: $input) {{ operation {{ id }} vm {{ id nics {{ {NicFields} }} }} }} }}",
            new { input = new { name, vcpus = 1, memoryMiB = 64, nics = nics ?? (nic is null ? null : new[] { nic }), cloudInit } });
        return data["createVm"]!;
    }

    private async Task<JsonArray> NicsAsync(string vmId) =>
        (await App.Api().DataAsync($"query($id: ID!) {{ vm(id: $id) {{ nics {{ {NicFields} }} }} }}", new { id = vmId }))["vm"]!.Arr("nics");

    private Task<NetworkView> NetworkAsync(Guid networkId) =>
        App.InScopeAsync(async services => (await services.GetRequiredService<Marten.IQuerySession>().LoadAsync<NetworkView>(networkId))!);
}
