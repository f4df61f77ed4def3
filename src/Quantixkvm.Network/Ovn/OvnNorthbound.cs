using System.Text.Json.Nodes;
using Quantixkvm.Network.Ovsdb;

namespace Quantixkvm.Network.Ovn;

/// <summary>
/// Logical switches, their ports, DHCP options, port groups with their ACLs, and address sets in OVN_Northbound,
/// written over OVSDB. "Ensure" reads, writes only what differs (nothing when the database already matches) and says
/// whether it changed something. An insert carries a "wait" that the row is still absent (Logical_Switch and
/// DHCP_Options have no unique index): if another writer created it first, the transaction fails, the row is read
/// again and brought to the spec instead — concurrent writers never make duplicates. Rows it creates carry
/// external_ids:qkvm-managed=true.
/// </summary>
public sealed class OvnNorthbound(OvsdbClient client)
{
    public const string Database = "OVN_Northbound";

    private static readonly KeyValuePair<string, string> Marker = new(OvnNames.ManagedKey, OvnNames.ManagedValue);
    private static readonly OvsdbCondition Managed = OvsdbCondition.HasKey("external_ids", OvnNames.ManagedKey, OvnNames.ManagedValue);

    public Task<OvnRowResult> EnsureLogicalSwitchAsync(LogicalSwitchSpec spec, CancellationToken cancellationToken = default)
    {
        var name = OvnNames.LogicalSwitch(spec.NetworkId);
        if (spec.Mtu is { } mtu && Domain.Networks.NetworkLimits.CheckMtu(mtu) is { } mtuError)
        {
            throw new ArgumentException(mtuError, nameof(spec));
        }

        var externalIds = Ids(spec.ExternalIds, new KeyValuePair<string, string>(OvnNames.NetworkIdKey, spec.NetworkId));
        var otherConfig = new Dictionary<string, string?>(StringComparer.Ordinal)
        {
            ["mtu"] = spec.Mtu?.ToString(System.Globalization.CultureInfo.InvariantCulture),
            ["subnet"] = spec.Subnet,
        };
        return OvsdbRetry.OnConflictAsync(() => EnsureRowAsync(
            "Logical_Switch",
            [OvsdbCondition.Equal("name", name)],
            new JsonObject { ["name"] = name },
            new() { ["external_ids"] = Wanted(externalIds), ["other_config"] = otherConfig },
            _ => [],
            cancellationToken));
    }

    /// <summary>Deletes the network's switch; its ports go with it (and leave their port groups). False when absent.</summary>
    public async Task<bool> DeleteLogicalSwitchAsync(string networkId, CancellationToken cancellationToken = default)
    {
        var result = await client.TransactAsync(
            Database, [OvsdbOperation.Delete("Logical_Switch", [OvsdbCondition.Equal("name", OvnNames.LogicalSwitch(networkId))])], cancellationToken);
        return result[0].Count > 0;
    }

    /// <summary>The managed logical switches with their ports.</summary>
    public async Task<IReadOnlyList<OvnLogicalSwitch>> ListLogicalSwitchesAsync(CancellationToken cancellationToken = default)
    {
        var read = await client.TransactAsync(
            Database,
            [
                OvsdbOperation.Select("Logical_Switch", [Managed], ["_uuid", "name", "other_config", "external_ids", "ports"]),
                OvsdbOperation.Select("Logical_Switch_Port", [], ["_uuid", "name", "addresses", "port_security", "dhcpv4_options", "dhcpv6_options", "external_ids"]),
            ],
            cancellationToken);
        var ports = read[1].Rows!.ToDictionary(r => r.Uuid, ToPort);
        return [.. read[0].Rows!.Select(ls => new OvnLogicalSwitch(
            ls.Uuid,
            ls.String("name"),
            ls.StringMap("external_ids").GetValueOrDefault(OvnNames.NetworkIdKey),
            ls.StringMap("other_config"),
            ls.StringMap("external_ids"),
            [.. ls.UuidSet("ports").Select(ports.GetValueOrDefault).OfType<OvnLogicalSwitchPort>().OrderBy(p => p.Name, StringComparer.Ordinal)]))
            .OrderBy(ls => ls.Name, StringComparer.Ordinal)];
    }

