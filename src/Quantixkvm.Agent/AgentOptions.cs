using Quantixkvm.Contracts;
using Quantixkvm.Domain.Hosts;

namespace Quantixkvm.Agent;

/// <summary>The node agent's settings (section "Agent").</summary>
public sealed class AgentOptions
{
    public const string Section = "Agent";

    /// <summary>The host's name in the cluster; its id is derived from it, so a restarted agent is the same host.</summary>
    public string HostName { get; set; } = Environment.MachineName;

    /// <summary>libvirt's test driver by default, so the agent runs on any machine; qemu:///system on a real host.</summary>
    public string LibvirtUri { get; set; } = "test:///default";

    public double HeartbeatSeconds { get; set; } = 5;

    public double InventorySeconds { get; set; } = 60;

    /// <summary>How long before an operation's deadline a graceful shutdown is given up, so the failure is reported in time.</summary>
    public double DeadlineMarginSeconds { get; set; } = 1;

    /// <summary>
    /// The only host folders a volume may be imported from with a <c>file://</c> URL (symbolic links are
    /// resolved before the check). Empty, the default: no file imports at all.
    /// </summary>
    public List<string> ImportRoots { get; set; } = [];

    /// <summary>Where the cloud-init NoCloud seed images (<c>qkvm-&lt;vm&gt;-cidata.iso</c>) are written; QEMU must be able to read it.</summary>
    public string SeedDirectory { get; set; } = "/var/lib/quantixkvm/seeds";

    /// <summary>
    /// Where each QEMU guest's serial console is logged (<c>qkvm-&lt;vm&gt;.log</c>); created when missing, and it
    /// must be writable by the libvirt daemon's user. Not used with libvirt's test driver.
    /// </summary>
    public string ConsoleLogDirectory { get; set; } = "/var/log/quantixkvm/console";

    /// <summary>
    /// The agent's own scratch folder (created when missing, readable by the agent alone): an import into an RBD pool
    /// is downloaded and checked here before it is written into Ceph, and removed afterwards whatever happens.
    /// It must have room for the largest image imported into Ceph.
    /// </summary>
    public string WorkDirectory { get; set; } = "/var/lib/quantixkvm/work";

    /// <summary>
    /// The address other hosts' QEMU sends a live migration's stream to when a VM moves here (this host's address on the
    /// migration network); registered with the control plane, which puts it in the source's migrate command. Null, the
    /// default: libvirt's choice (the target's hostname as libvirt resolves it).
    /// </summary>
    public string? MigrateAddress { get; set; }

    /// <summary>
    /// How another host's libvirt reaches this host's libvirt for a live migration (e.g. <c>qemu+tls://host-1/system</c>):
    /// registered with the control plane, which gives it to the source of a migration to here. Null, the default: <see cref="LibvirtUri"/>.
    /// </summary>
    public string? PeerLibvirtUri { get; set; }

    /// <summary>
    /// Migrate with libvirt's UNSAFE flag: for local-file disks on a path every host sees that libvirt cannot tell is shared
    /// (e.g. two daemons on one machine). Off by default: on NFS/CephFS with cache=none, or with RBD disks, libvirt knows
    /// migration is safe; elsewhere it refuses (LIBVIRT_MIGRATE_UNSAFE) rather than risk the disk.
    /// </summary>
    public bool AllowUnsafeMigration { get; set; }

    /// <summary>
    /// The shared lease folder; the storage-lease fencing is off while it is null (the default). When set, the agent writes
    /// its <see cref="HostLease"/> (<c>{hostId:N}.lease</c>) there every <see cref="LeaseRenewSeconds"/>, and when it has not
    /// managed to for <see cref="SelfFenceSeconds"/> it powers off every Quantixkvm VM on this host (self-fencing), because the
    /// control plane may then restart them elsewhere. The folder must be on storage that every host and the control plane
    /// share (NFS, CephFS): a lease on local disk proves nothing to anyone else.
    /// <para>
    /// This only covers an agent that is alive but cut off from the storage. A host whose agent dies, hangs or is killed
    /// stops renewing too, and then nothing powers its VMs off: the control plane would restart them elsewhere while they
    /// still run here, writing to the same disks. A production host therefore also needs a hardware or kernel watchdog
    /// (e.g. <c>/dev/watchdog</c> fed by the agent, or sanlock/wdmd) that resets the host when the agent stops feeding it
    /// within the self-fence time. Do not rely on the lease alone.
    /// </para>
    /// </summary>
    public string? LeaseDirectory { get; set; }

    /// <summary>How often the lease is rewritten (default 1 s).</summary>
    public double LeaseRenewSeconds { get; set; } = 1;

    /// <summary>
    /// How long the agent may fail to renew its lease before it powers its VMs off (default 10 s); written into the lease, so
    /// the control plane knows how long a still counter must stand before the host's VMs are surely off.
    /// </summary>
    public double SelfFenceSeconds { get; set; } = 10;

    /// <summary>How this host authenticates to Ceph for RBD pools; the key never comes over the wire.</summary>
    public CephOptions Ceph { get; set; } = new();

    /// <summary>Where this host's Open vSwitch and OVN databases are, and how `ip` is run (section "Agent:Network").</summary>
    public NetworkOptions Network { get; set; } = new();

