using Microsoft.Extensions.Options;
using Quantixkvm.Contracts;
using Quantixkvm.Network.Linux;
using Quantixkvm.Network.Ovn;
using Quantixkvm.Network.Ovs;
using Quantixkvm.Network.Ovsdb;
using Quantixkvm.Network.SecurityGroups;

namespace Quantixkvm.Agent.Networking;

/// <summary>
/// Makes this host hold the desired network state of a <see cref="RealizeNetworks"/> (ADR 13): Linux bridges through
/// `ip` and their security groups through nftables (<see cref="BridgeFirewall"/>), OVS bridges and the check of OVN's
/// integration bridge in the host's Open_vSwitch database, the OVS bridges' security groups as OpenFlow flows through
/// `ovs-ofctl` (<see cref="OvsFirewall"/>), and, when the message
/// carries it, OVN's northbound state. What the agent made and is no longer desired is removed; what others made is
/// left alone. One network's failure does not stop the others: each gets its own <see cref="NetworkRealization"/>.
/// Realizations run one at a time; a message older than the last one applied is ignored. Every round reads the state
/// afresh and writes only what differs, so a round that changes nothing writes nothing.
/// </summary>
public sealed class NetworkRealizer(IOptions<AgentOptions> options, IpLink ip, Nftables nft, TimeProvider clock, ILogger<NetworkRealizer> logger)
{
    /// <summary>How long one round may take before what is left of it is reported failed (a hung database must not hold the host's networks forever).</summary>
    public static readonly TimeSpan RoundTimeout = TimeSpan.FromMinutes(2);

    private readonly SemaphoreSlim _serial = new(1, 1);
    private readonly LinuxBridges _linux = new(ip);
    private readonly BridgeFirewall _firewall = new(nft);
    private readonly OvsFirewall _ovsFirewall = new(OvsFlowTablesFor(options.Value.Network));
    private long? _lastRevision;
    private Dictionary<Guid, string> _lastErrors = [];

    // Until a round finds none, the host may hold Linux devices the agent made; after that `ip` is run only for bridge networks.
    private bool _linuxDevicesMayExist = true;

    // Likewise for the nftables table of bridge networks' security groups: `nft` is run only while there may be one.
    private bool _firewallMayExist = true;

    private NetworkOptions Settings => options.Value.Network;

    /// <summary>This agent is configured with OVN's northbound database, so the control plane may choose it to write it.</summary>
    public bool CanWriteNorthbound => !string.IsNullOrWhiteSpace(Settings.OvnNorthboundDb);

    /// <summary>The revision of the last message applied; null before the first.</summary>
    public long? LastRevision => _lastRevision;

    /// <summary>
    /// Applies the desired state and returns the report to publish, one result per network of the message (and of its
    /// northbound part); null when the message is stale (its revision is lower than one already applied).
    /// </summary>
    public async Task<NetworksRealized?> RealizeAsync(RealizeNetworks desired, CancellationToken cancellationToken = default)
    {
        await _serial.WaitAsync(cancellationToken);
        try
        {
            if (_lastRevision is { } last && desired.Revision < last)
            {
                logger.LogInformation("RealizeNetworks revision {Revision} is older than revision {Last}, already applied: ignored", desired.Revision, last);
                return null;
            }

            var outcomes = new Dictionary<Guid, NetworkOutcome>();
            foreach (var network in desired.Networks.Concat(desired.Northbound?.OverlayNetworks ?? []))
            {
                outcomes.TryAdd(network.NetworkId, new NetworkOutcome(network.NetworkId, network.Generation));
            }

            using var round = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            round.CancelAfter(RoundTimeout);
            var byKind = desired.Networks.ToLookup(n => n.Kind);
            List<NetworkSpecification> bridges = [.. byKind[NetworkKinds.Bridge]];
            await RunPhaseAsync(bridges, outcomes, () => RealizeLinuxAsync(bridges, outcomes, round.Token), cancellationToken);
            await RunPhaseAsync(bridges, outcomes, () => RealizeFirewallAsync(bridges, desired, outcomes, round.Token), cancellationToken);
            var ovsAndOverlay = byKind[NetworkKinds.Ovs].Concat(byKind[NetworkKinds.Overlay]).ToList();
            await RunPhaseAsync(ovsAndOverlay, outcomes, () => RealizeOvsAsync(ovsAndOverlay, desired, outcomes, round.Token), cancellationToken);
            if (desired.Northbound is { } northbound)
            {
                await RunPhaseAsync(northbound.OverlayNetworks, outcomes, () => RealizeNorthboundAsync(northbound, outcomes, round.Token), cancellationToken);
            }

            foreach (var network in desired.Networks.Where(n => n.Kind is not (NetworkKinds.Bridge or NetworkKinds.Ovs or NetworkKinds.Overlay)))
            {
                outcomes[network.NetworkId].Fail($"network kind '{network.Kind}' is not known to this agent");
            }

            _lastRevision = desired.Revision;
            var report = new NetworksRealized(
                options.Value.HostId, desired.Revision, [.. outcomes.Values.Select(o => o.ToRealization())], clock.GetUtcNow(), CanWriteNorthbound);
            LogNews(report);
            return report;
        }
        finally
        {
            _serial.Release();
        }
    }

