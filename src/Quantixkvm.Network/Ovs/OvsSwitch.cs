using System.Text.Json.Nodes;
using Quantixkvm.Domain.Networks;
using Quantixkvm.Network.Ovsdb;

namespace Quantixkvm.Network.Ovs;

/// <summary>How OVS realises a port's interface.</summary>
public enum OvsInterfaceType
{
    /// <summary>An existing network device (a VM's tap, a veth, an uplink NIC): OVS type "".</summary>
    System,

    /// <summary>A device OVS creates itself (a TAP with the netdev datapath): OVS type "internal".</summary>
    Internal,
}

/// <summary>A bridge to ensure: netdev datapath (no kernel datapath here); <paramref name="Mtu"/> is its local interface's mtu_request.</summary>
public sealed record OvsBridgeSpec(string Name, int? Mtu = null, IReadOnlyDictionary<string, string>? ExternalIds = null);

/// <summary>
/// A port to ensure on <paramref name="Bridge"/>, with one interface of the same name. <paramref name="VlanTag"/> makes
/// it an access port of that VLAN. <paramref name="InterfaceExternalIds"/> (e.g. iface-id, attached-mac) are merged
/// into the interface's external_ids: keys others set (libvirt does) stay.
/// </summary>
public sealed record OvsPortSpec(
    string Bridge,
    string Name,
    OvsInterfaceType Type = OvsInterfaceType.System,
    int? VlanTag = null,
    int? Mtu = null,
    IReadOnlyDictionary<string, string>? InterfaceExternalIds = null);

public sealed record OvsPort(
    Guid Uuid,
    string Name,
    string InterfaceType,
    int? VlanTag,
    int? MtuRequest,
    bool IsManaged,
    IReadOnlyDictionary<string, string> ExternalIds,
    IReadOnlyDictionary<string, string> InterfaceExternalIds);

public sealed record OvsBridge(
    Guid Uuid,
    string Name,
    string DatapathType,
    int? Mtu,
    bool IsManaged,
    IReadOnlyDictionary<string, string> ExternalIds,
    IReadOnlyList<OvsPort> Ports);

/// <summary>
/// Bridges and ports in an Open_vSwitch database, written directly over OVSDB (what ovs-vsctl does, without a
/// process per change). Every "Ensure" reads, decides the difference and writes only that — nothing when the switch
/// already matches, so running it twice changes nothing — and returns whether it changed something. Bridges and
/// ports it creates carry external_ids:qkvm-managed=true. OVSDB deletes unreferenced Bridge, Port and Interface rows
/// at commit, so a bridge is always added to the Open_vSwitch row's "bridges" and a port to its bridge's "ports".
/// </summary>
public sealed class OvsSwitch(OvsdbClient client)
{
    public const string Database = "Open_vSwitch";
    public const string ManagedKey = "qkvm-managed";
    public const string ManagedValue = "true";
    public const string DatapathType = "netdev";

    private static readonly OvsdbCondition Managed = OvsdbCondition.HasKey("external_ids", ManagedKey, ManagedValue);

    /// <summary>Creates the bridge (with its local internal port) or brings it to the spec; true when something changed.</summary>
    public Task<bool> EnsureBridgeAsync(OvsBridgeSpec spec, CancellationToken cancellationToken = default)
    {
        CheckName("bridge name", spec.Name);
        CheckMtu(spec.Mtu);
        return OvsdbRetry.OnConflictAsync(() => EnsureBridgeOnceAsync(spec, cancellationToken));
    }

    /// <summary>Creates the port on the bridge (moving it from another bridge if need be) or brings it to the spec.</summary>
    public Task<bool> EnsurePortAsync(OvsPortSpec spec, CancellationToken cancellationToken = default)
    {
        CheckName("bridge name", spec.Bridge);
        CheckName("port name", spec.Name);
        CheckMtu(spec.Mtu);
        if (spec.VlanTag is { } tag && NetworkLimits.CheckVlan(tag) is { } vlanError)
        {
            throw new ArgumentException(vlanError, nameof(spec));
        }

        return OvsdbRetry.OnConflictAsync(() => EnsurePortOnceAsync(spec, cancellationToken));
    }