    /// <summary>Creates the port on its network's switch (which must exist) or brings it to the spec.</summary>
    public Task<OvnRowResult> EnsureLogicalSwitchPortAsync(LogicalSwitchPortSpec spec, CancellationToken cancellationToken = default)
    {
        OvnNames.CheckId("logical switch port name", spec.Name);
        var switchName = OvnNames.LogicalSwitch(spec.NetworkId);
        return OvsdbRetry.OnConflictAsync(async () =>
        {
            var read = await client.TransactAsync(
                Database,
                [
                    OvsdbOperation.Select("Logical_Switch", [OvsdbCondition.Equal("name", switchName)], ["_uuid", "ports"]),
                ],
                cancellationToken);
            var logicalSwitch = read[0].Rows is [var ls] ? ls : throw new NetworkObjectMissingException("logical switch", switchName);
            var result = await EnsureRowAsync(
                "Logical_Switch_Port",
                [OvsdbCondition.Equal("name", spec.Name)],
                new JsonObject
                {
                    ["name"] = spec.Name,
                    ["addresses"] = OvsdbValue.StringSet(spec.Addresses),
                    ["port_security"] = OvsdbValue.StringSet(spec.PortSecurity ?? []),
                    ["dhcpv4_options"] = OvsdbValue.Optional(spec.Dhcpv4Options),
                    ["dhcpv6_options"] = OvsdbValue.Optional(spec.Dhcpv6Options),
                },
                new() { ["external_ids"] = Wanted(Ids(spec.ExternalIds)) },
                uuidName => [OvsdbOperation.Mutate("Logical_Switch", [OvsdbCondition.IsRow(logicalSwitch.Uuid)], [OvsdbMutation.Insert("ports", OvsdbValue.Set([OvsdbValue.NamedUuid(uuidName)]))])],
                cancellationToken);
            if (logicalSwitch.UuidSet("ports").Contains(result.Uuid))
            {
                return result;
            }

            // It existed on another switch (or was just inserted and linked): make this switch, and only it, hold it.
            var relink = await client.TransactAsync(
                Database,
                [
                    OvsdbOperation.Select("Logical_Switch", [OvsdbCondition.Includes("ports", OvsdbValue.UuidSet([result.Uuid]))], ["_uuid"]),
                ],
                cancellationToken);
            var holders = relink[0].Rows!.Select(r => r.Uuid).ToList();
            if (holders.SequenceEqual([logicalSwitch.Uuid]))
            {
                return result;
            }

            await client.TransactAsync(
                Database,
                [
                    OvsdbOperation.Mutate("Logical_Switch", [OvsdbCondition.Includes("ports", OvsdbValue.UuidSet([result.Uuid]))], [OvsdbMutation.Delete("ports", OvsdbValue.UuidSet([result.Uuid]))]),
                    OvsdbOperation.Mutate("Logical_Switch", [OvsdbCondition.IsRow(logicalSwitch.Uuid)], [OvsdbMutation.Insert("ports", OvsdbValue.UuidSet([result.Uuid]))]),
                ],
                cancellationToken);
            return result with { Changed = true };
        });
    }

    /// <summary>Deletes the port (it leaves its switch and port groups); false when absent.</summary>
    public async Task<bool> DeleteLogicalSwitchPortAsync(string name, CancellationToken cancellationToken = default)
    {
        OvnNames.CheckId("logical switch port name", name);
        var read = await client.TransactAsync(Database, [OvsdbOperation.Select("Logical_Switch_Port", [OvsdbCondition.Equal("name", name)], ["_uuid"])], cancellationToken);
        if (read[0].Rows is not [var port])
        {
            return false;
        }

        // The switch's strong reference goes; OVSDB then removes the unreferenced (non-root) port row.
        await client.TransactAsync(
            Database,
            [OvsdbOperation.Mutate("Logical_Switch", [OvsdbCondition.Includes("ports", OvsdbValue.UuidSet([port.Uuid]))], [OvsdbMutation.Delete("ports", OvsdbValue.UuidSet([port.Uuid]))])],
            cancellationToken);
        return true;
    }

