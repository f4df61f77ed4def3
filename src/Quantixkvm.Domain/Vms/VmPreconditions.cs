namespace Quantixkvm.Domain.Vms;

/// <summary>
/// Which lifecycle command is allowed in which observed power state. The same table is
/// documented in docs/vm-lifecycle.md; a test keeps the two in step.
/// Every command also needs the VM to exist and no other operation to be under way,
/// except a forced stop, which supersedes an in-flight start, stop, reboot, pause or resume.
/// </summary>
public static class VmPreconditions
{
    public static IReadOnlyList<(string Command, IReadOnlyList<PowerState> AllowedFrom)> Table { get; } =
    [
        ("start", [PowerState.Stopped]),
        ("stop", [PowerState.Running]),
        ("stop --force", [PowerState.Running, PowerState.Paused, PowerState.Unknown]),
        ("reboot", [PowerState.Running]),
        ("pause", [PowerState.Running]),
        ("resume", [PowerState.Paused]),
        ("delete", [PowerState.Stopped, PowerState.Unknown]),
        ("attach-disk", [PowerState.Stopped, PowerState.Running]),
        ("detach-disk", [PowerState.Stopped, PowerState.Running]),
        ("create-snapshot", [PowerState.Stopped, PowerState.Running, PowerState.Paused]),
        ("revert-snapshot", [PowerState.Stopped, PowerState.Running, PowerState.Paused]),
        ("delete-snapshot", [PowerState.Stopped, PowerState.Running, PowerState.Paused]),
        ("attach-nic", [PowerState.Stopped, PowerState.Running]),
        ("detach-nic", [PowerState.Stopped, PowerState.Running]),
    ];

    public static string CommandName(OperationKind kind, bool force) => kind switch
    {
        OperationKind.Stop when force => "stop --force",
        OperationKind.AttachDisk => "attach-disk",
        OperationKind.DetachDisk => "detach-disk",
        OperationKind.CreateSnapshot => "create-snapshot",
        OperationKind.RevertSnapshot => "revert-snapshot",
        OperationKind.DeleteSnapshot => "delete-snapshot",
        OperationKind.AttachNic => "attach-nic",
        OperationKind.DetachNic => "detach-nic",
        _ => kind.ToString().ToLowerInvariant(),
    };

    public static IReadOnlyList<PowerState> AllowedFrom(OperationKind kind, bool force)
    {
        var name = CommandName(kind, force);
        foreach (var (command, allowed) in Table)
        {
            if (command == name)
            {
                return allowed;
            }
        }

        throw new ArgumentOutOfRangeException(nameof(kind), kind, "no precondition row for this command");
    }

    /// <summary>A forced stop is the operator's way out of a hung start or shutdown.</summary>
    public static bool CanSupersede(VmOperation current, OperationKind kind, bool force) =>
        kind == OperationKind.Stop && force
        && current.Kind is (OperationKind.Start or OperationKind.Stop or OperationKind.Reboot or OperationKind.Pause or OperationKind.Resume)
        && !(current.Kind == OperationKind.Stop && current.Force);

    public static string TransitionName(OperationKind kind, bool force) => kind switch
    {
        OperationKind.Create => "CREATING",
        OperationKind.Start => "STARTING",
        OperationKind.Stop => force ? "POWERING_OFF" : "STOPPING",
        OperationKind.Reboot => "REBOOTING",
        OperationKind.Pause => "PAUSING",
        OperationKind.Resume => "RESUMING",
        OperationKind.Delete => "DELETING",
        OperationKind.AttachDisk => "ATTACHING_DISK",
        OperationKind.DetachDisk => "DETACHING_DISK",
        OperationKind.CreateSnapshot => "SNAPSHOTTING",
        OperationKind.RevertSnapshot => "REVERTING",
        OperationKind.DeleteSnapshot => "DELETING_SNAPSHOT",
        OperationKind.Migrate => "MIGRATING",
        OperationKind.Recover => "RECOVERING",
        OperationKind.AttachNic => "ATTACHING_NIC",
        OperationKind.DetachNic => "DETACHING_NIC",
        _ => "BUSY",
    };

    public static PowerState DesiredAfter(OperationKind kind, PowerState current) => kind switch
    {
        OperationKind.Start or OperationKind.Reboot or OperationKind.Resume => PowerState.Running,
        OperationKind.Stop or OperationKind.Delete => PowerState.Stopped,
        OperationKind.Pause => PowerState.Paused,
        _ => current,
    };
}
