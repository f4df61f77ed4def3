namespace Quantixkvm.Domain.Networks;

using NetworkDecision = Decision<NetworkEvent>;

/// <summary>
/// The network aggregate: its definition, subnets and ports (MACs and addresses are allocated here, on the network's
/// stream, so two concurrent ports cannot get the same one), and what hosts report of it. A record only: hosts make it
/// real by reconciling to it, and report the generation they hold.
/// </summary>
public static class NetworkDecider
{
    public const int DefaultMtu = 1500;

    /// <summary>1500 less Geneve's overhead (outer IPv4, UDP, Geneve header with OVN's option): guests fit the underlay's 1500.</summary>
    public const int DefaultOverlayMtu = 1442;

    public const int MaxDescriptionLength = 1024;

    /// <summary>OVN's integration bridge: never a network's own bridge.</summary>
    public const string IntegrationBridge = "br-int";

    /// <summary>Generated MACs step past ones used in the network; this many tries is never reached in practice.</summary>
    private const int MacAttempts = 64;

    public static Guid NetworkIdForCreate(string commandId) => DeterministicId.From("network", commandId);

    public static Guid SubnetIdFor(Guid networkId, string commandId) => DeterministicId.From("subnet", networkId.ToString(), commandId);

    /// <summary>A VM NIC's port: <paramref name="key"/> is the NIC's index at the VM's create, or the attach's command id.</summary>
    public static Guid PortIdFor(Guid vmId, string key) => DeterministicId.From("port", $"{vmId}/{key}");

    public static NetworkDecision Decide(NetworkCommand command, NetworkState state)
    {
        if (command is CreateNetwork create)
        {
            return DecideCreate(create, state);
        }

        var name = CommandName(command);
        if (!state.Exists)
        {
            return NetworkDecision.Reject(RejectionCode.NotFound, "the network does not exist", state.Describe(), name);
        }

        if (state.Deleted)
        {
            // Late reports and repeats of a delete or of an earlier add change nothing; anything else finds no network.
            return command is DeleteNetwork or RecordNetworkRealization
                || (command is AddPort add && state.PortsByCommand.ContainsKey(add.Context.CommandId))
                ? NetworkDecision.Accept(null)
                : NetworkDecision.Reject(RejectionCode.NotFound, $"network '{state.Name}' was deleted", state.Describe(), name);
        }

        return command switch
        {
            UpdateNetwork update => DecideUpdate(update, state),
            AddSubnet add => DecideAddSubnet(add, state),
            RemoveSubnet remove => DecideRemoveSubnet(remove, state),
            AddPort add => DecideAddPort(add, state),
            RemovePort remove => DecideRemovePort(remove, state),
            SetPortSecurityGroups set => DecideSecurityGroups(set, state),
            RecordNetworkRealization report => DecideRealization(report, state),
            DeleteNetwork delete => state.Ports.Count > 0
                ? NetworkDecision.Reject(RejectionCode.InvalidState,
                    $"network '{state.Name}' still has {state.Ports.Count} port(s); detach the NICs using it first", state.Describe(), name)
                : NetworkDecision.Accept(null, new NetworkDeleted(state.NetworkId, delete.Context.Now)),
            _ => throw new ArgumentOutOfRangeException(nameof(command), command.GetType().Name, "not a network command"),
        };
    }