    /// <summary>The subnet's DHCP_Options row, created or brought to the spec (its options are replaced as a whole).</summary>
    public Task<OvnRowResult> EnsureDhcpOptionsAsync(DhcpOptionsSpec spec, CancellationToken cancellationToken = default)
    {
        OvnNames.CheckId("subnet id", spec.SubnetId);
        var (cidr, error) = Domain.Networks.Cidr.Parse(spec.Cidr);
        if (cidr is null)
        {
            throw new ArgumentException(error, nameof(spec));
        }

        return OvsdbRetry.OnConflictAsync(() => EnsureRowAsync(
            "DHCP_Options",
            [OvsdbCondition.HasKey("external_ids", OvnNames.SubnetIdKey, spec.SubnetId)],
            new JsonObject { ["cidr"] = cidr.ToString(), ["options"] = OvsdbValue.Map(spec.Options) },
            new() { ["external_ids"] = Wanted(Ids(spec.ExternalIds, new KeyValuePair<string, string>(OvnNames.SubnetIdKey, spec.SubnetId))) },
            _ => [],
            cancellationToken));
    }

    public async Task<bool> DeleteDhcpOptionsAsync(string subnetId, CancellationToken cancellationToken = default)
    {
        OvnNames.CheckId("subnet id", subnetId);
        var result = await client.TransactAsync(
            Database, [OvsdbOperation.Delete("DHCP_Options", [OvsdbCondition.HasKey("external_ids", OvnNames.SubnetIdKey, subnetId)])], cancellationToken);
        return result[0].Count > 0;
    }

    public async Task<IReadOnlyList<OvnDhcpOptions>> ListDhcpOptionsAsync(CancellationToken cancellationToken = default)
    {
        var read = await client.TransactAsync(Database, [OvsdbOperation.Select("DHCP_Options", [Managed])], cancellationToken);
        return [.. read[0].Rows!.Select(r => new OvnDhcpOptions(
            r.Uuid, r.StringMap("external_ids").GetValueOrDefault(OvnNames.SubnetIdKey), r.String("cidr"), r.StringMap("options"), r.StringMap("external_ids")))];
    }

    /// <summary>A port group holding exactly the named logical switch ports (which must exist).</summary>
    public Task<OvnRowResult> EnsurePortGroupAsync(
        string name, IEnumerable<string> portNames, IReadOnlyDictionary<string, string>? externalIds = null, CancellationToken cancellationToken = default)
    {
        OvnNames.CheckGroupName("port group name", name);
        var names = portNames.Distinct(StringComparer.Ordinal).ToList();
        return OvsdbRetry.OnConflictAsync(async () =>
        {
            var ports = await ResolvePortsAsync(names, cancellationToken);
            return await EnsureRowAsync(
                "Port_Group",
                [OvsdbCondition.Equal("name", name)],
                new JsonObject { ["name"] = name, ["ports"] = OvsdbValue.UuidSet(ports) },
                new() { ["external_ids"] = Wanted(Ids(externalIds)) },
                _ => [],
                cancellationToken);
        });
    }

    /// <summary>Deletes the port group with its ACLs; false when absent.</summary>
    public async Task<bool> DeletePortGroupAsync(string name, CancellationToken cancellationToken = default)
    {
        OvnNames.CheckGroupName("port group name", name);
        var result = await client.TransactAsync(Database, [OvsdbOperation.Delete("Port_Group", [OvsdbCondition.Equal("name", name)])], cancellationToken);
        return result[0].Count > 0;
    }