    public Guid HostId => HostDecider.HostIdFor(HostName);
}

/// <summary>
/// The cephx key of the pools' Ceph user (<c>CephUser</c> of the pool, e.g. <c>libvirt</c> for
/// <c>client.libvirt</c>): <see cref="Key"/> when set, else the <c>[client.USER]</c> entry of the keyring
/// at <see cref="KeyringPath"/>, else of <c>/etc/ceph/ceph.client.USER.keyring</c>. libvirt gets the key in a
/// secret; the agent's own Ceph tools (<c>rbd</c>, <c>qemu-img</c>) get the keyring file and <see cref="ConfPath"/>.
/// </summary>
public sealed class CephOptions
{
    /// <summary>The folder of Ceph's default configuration and keyrings.</summary>
    public const string DefaultFolder = "/etc/ceph";

    /// <summary>
    /// The ceph.conf the agent's Ceph tools read (default <c>/etc/ceph/ceph.conf</c>). When the file does not
    /// exist they find the cluster through the pool's monitors alone.
    /// </summary>
    public string ConfPath { get; set; } = Path.Combine(DefaultFolder, "ceph.conf");

    /// <summary>A keyring file (as ceph-authtool writes it) holding the user's <c>key = ...</c>; default <c>/etc/ceph/ceph.client.USER.keyring</c>.</summary>
    public string? KeyringPath { get; set; }

    /// <summary>The base64 cephx key itself; prefer a keyring file readable only by the agent.</summary>
    public string? Key { get; set; }

    /// <summary>The keyring file of a Ceph user: <see cref="KeyringPath"/>, else the default for the user.</summary>
    public string KeyringPathFor(string cephUser) =>
        string.IsNullOrWhiteSpace(KeyringPath) ? Path.Combine(DefaultFolder, $"ceph.client.{cephUser}.keyring") : KeyringPath;
}

/// <summary>
/// What the agent needs to realize networks on this host (ADR 13). Linux bridge networks need only `ip`; OVS and overlay
/// networks need <see cref="OvsDb"/>; writing OVN's cluster-wide state needs <see cref="OvnNorthboundDb"/>.
/// </summary>
public sealed class NetworkOptions
{
    /// <summary>
    /// False: this agent leaves the host's networking alone and reports nothing for it (the fleet simulator's thousands of
    /// agents share one real machine). True, the default.
    /// </summary>
    public bool Enabled { get; set; } = true;

    /// <summary>
    /// The Open vSwitch database of this host, as ovs-vsctl's --db takes it: <c>unix:/var/run/openvswitch/db.sock</c> or
    /// <c>tcp:127.0.0.1:6640</c>. Null, the default: this host has no OVS, and its ovs and overlay networks are reported
    /// failed, naming this setting.
    /// </summary>
    public string? OvsDb { get; set; }

    /// <summary>
    /// ovs-vswitchd's run folder, where it serves each bridge's OpenFlow management socket (<c>BRIDGE.mgmt</c>), which
    /// the agent's `ovs-ofctl` calls use to write the security groups of ovs networks: e.g. <c>/var/run/openvswitch</c>.
    /// Null, the default: the folder of <see cref="OvsDb"/>'s unix socket (OVS keeps db.sock there too).
    /// </summary>
    public string? OvsRunDir { get; set; }

    /// <summary>
    /// OVN's northbound database (e.g. <c>unix:/var/run/ovn/ovnnb_db.sock</c> or <c>tcp:10.0.0.1:6641</c>). When set the
    /// agent tells the control plane it can write it, and the control plane may choose it as the one writer of logical
    /// switches, ports, DHCP and security groups. Null, the default: never chosen.
    /// </summary>
    public string? OvnNorthboundDb { get; set; }

    /// <summary>
    /// Put before every `ip`, `nft` and `ovs-ofctl` command, for an agent that does not run as root: e.g. <c>["sudo", "-n"]</c>. Empty,
    /// the default: they are run directly.
    /// </summary>
    public List<string> IpCommandPrefix { get; set; } = [];

    /// <summary>
    /// Who plugs a VM's NIC into its network. <c>libvirt</c>, the default: libvirt makes the TAP and plugs it (into an Open
    /// vSwitch bridge with ovs-vsctl, which needs libvirt as root, as <c>qemu:///system</c> runs). <c>agent</c>: the agent
    /// makes the TAP itself (<c>ip tuntap</c>, owned by <see cref="TapOwner"/>), plugs it (a Linux bridge's port, or an
    /// OVS port with iface-id, attached-mac and vm-id), and gives libvirt <c>&lt;interface type='ethernet'&gt;</c> on it, as
    /// OpenStack's os-vif does: an unprivileged libvirt (a session daemon) can then run guests on OVS and overlay networks.
    /// The TAPs live where `ip` runs (<see cref="IpCommandPrefix"/>), which must be the network namespace of ovs-vswitchd and of QEMU.
    /// </summary>
    public string PlugMode { get; set; } = "libvirt";

    /// <summary>
    /// In plug mode <c>agent</c>: the user the TAPs belong to, the one QEMU runs as (e.g. <c>libvirt-qemu</c> under
    /// qemu:///system, the session daemon's user otherwise), so that QEMU can open them without privileges. Required there.
    /// </summary>
    public string? TapOwner { get; set; }
}