    public static NetworkState Evolve(NetworkState state, NetworkEvent @event) => @event switch
    {
        NetworkCreated e => state with
        {
            NetworkId = e.NetworkId, Exists = true, Name = e.Name, Kind = e.Kind, BridgeName = e.BridgeName, Uplink = e.Uplink, Vlan = e.Vlan,
            Mtu = e.Mtu, Description = e.Description, Generation = 1,
        },
        NetworkUpdated e => state with { Mtu = e.Mtu, Description = e.Description, Generation = e.Generation },
        NetworkSubnetAdded e => state with
        {
            Subnets = state.Subnets.Add(e.Subnet), KnownSubnets = state.KnownSubnets.Add(e.Subnet.SubnetId), Generation = e.Generation,
        },
        NetworkSubnetRemoved e => state with { Subnets = state.Subnets.RemoveAll(s => s.SubnetId == e.SubnetId), Generation = e.Generation },
        NetworkPortAdded e => state with
        {
            Ports = state.Ports.SetItem(e.Port.PortId, e.Port),
            PortsByCommand = state.PortsByCommand.SetItem(e.CommandId, e.Port.PortId),
            MacOwners = state.MacOwners.SetItem(e.Port.Mac, e.Port.PortId),
            AddressOwners = state.AddressOwners.SetItems(e.Port.Addresses.Select(a => KeyValuePair.Create(a.Address, e.Port.PortId))),
            Generation = e.Generation,
        },
        NetworkPortRemoved e => state with
        {
            Ports = state.Ports.Remove(e.PortId),
            RemovedPorts = state.RemovedPorts.Add(e.PortId),
            MacOwners = state.Ports.TryGetValue(e.PortId, out var port) ? state.MacOwners.Remove(port.Mac) : state.MacOwners,
            AddressOwners = state.AddressOwners.RemoveRange(e.ReleasedAddresses.Select(a => a.Address)),
            Generation = e.Generation,
        },
        NetworkPortSecurityGroupsSet e => state with
        {
            Ports = state.Ports.TryGetValue(e.PortId, out var port) ? state.Ports.SetItem(e.PortId, port with { SecurityGroupIds = e.SecurityGroupIds }) : state.Ports,
            Generation = e.Generation,
        },
        NetworkRealizedOnHost e => state with { Hosts = state.Hosts.SetItem(e.HostId, new HostRealization(e.Generation, null)) },
        NetworkRealizationFailed e => state with { Hosts = state.Hosts.SetItem(e.HostId, new HostRealization(e.Generation, e.Error)) },
        NetworkDeleted => state with { Deleted = true },
        _ => state,
    };

    public static NetworkState Fold(IEnumerable<NetworkEvent> events) => events.Aggregate(NetworkState.Initial, Evolve);

    private static NetworkDecision DecideCreate(CreateNetwork command, NetworkState state)
    {
        if (state.Exists)
        {
            // A repeat must be the same command: the definition it asked for (MTU and description may have changed since).
            return (command.Name, command.Kind, command.BridgeName, command.Uplink, command.Vlan) == (state.Name, state.Kind, state.BridgeName, state.Uplink, state.Vlan)
                ? NetworkDecision.Accept(null)
                : NetworkDecision.Reject(RejectionCode.Conflict, $"network {command.NetworkId} already exists", state.Describe(), "create-network");
        }

        var mtu = command.Mtu ?? (command.Kind == NetworkKind.Overlay ? DefaultOverlayMtu : DefaultMtu);
        var problem = CheckDefinition(command) ?? NetworkLimits.CheckMtu(mtu) ?? CheckDescription(command.Description);
        return problem is not null
            ? NetworkDecision.Reject(RejectionCode.Validation, problem, command: "create-network")
            : NetworkDecision.Accept(null, new NetworkCreated(
                command.NetworkId, command.Name, command.Kind, command.BridgeName, command.Uplink, command.Vlan, mtu, command.Description,
                command.Context.Now));
    }

    private static string? CheckDefinition(CreateNetwork command)
    {
        if (ResourceNames.Check("network", command.Name) is { } invalidName)
        {
            return invalidName;
        }

        if (command.Kind == NetworkKind.Overlay)
        {
            return command.BridgeName is not null ? "an Overlay network has no bridge of its own (its ports go on OVN's br-int); leave the bridge name out"
                : command.Uplink is not null ? "an uplink is only for Bridge networks; an Overlay network reaches other hosts over Geneve tunnels"
                : command.Vlan is not null ? "a VLAN is only for Bridge and Ovs networks; an Overlay network is isolated by its own tunnel key"
                : null;
        }

        if (NetworkLimits.CheckInterfaceName("bridge name", command.BridgeName) is { } invalidBridge)
        {
            return invalidBridge;
        }

        if (command.BridgeName == IntegrationBridge)
        {
            return $"bridge name '{IntegrationBridge}' is OVN's integration bridge; choose another";
        }

        if (command.Vlan is { } vlan && NetworkLimits.CheckVlan(vlan) is { } invalidVlan)
        {
            return invalidVlan;
        }

        if (command.Kind == NetworkKind.Ovs)
        {
            return command.Uplink is not null ? "an uplink is only for Bridge networks; an Ovs network tags its VM ports with its VLAN instead" : null;
        }

        if (command.Uplink is null)
        {
            return command.Vlan is { } tag ? $"a Bridge network on VLAN {tag} needs an uplink, whose VLAN sub-interface the bridge enslaves" : null;
        }

        return NetworkLimits.CheckInterfaceName("uplink", command.Uplink)
            ?? (command.Vlan is { } id ? NetworkLimits.CheckInterfaceName("VLAN interface", $"{command.Uplink}.{id}") : null);
    }

