using Quantixkvm.Domain.Hosts;
using Quantixkvm.Domain.Vms;

namespace Quantixkvm.Domain.Tests.Support;

/// <summary>One clock reading and one set of ids for every test: nothing here is random or read from the machine.</summary>
internal static class Fixed
{
    public static readonly DateTimeOffset Now = new(2025, 6, 1, 12, 0, 0, TimeSpan.Zero);

    /// <summary>When the history of a VM happened, unless a test says otherwise.</summary>
    public static readonly DateTimeOffset Earlier = Now.AddHours(-1);

    public const string Actor = "alice@ops";
    public const string CreateCommandId = "create-web-1";
    public const string VmName = "web-1";
    public const int Vcpus = 2;
    public const int MemoryMiB = 2048;

    public static readonly Guid VmId = VmDecider.VmIdForCreate(CreateCommandId);
    public static readonly Guid HostId = HostDecider.HostIdFor("kvm-01");

    /// <summary>A different deadline for every kind of operation, so a deadline taken from the wrong kind shows.</summary>
    public static readonly OperationTimeouts Timeouts = new(
        Create: TimeSpan.FromMinutes(1),
        Start: TimeSpan.FromMinutes(2),
        Stop: TimeSpan.FromMinutes(3),
        ForceStop: TimeSpan.FromMinutes(4),
        Reboot: TimeSpan.FromMinutes(5),
        Pause: TimeSpan.FromMinutes(6),
        Resume: TimeSpan.FromMinutes(7),
        Delete: TimeSpan.FromMinutes(8),
        Disk: TimeSpan.FromMinutes(9),
        Snapshot: TimeSpan.FromMinutes(10));

    public static CommandContext Context(string commandId, DateTimeOffset? now = null) => new(commandId, Actor, now ?? Now);

    /// <summary>Volumes a VM's disks are made of; fixed so a test can name them in expected events.</summary>
    public static readonly Guid BootVolume = new("0b0070a1-0000-4000-8000-000000000001");
    public static readonly Guid DataVolume = new("0b0070a1-0000-4000-8000-000000000002");
    public static readonly Guid SpareVolume = new("0b0070a1-0000-4000-8000-000000000003");

    public const string SnapshotDescription = "before the upgrade";

    /// <summary>The id of the operation this command id starts on the fixed VM.</summary>
    public static Guid OperationId(string commandId) => VmDecider.OperationIdFor(VmId, commandId);
}