    /// <summary>Takes the port off the bridge (OVSDB then drops the Port and Interface rows); false when it was not there.</summary>
    public async Task<bool> RemovePortAsync(string bridge, string port, CancellationToken cancellationToken = default)
    {
        CheckName("bridge name", bridge);
        CheckName("port name", port);
        var read = await client.TransactAsync(Database, [ByName("Bridge", bridge, "_uuid", "ports"), ByName("Port", port, "_uuid")], cancellationToken);
        if (read[0].Rows is not [var bridgeRow] || read[1].Rows is not [var portRow] || !bridgeRow.UuidSet("ports").Contains(portRow.Uuid))
        {
            return false;
        }

        await client.TransactAsync(
            Database,
            [OvsdbOperation.Mutate("Bridge", [OvsdbCondition.IsRow(bridgeRow.Uuid)], [OvsdbMutation.Delete("ports", OvsdbValue.UuidSet([portRow.Uuid]))])],
            cancellationToken);
        return true;
    }

    /// <summary>Takes the port off whichever bridge holds it (OVSDB then drops its rows); false when there is no such port.</summary>
    public async Task<bool> RemovePortFromAnyBridgeAsync(string port, CancellationToken cancellationToken = default)
    {
        CheckName("port name", port);
        var read = await client.TransactAsync(Database, [ByName("Port", port, "_uuid")], cancellationToken);
        if (read[0].Rows is not [var portRow])
        {
            return false;
        }

        var ports = OvsdbValue.UuidSet([portRow.Uuid]);
        await client.TransactAsync(
            Database, [OvsdbOperation.Mutate("Bridge", [OvsdbCondition.Includes("ports", ports)], [OvsdbMutation.Delete("ports", ports)])], cancellationToken);
        return true;
    }

    /// <summary>Sets (or, with a null value, removes) keys of an interface's external_ids; other keys stay. True when something changed.</summary>
    public async Task<bool> SetInterfaceExternalIdsAsync(
        string interfaceName, IReadOnlyDictionary<string, string?> externalIds, CancellationToken cancellationToken = default)
    {
        CheckName("interface name", interfaceName);
        var row = await ReadInterfaceAsync(interfaceName, cancellationToken) ?? throw new NetworkObjectMissingException("interface", interfaceName);
        var mutations = OvsdbMaps.Merge("external_ids", row.StringMap("external_ids"), externalIds);
        if (mutations.Count == 0)
        {
            return false;
        }

        await client.TransactAsync(Database, [OvsdbOperation.Mutate("Interface", [OvsdbCondition.IsRow(row.Uuid)], mutations)], cancellationToken);
        return true;
    }

    /// <summary>The interface's external_ids, or null when there is no such interface.</summary>
    public async Task<IReadOnlyDictionary<string, string>?> GetInterfaceExternalIdsAsync(string interfaceName, CancellationToken cancellationToken = default)
    {
        CheckName("interface name", interfaceName);
        return (await ReadInterfaceAsync(interfaceName, cancellationToken))?.StringMap("external_ids");
    }

    /// <summary>The bridges marked qkvm-managed, each with all its ports (<see cref="OvsPort.IsManaged"/> tells ours).</summary>
    public async Task<IReadOnlyList<OvsBridge>> ListManagedBridgesAsync(CancellationToken cancellationToken = default) =>
        await ReadBridgesAsync([Managed], cancellationToken);

    /// <summary>One bridge with its ports, managed or not; null when absent.</summary>
    public async Task<OvsBridge?> GetBridgeAsync(string name, CancellationToken cancellationToken = default)
    {
        CheckName("bridge name", name);
        return (await ReadBridgesAsync([OvsdbCondition.Equal("name", name)], cancellationToken)).SingleOrDefault();
    }