    private static string? CheckDescription(string? description) =>
        description is { Length: > MaxDescriptionLength } ? $"description must be at most {MaxDescriptionLength} characters (got {description.Length})" : null;

    private static NetworkDecision DecideUpdate(UpdateNetwork command, NetworkState state)
    {
        var mtu = command.Mtu ?? state.Mtu;
        var description = command.Description ?? state.Description;
        if ((NetworkLimits.CheckMtu(mtu) ?? CheckDescription(description)) is { } problem)
        {
            return NetworkDecision.Reject(RejectionCode.Validation, problem, state.Describe(), "update-network");
        }

        return (mtu, description) == (state.Mtu, state.Description)
            ? NetworkDecision.Accept(null)
            : NetworkDecision.Accept(null, new NetworkUpdated(state.NetworkId, mtu, description, state.Generation + 1, command.Context.Now));
    }

    private static NetworkDecision DecideAddSubnet(AddSubnet command, NetworkState state)
    {
        var subnetId = SubnetIdFor(state.NetworkId, command.Context.CommandId);
        if (state.KnownSubnets.Contains(subnetId))
        {
            return NetworkDecision.Accept(null);
        }

        var (subnet, problem) = SubnetPlan.Define(subnetId, command);
        if (subnet is null)
        {
            return NetworkDecision.Reject(RejectionCode.Validation, problem!, state.Describe(), "add-subnet");
        }

        var cidr = Cidr.Parse(subnet.Cidr).Cidr!;
        if (state.Subnets.Find(s => Cidr.Parse(s.Cidr).Cidr!.Overlaps(cidr)) is { } other)
        {
            return NetworkDecision.Reject(RejectionCode.Conflict, $"subnet {cidr} overlaps subnet {other.Cidr} of network '{state.Name}'",
                state.Describe(), "add-subnet");
        }

        return NetworkDecision.Accept(null, new NetworkSubnetAdded(state.NetworkId, subnet, state.Generation + 1, command.Context.Now));
    }

    private static NetworkDecision DecideRemoveSubnet(RemoveSubnet command, NetworkState state)
    {
        if (state.Subnets.Find(s => s.SubnetId == command.SubnetId) is not { } subnet)
        {
            return state.KnownSubnets.Contains(command.SubnetId)
                ? NetworkDecision.Accept(null)
                : NetworkDecision.Reject(RejectionCode.NotFound, $"network '{state.Name}' has no subnet {command.SubnetId}", state.Describe(), "remove-subnet");
        }

        var allocated = state.Ports.Values.Sum(p => p.Addresses.Count(a => a.SubnetId == subnet.SubnetId));
        return allocated > 0
            ? NetworkDecision.Reject(RejectionCode.InvalidState,
                $"subnet {subnet.Cidr} still has {allocated} allocated address(es); remove the ports holding them first", state.Describe(), "remove-subnet")
            : NetworkDecision.Accept(null, new NetworkSubnetRemoved(state.NetworkId, subnet.SubnetId, state.Generation + 1, command.Context.Now));
    }