    /// <summary>The managed port groups with their ports and ACLs.</summary>
    public async Task<IReadOnlyList<OvnPortGroup>> ListPortGroupsAsync(CancellationToken cancellationToken = default)
    {
        var read = await client.TransactAsync(
            Database,
            [
                OvsdbOperation.Select("Port_Group", [Managed], ["_uuid", "name", "ports", "acls", "external_ids"]),
                OvsdbOperation.Select("Logical_Switch_Port", [], ["_uuid", "name"]),
                OvsdbOperation.Select("ACL", [], ["_uuid", "direction", "priority", "match", "action", "external_ids"]),
            ],
            cancellationToken);
        var portNames = read[1].Rows!.ToDictionary(r => r.Uuid, r => r.String("name"));
        var acls = read[2].Rows!.ToDictionary(r => r.Uuid, ToAcl);
        return [.. read[0].Rows!.Select(pg => new OvnPortGroup(
            pg.Uuid,
            pg.String("name"),
            [.. pg.UuidSet("ports").Select(portNames.GetValueOrDefault).OfType<string>().Order(StringComparer.Ordinal)],
            pg.StringMap("external_ids"),
            [.. pg.UuidSet("acls").Select(acls.GetValueOrDefault).OfType<OvnAcl>().OrderBy(a => a.ToString(), StringComparer.Ordinal)]))
            .OrderBy(pg => pg.Name, StringComparer.Ordinal)];
    }

    /// <summary>
    /// Makes the port group's ACLs exactly <paramref name="acls"/>: inserts the missing ones, deletes the others, leaves
    /// equal ones untouched. The write is conditional on the group's ACLs being what was read. True when something changed.
    /// </summary>
    public Task<bool> SetPortGroupAclsAsync(string portGroup, IReadOnlyList<OvnAcl> acls, CancellationToken cancellationToken = default)
    {
        OvnNames.CheckGroupName("port group name", portGroup);
        foreach (var acl in acls)
        {
            if (acl.Priority is < 0 or > 32767 || string.IsNullOrWhiteSpace(acl.Match))
            {
                throw new ArgumentException($"ACL '{acl}' needs a priority of 0 to 32767 and a match", nameof(acls));
            }
        }

        return OvsdbRetry.OnConflictAsync(async () =>
        {
            var read = await client.TransactAsync(
                Database,
                [
                    OvsdbOperation.Select("Port_Group", [OvsdbCondition.Equal("name", portGroup)], ["_uuid", "acls"]),
                    OvsdbOperation.Select("ACL", [], ["_uuid", "direction", "priority", "match", "action", "external_ids"]),
                ],
                cancellationToken);
            var group = read[0].Rows is [var g] ? g : throw new NetworkObjectMissingException("port group", portGroup);
            var held = group.UuidSet("acls");
            var existing = read[1].Rows!.Where(r => held.Contains(r.Uuid)).Select(r => (r.Uuid, Key: AclKey(ToAcl(r)))).ToList();

            var wanted = acls.GroupBy(a => AclKey(a)).Select(g => g.First()).ToList();
            var keep = new HashSet<Guid>();
            var missing = new List<OvnAcl>();
            foreach (var acl in wanted)
            {
                var match = existing.FirstOrDefault(e => e.Key == AclKey(acl) && !keep.Contains(e.Uuid));
                if (match.Key is null)
                {
                    missing.Add(acl);
                }
                else
                {
                    keep.Add(match.Uuid);
                }
            }

            var stale = held.Where(u => !keep.Contains(u)).ToList();
            if (missing.Count == 0 && stale.Count == 0)
            {
                return false;
            }

            var ops = new List<OvsdbOperation>
            {
                OvsdbOperation.Wait("Port_Group", [OvsdbCondition.IsRow(group.Uuid)], ["acls"], [new JsonObject { ["acls"] = OvsdbValue.UuidSet(held) }]),
            };
            var names = new List<JsonNode?>();
            for (var i = 0; i < missing.Count; i++)
            {
                ops.Add(OvsdbOperation.Insert("ACL", AclRow(missing[i]), $"acl{i}"));
                names.Add(OvsdbValue.NamedUuid($"acl{i}"));
            }

            var mutations = new List<OvsdbMutation>();
            if (stale.Count > 0)
            {
                // ACL rows are not roots: dropped from the group, OVSDB deletes them.
                mutations.Add(OvsdbMutation.Delete("acls", OvsdbValue.UuidSet(stale)));
            }

            if (names.Count > 0)
            {
                mutations.Add(OvsdbMutation.Insert("acls", OvsdbValue.Set(names)));
            }

            ops.Add(OvsdbOperation.Mutate("Port_Group", [OvsdbCondition.IsRow(group.Uuid)], mutations));
            await client.TransactAsync(Database, ops, cancellationToken);
            return true;
        });
    }