    /// <summary>Deletes the bridge with all its ports and interfaces; false when there was no such bridge.</summary>
    public async Task<bool> DeleteBridgeAsync(string name, CancellationToken cancellationToken = default)
    {
        CheckName("bridge name", name);
        var read = await client.TransactAsync(Database, [ByName("Bridge", name, "_uuid")], cancellationToken);
        if (read[0].Rows is not [var bridge])
        {
            return false;
        }

        await client.TransactAsync(
            Database,
            [
                OvsdbOperation.Mutate("Open_vSwitch", [], [OvsdbMutation.Delete("bridges", OvsdbValue.UuidSet([bridge.Uuid]))]),
                OvsdbOperation.Delete("Bridge", [OvsdbCondition.IsRow(bridge.Uuid)]),
            ],
            cancellationToken);
        return true;
    }

    private async Task<bool> EnsureBridgeOnceAsync(OvsBridgeSpec spec, CancellationToken cancellationToken)
    {
        var read = await client.TransactAsync(
            Database,
            [
                OvsdbOperation.Select("Open_vSwitch", [], ["_uuid", "bridges"]),
                ByName("Bridge", spec.Name, "_uuid", "datapath_type", "external_ids"),
                ByName("Interface", spec.Name, "_uuid", "type", "mtu_request"),
            ],
            cancellationToken);
        var root = read[0].Rows!.SingleOrDefault();
        var externalIds = WithMarker(spec.ExternalIds);
        var ops = new List<OvsdbOperation>();

        if (read[1].Rows is not [var bridge])
        {
            ops.Add(OvsdbOperation.WaitAbsent("Bridge", [OvsdbCondition.Equal("name", spec.Name)]));
            ops.Add(OvsdbOperation.Insert("Interface", new JsonObject
            {
                ["name"] = spec.Name,
                ["type"] = "internal",
                ["mtu_request"] = OvsdbValue.Optional(spec.Mtu),
            }, "iface"));
            ops.Add(OvsdbOperation.Insert("Port", new JsonObject
            {
                ["name"] = spec.Name,
                ["interfaces"] = OvsdbValue.Set([OvsdbValue.NamedUuid("iface")]),
                ["external_ids"] = OvsdbMaps.ToMap(new Dictionary<string, string> { [ManagedKey] = ManagedValue }),
            }, "port"));
            ops.Add(OvsdbOperation.Insert("Bridge", new JsonObject
            {
                ["name"] = spec.Name,
                ["datapath_type"] = DatapathType,
                ["ports"] = OvsdbValue.Set([OvsdbValue.NamedUuid("port")]),
                ["external_ids"] = OvsdbValue.Map(externalIds),
            }, "bridge"));
            ops.AddRange(AddToRoot(root, OvsdbValue.NamedUuid("bridge")));
            await client.TransactAsync(Database, ops, cancellationToken);
            return true;
        }

        if (bridge.String("datapath_type") != DatapathType)
        {
            ops.Add(OvsdbOperation.Update("Bridge", [OvsdbCondition.IsRow(bridge.Uuid)], new JsonObject { ["datapath_type"] = DatapathType }));
        }

        var idChanges = OvsdbMaps.Merge("external_ids", bridge.StringMap("external_ids"), OvsdbMaps.Wanted(externalIds));
        if (idChanges.Count > 0)
        {
            ops.Add(OvsdbOperation.Mutate("Bridge", [OvsdbCondition.IsRow(bridge.Uuid)], idChanges));
        }

        if (read[2].Rows is [var local] && local.OptionalInteger("mtu_request") != spec.Mtu)
        {
            ops.Add(OvsdbOperation.Update("Interface", [OvsdbCondition.IsRow(local.Uuid)], new JsonObject { ["mtu_request"] = OvsdbValue.Optional(spec.Mtu) }));
        }

        if (root is null || !root.UuidSet("bridges").Contains(bridge.Uuid))
        {
            ops.AddRange(AddToRoot(root, OvsdbValue.Uuid(bridge.Uuid)));
        }

        if (ops.Count == 0)
        {
            return false;
        }

        await client.TransactAsync(Database, ops, cancellationToken);
        return true;
    }