    private static NetworkDecision DecideAddPort(AddPort command, NetworkState state)
    {
        const string name = "add-port";
        if (state.PortsByCommand.TryGetValue(command.Context.CommandId, out var earlier))
        {
            return earlier == command.PortId
                ? NetworkDecision.Accept(null)
                : NetworkDecision.Reject(RejectionCode.Validation,
                    $"command id '{command.Context.CommandId}' already added port {earlier} to network '{state.Name}'", state.Describe(), name);
        }

        if (state.Ports.ContainsKey(command.PortId) || state.RemovedPorts.Contains(command.PortId))
        {
            return NetworkDecision.Reject(RejectionCode.Conflict, $"port {command.PortId} already exists on network '{state.Name}'", state.Describe(), name);
        }

        var invalid = command.PortId == Guid.Empty ? "a port needs an id"
            : command.VmId == Guid.Empty ? "a port must name the VM it belongs to"
            : CheckSecurityGroups(command.SecurityGroupIds ?? []);
        if (invalid is not null)
        {
            return NetworkDecision.Reject(RejectionCode.Validation, invalid, state.Describe(), name);
        }

        var (mac, macRefusal) = ChooseMac(command, state);
        var (addresses, refusal) = macRefusal is not null ? (null, macRefusal)
            : command.FixedAddresses is { } wanted ? FixedAddresses(wanted, state)
            : FreeAddresses(state);
        if (refusal is not null)
        {
            return refusal with { Rejection = refusal.Rejection with { State = state.Describe(), Command = name } };
        }

        var port = new NetworkPort(command.PortId, command.VmId, mac!, addresses!, [.. command.SecurityGroupIds ?? []]);
        return NetworkDecision.Accept(null, new NetworkPortAdded(state.NetworkId, port, command.Context.CommandId, state.Generation + 1, command.Context.Now));
    }

    /// <summary>The given MAC (normalised, unused in the network), or the port's stable generated one, stepped past used ones.</summary>
    private static (string? Mac, NetworkDecision.Rejected? Refusal) ChooseMac(AddPort command, NetworkState state)
    {
        if (command.Mac is not null)
        {
            var (mac, error) = MacAddress.Normalize(command.Mac);
            if (mac is null)
            {
                return (null, Refuse(RejectionCode.Validation, error!));
            }

            return state.MacOwners.TryGetValue(mac, out var owner)
                ? (null, Refuse(RejectionCode.Conflict, $"MAC {mac} is already used by port {owner} on network '{state.Name}'"))
                : (mac, null);
        }

        for (var attempt = 0; attempt < MacAttempts; attempt++)
        {
            var generated = MacAddress.ForPort(command.PortId, attempt);
            if (!state.MacOwners.ContainsKey(generated))
            {
                return (generated, null);
            }
        }

        return (null, Refuse(RejectionCode.Conflict, $"no free MAC address found for port {command.PortId}; give one"));
    }

    /// <summary>Exactly the addresses asked for: each in a subnet of the network (at most one per subnet), assignable and free.</summary>
    private static (IReadOnlyList<PortAddress>? Addresses, NetworkDecision.Rejected? Refusal) FixedAddresses(IReadOnlyList<string> wanted, NetworkState state)
    {
        var plans = state.Subnets.Select(SubnetPlan.Of).ToList();
        var chosen = new List<PortAddress>();
        foreach (var text in wanted)
        {
            var (address, error) = Cidr.ParseAddress("fixed address", text);
            if (address is null)
            {
                return (null, Refuse(RejectionCode.Validation, error!));
            }

            if (plans.Find(p => p.Cidr.Contains(address)) is not { } plan)
            {
                return (null, Refuse(RejectionCode.Validation, $"address {address} is in no subnet of network '{state.Name}'"));
            }

            if (chosen.Find(c => c.SubnetId == plan.Subnet.SubnetId) is { } other)
            {
                return (null, Refuse(RejectionCode.Validation,
                    $"a port gets at most one address per subnet: {other.Address} and {address} are both in {plan.Cidr}"));
            }

            if (plan.WhyNotAssignable(address) is { } problem)
            {
                return (null, Refuse(RejectionCode.Validation, problem));
            }

            if (state.AddressOwners.TryGetValue(address.ToString(), out var owner))
            {
                return (null, Refuse(RejectionCode.Conflict, $"address {address} is already taken by port {owner}"));
            }

            chosen.Add(new PortAddress(plan.Subnet.SubnetId, address.ToString()));
        }

        return (chosen, null);
    }