    /// <summary>Logs a failure when it is new or different, and the recovery, not the same failure every round.</summary>
    private void LogNews(NetworksRealized report)
    {
        foreach (var network in report.Networks)
        {
            var before = _lastErrors.GetValueOrDefault(network.NetworkId);
            if (network.Error is not null && network.Error != before)
            {
                logger.LogWarning("Network {NetworkId} generation {Generation} is not realized on this host: {Error}", network.NetworkId, network.Generation, network.Error);
            }
            else if (network.Error is null && before is not null)
            {
                logger.LogInformation("Network {NetworkId} generation {Generation} is realized on this host again: {Summary}", network.NetworkId, network.Generation, network.Summary);
            }
        }

        _lastErrors = report.Networks.Where(n => n.Error is not null).ToDictionary(n => n.NetworkId, n => n.Error!);
    }

    /// <summary>Runs one part of the round; if it runs out of time, its networks are reported failed and the round goes on.</summary>
    private static async Task RunPhaseAsync(
        IEnumerable<NetworkSpecification> networks, Dictionary<Guid, NetworkOutcome> outcomes, Func<Task> run, CancellationToken cancellationToken)
    {
        try
        {
            await run();
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            foreach (var network in networks)
            {
                outcomes[network.NetworkId].Fail($"the realization did not finish within {RoundTimeout.TotalSeconds:0} s");
            }
        }
    }

    private async Task RealizeLinuxAsync(IReadOnlyList<NetworkSpecification> bridges, Dictionary<Guid, NetworkOutcome> outcomes, CancellationToken cancellationToken)
    {
        if (bridges.Count == 0 && !_linuxDevicesMayExist)
        {
            return;
        }

        try
        {
            // Stale devices first: a deleted network's bridge name may be a new network's.
            foreach (var name in await _linux.RemoveStaleAsync(bridges, cancellationToken))
            {
                logger.LogInformation("Deleted Linux device {Device}: the network that made it is gone", name);
            }

            _linuxDevicesMayExist = bridges.Count > 0;
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            logger.LogWarning("Removing the Linux devices of deleted networks failed: {Error}; tried again next round", NetworkOutcome.Describe(e));
        }

        foreach (var network in bridges)
        {
            await RealizeOneAsync(network, outcomes, () => _linux.RealizeAsync(network, cancellationToken));
        }
    }