    /// <summary>An address set holding exactly <paramref name="addresses"/> (IPs or CIDRs), for $name in ACL matches.</summary>
    public Task<OvnRowResult> EnsureAddressSetAsync(
        string name, IEnumerable<string> addresses, IReadOnlyDictionary<string, string>? externalIds = null, CancellationToken cancellationToken = default)
    {
        OvnNames.CheckGroupName("address set name", name);
        var values = addresses.Distinct(StringComparer.Ordinal).ToList();
        return OvsdbRetry.OnConflictAsync(() => EnsureRowAsync(
            "Address_Set",
            [OvsdbCondition.Equal("name", name)],
            new JsonObject { ["name"] = name, ["addresses"] = OvsdbValue.StringSet(values) },
            new() { ["external_ids"] = Wanted(Ids(externalIds)) },
            _ => [],
            cancellationToken));
    }

    public async Task<bool> DeleteAddressSetAsync(string name, CancellationToken cancellationToken = default)
    {
        OvnNames.CheckGroupName("address set name", name);
        var result = await client.TransactAsync(Database, [OvsdbOperation.Delete("Address_Set", [OvsdbCondition.Equal("name", name)])], cancellationToken);
        return result[0].Count > 0;
    }

    public async Task<IReadOnlyList<OvnAddressSet>> ListAddressSetsAsync(CancellationToken cancellationToken = default)
    {
        var read = await client.TransactAsync(Database, [OvsdbOperation.Select("Address_Set", [Managed])], cancellationToken);
        return [.. read[0].Rows!.Select(r => new OvnAddressSet(r.Uuid, r.String("name"), [.. r.StringSet("addresses").Order(StringComparer.Ordinal)], r.StringMap("external_ids")))
            .OrderBy(a => a.Name, StringComparer.Ordinal)];
    }

    /// <summary>
    /// Finds the row by <paramref name="key"/>; inserts it (guarded by a wait that it is still absent, plus
    /// <paramref name="linkOnInsert"/>'s operations, e.g. a parent's reference) or updates the columns that differ.
    /// <paramref name="columns"/> are set as given; <paramref name="mergedMaps"/> only have the given keys set or removed.
    /// </summary>
    private async Task<OvnRowResult> EnsureRowAsync(
        string table,
        IReadOnlyList<OvsdbCondition> key,
        JsonObject columns,
        Dictionary<string, Dictionary<string, string?>> mergedMaps,
        Func<string, IEnumerable<OvsdbOperation>> linkOnInsert,
        CancellationToken cancellationToken)
    {
        var read = await client.TransactAsync(Database, [OvsdbOperation.Select(table, key)], cancellationToken);
        if (read[0].Rows is not [var row, ..])
        {
            var insert = (JsonObject)columns.DeepClone();
            foreach (var (column, pairs) in mergedMaps)
            {
                insert[column] = OvsdbValue.Map(pairs.Where(p => p.Value is not null).Select(p => new KeyValuePair<string, string>(p.Key, p.Value!)));
            }

            var ops = new List<OvsdbOperation> { OvsdbOperation.WaitAbsent(table, key), OvsdbOperation.Insert(table, insert, "row") };
            ops.AddRange(linkOnInsert("row"));
            var inserted = await client.TransactAsync(Database, ops, cancellationToken);
            return new OvnRowResult(inserted[1].Uuid!.Value, true);
        }

        var changes = new JsonObject();
        foreach (var (column, value) in columns)
        {
            if (OvsdbValue.Canonical(row.Get(column)) != OvsdbValue.Canonical(value))
            {
                changes[column] = value!.DeepClone();
            }
        }

        var mutations = mergedMaps.SelectMany(m => OvsdbMaps.Merge(m.Key, row.StringMap(m.Key), m.Value)).ToList();
        var updates = new List<OvsdbOperation>();
        if (changes.Count > 0)
        {
            updates.Add(OvsdbOperation.Update(table, [OvsdbCondition.IsRow(row.Uuid)], changes));
        }

        if (mutations.Count > 0)
        {
            updates.Add(OvsdbOperation.Mutate(table, [OvsdbCondition.IsRow(row.Uuid)], mutations));
        }

        if (updates.Count > 0)
        {
            await client.TransactAsync(Database, updates, cancellationToken);
        }

        return new OvnRowResult(row.Uuid, updates.Count > 0);
    }