    /// <summary>One address from each subnet: the first free one of its pools.</summary>
    private static (IReadOnlyList<PortAddress>? Addresses, NetworkDecision.Rejected? Refusal) FreeAddresses(NetworkState state)
    {
        var chosen = new List<PortAddress>();
        foreach (var subnet in state.Subnets)
        {
            if (SubnetPlan.Of(subnet).FirstFree(a => state.AddressOwners.ContainsKey(a.ToString())) is not { } address)
            {
                return (null, Refuse(RejectionCode.InvalidState, $"subnet {subnet.Cidr} is full: no free address in its allocation pools"));
            }

            chosen.Add(new PortAddress(subnet.SubnetId, address.ToString()));
        }

        return (chosen, null);
    }

    private static NetworkDecision.Rejected Refuse(RejectionCode code, string message) => new(new Rejection(code, message));

    private static NetworkDecision DecideRemovePort(RemovePort command, NetworkState state)
    {
        if (!state.Ports.TryGetValue(command.PortId, out var port))
        {
            return state.RemovedPorts.Contains(command.PortId)
                ? NetworkDecision.Accept(null)
                : NetworkDecision.Reject(RejectionCode.NotFound, $"port {command.PortId} is not on network '{state.Name}'", state.Describe(), "remove-port");
        }

        return NetworkDecision.Accept(null, new NetworkPortRemoved(
            state.NetworkId, port.PortId, port.VmId, port.Addresses, state.Generation + 1, command.Context.Now));
    }

    private static NetworkDecision DecideSecurityGroups(SetPortSecurityGroups command, NetworkState state)
    {
        const string name = "set-port-security-groups";
        if (!state.Ports.TryGetValue(command.PortId, out var port))
        {
            return NetworkDecision.Reject(RejectionCode.NotFound, $"port {command.PortId} is not on network '{state.Name}'", state.Describe(), name);
        }

        if (CheckSecurityGroups(command.SecurityGroupIds) is { } problem)
        {
            return NetworkDecision.Reject(RejectionCode.Validation, problem, state.Describe(), name);
        }

        return port.SecurityGroupIds.ToHashSet().SetEquals(command.SecurityGroupIds)
            ? NetworkDecision.Accept(null)
            : NetworkDecision.Accept(null, new NetworkPortSecurityGroupsSet(
                state.NetworkId, port.PortId, [.. command.SecurityGroupIds], state.Generation + 1, command.Context.Now));
    }

    private static string? CheckSecurityGroups(IReadOnlyList<Guid> groups) =>
        groups.Contains(Guid.Empty) ? "a security group id must not be empty"
        : groups.GroupBy(g => g).FirstOrDefault(g => g.Count() > 1) is { } twice ? $"security group {twice.Key} is given twice"
        : null;

    /// <summary>A host's report is recorded when it is news: a newer generation, or another outcome for the same one.</summary>
    private static NetworkDecision DecideRealization(RecordNetworkRealization command, NetworkState state)
    {
        if (command.HostId == Guid.Empty || command.Generation < 1 || command.Generation > state.Generation)
        {
            return NetworkDecision.Reject(RejectionCode.Validation,
                command.HostId == Guid.Empty ? "a realization report must name its host"
                : $"a host reports generation {command.Generation} of network '{state.Name}', which is at generation {state.Generation}",
                state.Describe(), "record-realization");
        }

        var error = string.IsNullOrWhiteSpace(command.Error) ? null : command.Error;
        if (state.Hosts.TryGetValue(command.HostId, out var last)
            && (command.Generation < last.Generation || (command.Generation == last.Generation && error == last.Error)))
        {
            return NetworkDecision.Accept(null);
        }

        var now = command.Context.Now;
        return error is null
            ? NetworkDecision.Accept(null, new NetworkRealizedOnHost(state.NetworkId, command.HostId, command.Generation, command.Summary, now))
            : NetworkDecision.Accept(null, new NetworkRealizationFailed(state.NetworkId, command.HostId, command.Generation, error, now));
    }

    private static string CommandName(NetworkCommand command) => command switch
    {
        CreateNetwork => "create-network",
        UpdateNetwork => "update-network",
        AddSubnet => "add-subnet",
        RemoveSubnet => "remove-subnet",
        AddPort => "add-port",
        RemovePort => "remove-port",
        SetPortSecurityGroups => "set-port-security-groups",
        RecordNetworkRealization => "record-realization",
        DeleteNetwork => "delete-network",
        _ => command.GetType().Name,
    };
}