    /// <summary>
    /// The security groups of all bridge networks, one nftables table, after the bridges: its failure is reported on every
    /// bridge network, the others are not affected.
    /// </summary>
    private async Task RealizeFirewallAsync(
        IReadOnlyList<NetworkSpecification> bridges, RealizeNetworks desired, Dictionary<Guid, NetworkOutcome> outcomes, CancellationToken cancellationToken)
    {
        if (bridges.Count == 0)
        {
            if (_firewallMayExist)
            {
                try
                {
                    if (await _firewall.RemoveAsync(cancellationToken))
                    {
                        logger.LogInformation("Deleted nftables table {Family} {Table}: no bridge network is left", SecurityGroupNftables.Family, SecurityGroupNftables.Table);
                    }

                    _firewallMayExist = false;
                }
                catch (System.ComponentModel.Win32Exception)
                {
                    // No `nft` on this host: it has no table of ours either.
                    _firewallMayExist = false;
                }
                catch (Exception e) when (e is not OperationCanceledException)
                {
                    logger.LogWarning("Removing the security groups of bridge networks (nftables) failed: {Error}; tried again next round", NetworkOutcome.Describe(e));
                }
            }

            return;
        }

        // A control plane older than the groups' own field sends them only with the northbound part; sent neither way, the table is left as it is.
        if ((desired.SecurityGroups ?? desired.Northbound?.SecurityGroups) is not { } groups)
        {
            logger.LogWarning("RealizeNetworks revision {Revision} carries no security groups: the bridge networks' firewall is left as it is", desired.Revision);
            return;
        }

        _firewallMayExist = true;
        try
        {
            var filtered = await _firewall.RealizeAsync(bridges, desired.Networks, groups, cancellationToken);
            foreach (var (networkId, ports) in filtered.Where(f => f.Value > 0))
            {
                outcomes[networkId].Note($"security groups on {ports} port(s) (nftables {SecurityGroupNftables.Family} {SecurityGroupNftables.Table})");
            }
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            foreach (var network in bridges)
            {
                outcomes[network.NetworkId].Fail("security groups (nftables): " + NetworkOutcome.Describe(e));
            }
        }
    }

    /// <summary>The OpenFlow tables of the host's OVS bridges, reached in ovs-vswitchd's run folder; null when it is not known.</summary>
    private static OvsFlowTables? OvsFlowTablesFor(NetworkOptions settings)
    {
        var runDirectory = settings.OvsRunDir;
        if (string.IsNullOrWhiteSpace(runDirectory) && settings.OvsDb is { } db && db.StartsWith("unix:", StringComparison.Ordinal))
        {
            runDirectory = Path.GetDirectoryName(db["unix:".Length..]);
        }

        return string.IsNullOrWhiteSpace(runDirectory) ? null : new OvsFlowTables(runDirectory, settings.IpCommandPrefix);
    }

    private async Task RealizeOvsAsync(
        IReadOnlyList<NetworkSpecification> networks, RealizeNetworks desired, Dictionary<Guid, NetworkOutcome> outcomes, CancellationToken cancellationToken)
    {
        if (string.IsNullOrWhiteSpace(Settings.OvsDb))
        {
            foreach (var network in networks)
            {
                outcomes[network.NetworkId].Fail(
                    $"this host has no Open vSwitch: Agent:Network:OvsDb is not set (e.g. unix:/var/run/openvswitch/db.sock), so {network.Kind} networks cannot be realized here");
            }

            return;
        }

        OvsdbClient client;
        try
        {
            client = await OvsdbClient.ConnectAsync(Settings.OvsDb, cancellationToken);
        }
        catch (OvsdbConnectionException e)
        {
            foreach (var network in networks)
            {
                outcomes[network.NetworkId].Fail($"Open vSwitch database (Agent:Network:OvsDb): {e.Message}");
            }

            if (networks.Count == 0)
            {
                logger.LogWarning("Open vSwitch database unreachable, so bridges of deleted networks stay for now: {Error}", e.Message);
            }

            return;
        }

        await using (client)
        {
            var bridges = new OvsBridges(new OvsSwitch(client));
            var ovs = networks.Where(n => n.Kind == NetworkKinds.Ovs).ToList();
            try
            {
                foreach (var name in await bridges.RemoveStaleAsync(ovs, cancellationToken))
                {
                    logger.LogInformation("Deleted OVS bridge {Bridge}: the network that made it is gone", name);
                }
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                logger.LogWarning("Removing the OVS bridges of deleted networks failed: {Error}; tried again next round", NetworkOutcome.Describe(e));
            }

            foreach (var network in ovs)
            {
                OvsBridges.Realized bridge;
                try
                {
                    bridge = await bridges.RealizeAsync(network, cancellationToken);
                    outcomes[network.NetworkId].Note(bridge.Summary);
                }
                catch (Exception e) when (e is not OperationCanceledException)
                {
                    outcomes[network.NetworkId].Fail(NetworkOutcome.Describe(e));
                    continue;
                }

                await RealizeOvsFirewallAsync(network, bridge, desired, outcomes[network.NetworkId], cancellationToken);
            }

            var overlays = networks.Where(n => n.Kind == NetworkKinds.Overlay).ToList();
            if (overlays.Count > 0)
            {
                // One look at br-int serves every overlay network.
                string? note = null;
                string? error = null;
                try
                {
                    note = await bridges.CheckIntegrationBridgeAsync(cancellationToken);
                }
                catch (Exception e) when (e is not OperationCanceledException)
                {
                    error = NetworkOutcome.Describe(e);
                }

                foreach (var network in overlays)
                {
                    if (error is null)
                    {
                        outcomes[network.NetworkId].Note(note!);
                    }
                    else
                    {
                        outcomes[network.NetworkId].Fail(error);
                    }
                }
            }
        }
    }