    private async Task<bool> EnsurePortOnceAsync(OvsPortSpec spec, CancellationToken cancellationToken)
    {
        var read = await client.TransactAsync(
            Database,
            [
                ByName("Bridge", spec.Bridge, "_uuid", "ports"),
                ByName("Port", spec.Name, "_uuid", "tag", "external_ids", "interfaces"),
                ByName("Interface", spec.Name, "_uuid", "type", "mtu_request", "external_ids"),
            ],
            cancellationToken);
        var bridge = read[0].Rows is [var b] ? b : throw new NetworkObjectMissingException("bridge", spec.Bridge);
        var type = spec.Type == OvsInterfaceType.Internal ? "internal" : "";
        var ops = new List<OvsdbOperation>();

        if (read[1].Rows is not [var port])
        {
            ops.Add(OvsdbOperation.WaitAbsent("Port", [OvsdbCondition.Equal("name", spec.Name)]));
            ops.Add(OvsdbOperation.Insert("Interface", new JsonObject
            {
                ["name"] = spec.Name,
                ["type"] = type,
                ["mtu_request"] = OvsdbValue.Optional(spec.Mtu),
                ["external_ids"] = OvsdbMaps.ToMap(spec.InterfaceExternalIds),
            }, "iface"));
            ops.Add(OvsdbOperation.Insert("Port", new JsonObject
            {
                ["name"] = spec.Name,
                ["interfaces"] = OvsdbValue.Set([OvsdbValue.NamedUuid("iface")]),
                ["tag"] = OvsdbValue.Optional(spec.VlanTag),
                ["external_ids"] = OvsdbValue.Map(WithMarker(null)),
            }, "port"));
            ops.Add(OvsdbOperation.Mutate("Bridge", [OvsdbCondition.IsRow(bridge.Uuid)], [OvsdbMutation.Insert("ports", OvsdbValue.Set([OvsdbValue.NamedUuid("port")]))]));
            await client.TransactAsync(Database, ops, cancellationToken);
            return true;
        }

        if (!bridge.UuidSet("ports").Contains(port.Uuid))
        {
            // On another bridge: move it, in one transaction so it is never dropped in between.
            ops.Add(OvsdbOperation.Mutate(
                "Bridge", [OvsdbCondition.Includes("ports", OvsdbValue.UuidSet([port.Uuid]))], [OvsdbMutation.Delete("ports", OvsdbValue.UuidSet([port.Uuid]))]));
            ops.Add(OvsdbOperation.Mutate("Bridge", [OvsdbCondition.IsRow(bridge.Uuid)], [OvsdbMutation.Insert("ports", OvsdbValue.UuidSet([port.Uuid]))]));
        }

        if (port.OptionalInteger("tag") != spec.VlanTag)
        {
            ops.Add(OvsdbOperation.Update("Port", [OvsdbCondition.IsRow(port.Uuid)], new JsonObject { ["tag"] = OvsdbValue.Optional(spec.VlanTag) }));
        }

        var portIds = OvsdbMaps.Merge("external_ids", port.StringMap("external_ids"), OvsdbMaps.Wanted(WithMarker(null)));
        if (portIds.Count > 0)
        {
            ops.Add(OvsdbOperation.Mutate("Port", [OvsdbCondition.IsRow(port.Uuid)], portIds));
        }

        if (read[2].Rows is [var iface] && port.UuidSet("interfaces").Contains(iface.Uuid))
        {
            var changes = new JsonObject();
            if (iface.String("type") != type)
            {
                changes["type"] = type;
            }

            if (iface.OptionalInteger("mtu_request") != spec.Mtu)
            {
                changes["mtu_request"] = OvsdbValue.Optional(spec.Mtu);
            }

            if (changes.Count > 0)
            {
                ops.Add(OvsdbOperation.Update("Interface", [OvsdbCondition.IsRow(iface.Uuid)], changes));
            }

            var ifaceIds = OvsdbMaps.Merge("external_ids", iface.StringMap("external_ids"), OvsdbMaps.Wanted(spec.InterfaceExternalIds));
            if (ifaceIds.Count > 0)
            {
                ops.Add(OvsdbOperation.Mutate("Interface", [OvsdbCondition.IsRow(iface.Uuid)], ifaceIds));
            }
        }

        if (ops.Count == 0)
        {
            return false;
        }

        await client.TransactAsync(Database, ops, cancellationToken);
        return true;
    }

