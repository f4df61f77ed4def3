using GraphQL;
using GraphQL.Types;
using Quantixkvm.ControlPlane.Commands;
using Quantixkvm.ControlPlane.ReadModels;
using Quantixkvm.Domain.Vms;

namespace Quantixkvm.ControlPlane.Api.GraphQL;

/// <summary>Named as libvirt names the models (the default naming would split E1000 into E_1000).</summary>
public sealed class NicModelType : EnumerationGraphType
{
    public NicModelType()
    {
        Name = "NicModel";
        Add("VIRTIO", NicModel.Virtio, "Paravirtual: the fastest; needs virtio drivers (every modern Linux has them).");
        Add("E1000", NicModel.E1000, "An emulated Intel e1000: for guests without virtio drivers.");
        Add("RTL8139", NicModel.Rtl8139, "An emulated Realtek 8139: for very old guests.");
    }
}

/// <summary>A NIC of a VM: its port on a network (MAC and addresses the network allocated) and where its attachment stands.</summary>
public sealed class VmNicType : ObjectGraphType<VmNicView>
{
    public VmNicType()
    {
        Name = "VmNic";
        Field<NonNullGraphType<IdGraphType>>("portId").Description("The NIC's port on its network (and, on overlay networks, its OVN logical switch port).")
            .Resolve(c => c.Source.Nic.PortId);
        Field<NonNullGraphType<IdGraphType>>("networkId").Resolve(c => c.Source.Nic.NetworkId);
        Field<NetworkType>("network").ResolveAsync(async c =>
            await c.RequestServices!.GetRequiredService<Marten.IQuerySession>().LoadAsync<NetworkView>(c.Source.Nic.NetworkId, c.CancellationToken));
        Field<NonNullGraphType<StringGraphType>>("mac").Resolve(c => c.Source.Nic.Mac);
        Field<NonNullGraphType<NicModelType>>("model").Resolve(c => c.Source.Nic.Model);
        Field<NonNullGraphType<ListGraphType<NonNullGraphType<StringGraphType>>>>("addresses").Description("Allocated by the network's IPAM, one per subnet.")
            .Resolve(c => c.Source.Nic.Addresses);
        Field<NonNullGraphType<BooleanGraphType>>("linkUp").Resolve(c => c.Source.Nic.LinkUp);
        Field<NonNullGraphType<AttachmentStateType>>("state").Resolve(c => c.Source.State);
    }
}

public sealed class NicInputType : InputObjectGraphType<NicRequest>
{
    public NicInputType()
    {
        Name = "NicInput";
        Field<NonNullGraphType<IdGraphType>>("networkId");
        Field<StringGraphType>("mac").Description("Default: generated (locally administered, unique in the network).");
        Field<ListGraphType<NonNullGraphType<StringGraphType>>>("fixedAddresses")
            .Description("Exactly these addresses, at most one per subnet; default: the first free address of each subnet.");
        Field<NicModelType>("model").Description("Default VIRTIO.");
        Field<ListGraphType<NonNullGraphType<IdGraphType>>>("securityGroupIds")
            .Description("Default none: inbound denied, outbound allowed (with replies).");
    }

    public override object ParseDictionary(IDictionary<string, object?> value) => new NicRequest(
        RequestContext.ParseId(value["networkId"]?.ToString(), "networkId"),
        value.Value("mac")?.ToString(),
        value.Value("fixedAddresses") is IEnumerable<object?> fixedAddresses ? [.. fixedAddresses.Select(a => a!.ToString()!)] : null,
        value.Value("model") is NicModel model ? model : NicModel.Virtio,
        value.Value("securityGroupIds") is IEnumerable<object?> groups ? [.. groups.Select(g => RequestContext.ParseId(g?.ToString(), "securityGroupIds"))] : null);
}

/// <summary>NIC hot-plug: operations on the VM, like disks.</summary>
internal static class NicFields
{
    public static void AddMutations(ObjectGraphType mutation)
    {
        mutation.Field<NonNullGraphType<OperationPayloadType>>("attachNic")
            .Description("Adds a NIC on a network: the network allocates its MAC and addresses; hot-plugged into a RUNNING VM, "
                + "and kept in its definition (a STOPPED VM's definition only).")
            .Argument<NonNullGraphType<IdGraphType>>("id")
            .Argument<NonNullGraphType<NicInputType>>("nic")
            .Argument<IntGraphType>("expectedVersion")
            .Argument<IdGraphType>("commandId")
            .ResolveAsync(async c =>
            {
                var vmId = RequestContext.ParseId(c.GetArgument<string>("id"), "id");
                var nic = c.GetArgument<NicRequest>("nic");
                var metadata = RequestContext.Metadata(c, c.GetArgument<string?>("commandId"));
                return await OperationPayloads.RunAsync(c, () => Nics(c).AttachNicAsync(vmId, nic, metadata, c.GetArgument<int?>("expectedVersion"), c.CancellationToken));
            });
        mutation.Field<NonNullGraphType<OperationPayloadType>>("detachNic")
            .Description("Removes a NIC (hot-unplug when RUNNING); its port and addresses are released once the VM no longer holds it.")
            .Argument<NonNullGraphType<IdGraphType>>("id")
            .Argument<NonNullGraphType<IdGraphType>>("portId")
            .Argument<IntGraphType>("expectedVersion")
            .Argument<IdGraphType>("commandId")
            .ResolveAsync(async c =>
            {
                var vmId = RequestContext.ParseId(c.GetArgument<string>("id"), "id");
                var portId = RequestContext.ParseId(c.GetArgument<string>("portId"), "portId");
                var metadata = RequestContext.Metadata(c, c.GetArgument<string?>("commandId"));
                return await OperationPayloads.RunAsync(c, () => Nics(c).DetachNicAsync(vmId, portId, metadata, c.GetArgument<int?>("expectedVersion"), c.CancellationToken));
            });
    }

    private static NicCommands Nics(IResolveFieldContext c) => c.RequestServices!.GetRequiredService<NicCommands>();
}