    /// <summary>The security groups of one ovs network, as its bridge's flows, once the bridge is there.</summary>
    private async Task RealizeOvsFirewallAsync(
        NetworkSpecification network, OvsBridges.Realized bridge, RealizeNetworks desired, NetworkOutcome outcome, CancellationToken cancellationToken)
    {
        // As for bridge networks: sent no groups (an older control plane), the flows are left as they are.
        if ((desired.SecurityGroups ?? desired.Northbound?.SecurityGroups) is not { } groups)
        {
            logger.LogWarning("RealizeNetworks revision {Revision} carries no security groups: the flows of ovs bridge {Bridge} are left as they are", desired.Revision, network.BridgeName);
            return;
        }

        try
        {
            if (await _ovsFirewall.RealizeAsync(network, bridge, desired.Networks, groups, cancellationToken) is { } note)
            {
                outcome.Note(note);
            }
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            outcome.Fail("security groups (OpenFlow): " + NetworkOutcome.Describe(e));
        }
    }

    private async Task RealizeNorthboundAsync(OvnNorthboundSpecification desired, Dictionary<Guid, NetworkOutcome> outcomes, CancellationToken cancellationToken)
    {
        if (!CanWriteNorthbound)
        {
            foreach (var network in desired.OverlayNetworks)
            {
                outcomes[network.NetworkId].Fail("this host was sent OVN's northbound state but Agent:Network:OvnNorthboundDb is not set");
            }

            return;
        }

        OvsdbClient client;
        try
        {
            client = await OvsdbClient.ConnectAsync(Settings.OvnNorthboundDb!, cancellationToken);
        }
        catch (OvsdbConnectionException e)
        {
            foreach (var network in desired.OverlayNetworks)
            {
                outcomes[network.NetworkId].Fail($"OVN northbound database (Agent:Network:OvnNorthboundDb): {e.Message}");
            }

            return;
        }

        await using (client)
        {
            try
            {
                await new NorthboundState(new OvnNorthbound(client), logger).WriteAsync(desired, outcomes, cancellationToken);
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                // Lost the database mid-round, or could not read it at all: every overlay network's northbound part is in doubt.
                foreach (var network in desired.OverlayNetworks)
                {
                    outcomes[network.NetworkId].Fail("OVN northbound: " + NetworkOutcome.Describe(e));
                }
            }
        }
    }

    private static async Task RealizeOneAsync(NetworkSpecification network, Dictionary<Guid, NetworkOutcome> outcomes, Func<Task<string>> realize)
    {
        try
        {
            outcomes[network.NetworkId].Note(await realize());
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            outcomes[network.NetworkId].Fail(NetworkOutcome.Describe(e));
        }
    }
}