    private async Task<IReadOnlyList<OvsBridge>> ReadBridgesAsync(IReadOnlyList<OvsdbCondition> where, CancellationToken cancellationToken)
    {
        var read = await client.TransactAsync(
            Database,
            [
                OvsdbOperation.Select("Bridge", where, ["_uuid", "name", "datapath_type", "external_ids", "ports"]),
                OvsdbOperation.Select("Port", [], ["_uuid", "name", "tag", "external_ids", "interfaces"]),
                OvsdbOperation.Select("Interface", [], ["_uuid", "name", "type", "mtu_request", "external_ids"]),
            ],
            cancellationToken);
        var ports = read[1].Rows!.ToDictionary(r => r.Uuid);
        var interfaces = read[2].Rows!.ToDictionary(r => r.Uuid);

        OvsPort ToPort(OvsdbRow port)
        {
            var iface = port.UuidSet("interfaces").Select(u => interfaces.GetValueOrDefault(u)).FirstOrDefault(i => i?.String("name") == port.String("name"));
            var ids = port.StringMap("external_ids");
            return new OvsPort(
                port.Uuid,
                port.String("name"),
                iface?.String("type") ?? "",
                (int?)port.OptionalInteger("tag"),
                (int?)iface?.OptionalInteger("mtu_request"),
                ids.GetValueOrDefault(ManagedKey) == ManagedValue,
                ids,
                iface?.StringMap("external_ids") ?? new Dictionary<string, string>());
        }

        return [.. read[0].Rows!.Select(bridge =>
        {
            var bridgePorts = bridge.UuidSet("ports").Select(u => ports.GetValueOrDefault(u)).OfType<OvsdbRow>().Select(ToPort).OrderBy(p => p.Name, StringComparer.Ordinal).ToList();
            var ids = bridge.StringMap("external_ids");
            return new OvsBridge(
                bridge.Uuid,
                bridge.String("name"),
                bridge.String("datapath_type"),
                bridgePorts.FirstOrDefault(p => p.Name == bridge.String("name"))?.MtuRequest,
                ids.GetValueOrDefault(ManagedKey) == ManagedValue,
                ids,
                bridgePorts);
        }).OrderBy(b => b.Name, StringComparer.Ordinal)];
    }

    private async Task<OvsdbRow?> ReadInterfaceAsync(string name, CancellationToken cancellationToken) =>
        (await client.TransactAsync(Database, [ByName("Interface", name, "_uuid", "external_ids")], cancellationToken))[0].Rows!.SingleOrDefault();

    /// <summary>The root row references the bridge; a fresh database has no root row yet (ovs-vsctl init would create it).</summary>
    private static IEnumerable<OvsdbOperation> AddToRoot(OvsdbRow? root, JsonArray bridge)
    {
        if (root is null)
        {
            yield return OvsdbOperation.WaitAbsent("Open_vSwitch", []);
            yield return OvsdbOperation.Insert("Open_vSwitch", new JsonObject { ["bridges"] = OvsdbValue.Set([bridge]) });
        }
        else
        {
            yield return OvsdbOperation.Mutate("Open_vSwitch", [OvsdbCondition.IsRow(root.Uuid)], [OvsdbMutation.Insert("bridges", OvsdbValue.Set([bridge]))]);
        }
    }

    private static OvsdbOperation ByName(string table, string name, params string[] columns) =>
        OvsdbOperation.Select(table, [OvsdbCondition.Equal("name", name)], columns);

    private static Dictionary<string, string> WithMarker(IReadOnlyDictionary<string, string>? externalIds) =>
        new(externalIds ?? new Dictionary<string, string>(), StringComparer.Ordinal) { [ManagedKey] = ManagedValue };

    private static void CheckName(string what, string name)
    {
        if (NetworkLimits.CheckInterfaceName(what, name) is { } error)
        {
            throw new ArgumentException(error, nameof(name));
        }
    }

    private static void CheckMtu(int? mtu)
    {
        if (mtu is { } value && NetworkLimits.CheckMtu(value) is { } error)
        {
            throw new ArgumentException(error, nameof(mtu));
        }
    }
}
