namespace Quantixkvm.Testing;

/// <summary>
/// A private Open vSwitch + OVN stack of one test class, started by the project's own infra/dev/ovs.sh in a temporary
/// data folder, its switch side (ovs-vswitchd, ovn-controller, br-int) in a network namespace of its own: only one
/// userspace datapath fits a namespace, and the dev stack (start-services.sh) or another test may hold this machine's.
/// Guests made by <see cref="CreateGuestAsync"/> have their host ends in that namespace. Dispose stops the stack
/// (bridges first) and deletes the folder and the namespace.
/// </summary>
public sealed class OvnStack : IAsyncDisposable
{
    private readonly Dictionary<string, string> _environment;

    private OvnStack(string dataFolder, string switchNamespace)
    {
        DataFolder = dataFolder;
        SwitchNamespace = switchNamespace;
        _environment = new Dictionary<string, string> { ["QKVM_DATA"] = dataFolder, ["QKVM_OVS_NETNS"] = switchNamespace };
    }

    public string DataFolder { get; }

    /// <summary>The network namespace of ovs-vswitchd and br-int.</summary>
    public string SwitchNamespace { get; }

    /// <summary>The Open_vSwitch database (unix:...), as infra/dev/env.sh names it (QKVM_OVS_DB).</summary>
    public string OvsDb => $"unix:{DataFolder}/ovs/run/db.sock";

    /// <summary>OVN_Northbound (unix:...): QKVM_OVN_NB_DB.</summary>
    public string NorthboundDb => $"unix:{DataFolder}/ovn/run/ovnnb_db.sock";

    /// <summary>OVN_Southbound (unix:...): QKVM_OVN_SB_DB.</summary>
    public string SouthboundDb => $"unix:{DataFolder}/ovn/run/ovnsb_db.sock";

    /// <summary>The integration bridge ovn-controller creates.</summary>
    public const string IntegrationBridge = "br-int";

    private static string Script => Path.Combine(PlatformProcess.RepositoryRoot, "infra", "dev", "ovs.sh");

    public static async Task<OvnStack> StartAsync(CancellationToken cancellationToken = default)
    {
        var id = Guid.NewGuid().ToString("N")[..8];
        // Short: the daemons' unix socket paths must stay within 107 bytes.
        var stack = new OvnStack(Path.Combine("/tmp", $"qkvm-ovn-{id}"), $"qko-{id}");
        Directory.CreateDirectory(stack.DataFolder);
        try
        {
            await HostCommand.RunCheckedAsync("bash", [Script, "start"], environment: stack._environment, cancellationToken: cancellationToken);
            return stack;
        }
        catch
        {
            await stack.DisposeAsync();
            throw;
        }
    }

    /// <summary>A guest namespace whose host end lives in this stack's switch namespace (not yet plugged).</summary>
    public Task<NetworkNamespace> CreateGuestAsync(CancellationToken cancellationToken = default) =>
        NetworkNamespace.CreateAsync(SwitchNamespace, cancellationToken);

    /// <summary>infra/dev/ovs.sh status: one line, and whether everything runs.</summary>
    public Task<HostCommand.Result> StatusAsync() => HostCommand.RunAsync("bash", [Script, "status"], environment: _environment);

    // ---- The OVS/OVN command-line calls, in one place: to be replaced by the project's own OVSDB client.

    public Task<string> NbctlAsync(params string[] arguments) =>
        HostCommand.RunCheckedAsync("ovn-nbctl", [$"--db={NorthboundDb}", "--timeout=60", .. arguments]);

    public Task<string> SbctlAsync(params string[] arguments) =>
        HostCommand.RunCheckedAsync("ovn-sbctl", [$"--db={SouthboundDb}", "--timeout=60", .. arguments]);

    public Task<string> VsctlAsync(params string[] arguments) =>
        HostCommand.RunCheckedAsync("ovs-vsctl", [$"--db={OvsDb}", "--timeout=60", .. arguments]);

    /// <summary>A logical switch port with its addresses ("MAC IP") and port security on the same.</summary>
    public Task AddLogicalPortAsync(string logicalSwitch, string port, string mac, string address) =>
        NbctlAsync("lsp-add", logicalSwitch, port,
            "--", "lsp-set-addresses", port, $"{mac} {address}",
            "--", "lsp-set-port-security", port, $"{mac} {address}");

    /// <summary>
    /// Plugs the guest's host end into br-int bound to the logical port (external_ids:iface-id), then waits until
    /// ovn-controller has bound it (the port is up) and every chassis has applied the flows (--wait=hv).
    /// </summary>
    public async Task PlugAsync(NetworkNamespace guest, string logicalPort)
    {
        await VsctlAsync("add-port", IntegrationBridge, guest.HostInterface,
            "--", "set", "Interface", guest.HostInterface, $"external_ids:iface-id={logicalPort}");
        await NbctlAsync("wait-until", "Logical_Switch_Port", logicalPort, "up=true");
        await NbctlAsync("--wait=hv", "sync");
    }

    /// <summary>Adds an ACL and returns once every chassis has applied it.</summary>
    public Task AddAclAsync(string logicalSwitch, string direction, int priority, string match, string verdict) =>
        NbctlAsync("--wait=hv", "acl-add", logicalSwitch, direction, priority.ToString(System.Globalization.CultureInfo.InvariantCulture), match, verdict);

    /// <summary>Removes the ACL of that direction, priority and match; returns once every chassis has applied it.</summary>
    public Task RemoveAclAsync(string logicalSwitch, string direction, int priority, string match) =>
        NbctlAsync("--wait=hv", "acl-del", logicalSwitch, direction, priority.ToString(System.Globalization.CultureInfo.InvariantCulture), match);

    /// <summary>
    /// OVN's native DHCPv4 for a port: a DHCP_Options row for the subnet, set on the port, applied on every chassis.
    /// Returns the row's id (for <c>destroy DHCP_Options</c>: the row outlives the port).
    /// </summary>
    public async Task<string> EnableDhcpAsync(string port, string cidr, string router, string serverMac)
    {
        var options = (await NbctlAsync("create", "DHCP_Options", $"cidr={cidr}",
            $"options=\"lease_time\"=\"3600\" \"router\"=\"{router}\" \"server_id\"=\"{router}\" \"server_mac\"=\"{serverMac}\"")).Trim();
        await NbctlAsync("--wait=hv", "lsp-set-dhcpv4-options", port, options);
        return options;
    }

    public async ValueTask DisposeAsync()
    {
        try
        {
            await HostCommand.RunCheckedAsync("bash", [Script, "stop"], environment: _environment);
        }
        finally
        {
            await HostCommand.RunAsync("rm", ["-rf", DataFolder]);
        }
    }
}