    private async Task<IReadOnlyList<Guid>> ResolvePortsAsync(IReadOnlyList<string> names, CancellationToken cancellationToken)
    {
        if (names.Count == 0)
        {
            return [];
        }

        foreach (var name in names)
        {
            OvnNames.CheckId("logical switch port name", name);
        }

        var read = await client.TransactAsync(
            Database, names.Select(n => OvsdbOperation.Select("Logical_Switch_Port", [OvsdbCondition.Equal("name", n)], ["_uuid"])), cancellationToken);
        return [.. names.Select((name, i) => read[i].Rows is [var port] ? port.Uuid : throw new NetworkObjectMissingException("logical switch port", name))];
    }

    private static OvnLogicalSwitchPort ToPort(OvsdbRow r) => new(
        r.Uuid,
        r.String("name"),
        [.. r.StringSet("addresses").Order(StringComparer.Ordinal)],
        [.. r.StringSet("port_security").Order(StringComparer.Ordinal)],
        r.OptionalUuid("dhcpv4_options"),
        r.OptionalUuid("dhcpv6_options"),
        r.StringMap("external_ids"));

    private static OvnAcl ToAcl(OvsdbRow r) => new(
        r.String("direction") == "from-lport" ? AclDirection.FromLport : AclDirection.ToLport,
        (int)r.Integer("priority"),
        r.String("match"),
        r.String("action") switch
        {
            "allow" => AclAction.Allow,
            "allow-related" => AclAction.AllowRelated,
            "allow-stateless" => AclAction.AllowStateless,
            "reject" => AclAction.Reject,
            _ => AclAction.Drop,
        },
        r.StringMap("external_ids"));

    private static JsonObject AclRow(OvnAcl acl) => new()
    {
        ["direction"] = OvnAcl.DirectionText(acl.Direction),
        ["priority"] = acl.Priority,
        ["match"] = acl.Match,
        ["action"] = OvnAcl.ActionText(acl.Action),
        ["external_ids"] = OvsdbValue.Map(Ids(acl.ExternalIds)),
    };

    private static string AclKey(OvnAcl acl) =>
        string.Join("\u0001", OvnAcl.DirectionText(acl.Direction), acl.Priority, acl.Match, OvnAcl.ActionText(acl.Action),
            string.Join(",", Ids(acl.ExternalIds).OrderBy(p => p.Key, StringComparer.Ordinal).Select(p => p.Key + "=" + p.Value)));

    private static Dictionary<string, string> Ids(IReadOnlyDictionary<string, string>? given, params KeyValuePair<string, string>[] extra)
    {
        var ids = new Dictionary<string, string>(given ?? new Dictionary<string, string>(), StringComparer.Ordinal);
        foreach (var (key, value) in extra.Append(Marker))
        {
            ids[key] = value;
        }

        return ids;
    }

    private static Dictionary<string, string?> Wanted(Dictionary<string, string> pairs) =>
        pairs.ToDictionary(p => p.Key, p => (string?)p.Value, StringComparer.Ordinal);
}
