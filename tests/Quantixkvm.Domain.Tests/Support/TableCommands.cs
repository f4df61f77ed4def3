using Quantixkvm.Domain.Vms;

namespace Quantixkvm.Domain.Tests.Support;

/// <summary>What the tests expect of one row of <see cref="VmPreconditions.Table"/>, written out independently of the domain.</summary>
internal sealed record TableCommand(
    string Name, OperationKind Kind, bool Force, PowerState DesiredAfter, TimeSpan Timeout, Func<string, VmLifecycleCommand> Make);

internal static class TableCommands
{
    public static TableCommand For(string name) => name switch
    {
        "start" => new(name, OperationKind.Start, false, PowerState.Running, Fixed.Timeouts.Start, id => Cmd.Start(id)),
        "stop" => new(name, OperationKind.Stop, false, PowerState.Stopped, Fixed.Timeouts.Stop, id => Cmd.Stop(id)),
        "stop --force" => new(name, OperationKind.Stop, true, PowerState.Stopped, Fixed.Timeouts.ForceStop, id => Cmd.ForceStop(id)),
        "reboot" => new(name, OperationKind.Reboot, false, PowerState.Running, Fixed.Timeouts.Reboot, id => Cmd.Reboot(id)),
        "pause" => new(name, OperationKind.Pause, false, PowerState.Paused, Fixed.Timeouts.Pause, id => Cmd.Pause(id)),
        "resume" => new(name, OperationKind.Resume, false, PowerState.Running, Fixed.Timeouts.Resume, id => Cmd.Resume(id)),
        "delete" => new(name, OperationKind.Delete, false, PowerState.Stopped, Fixed.Timeouts.Delete, id => Cmd.Delete(id)),
        _ => throw new InvalidOperationException(
            $"VmPreconditions.Table has a row '{name}' the tests do not know: add it to TableCommands"),
    };

    public static IEnumerable<string> Names => VmPreconditions.Table.Select(row => row.Command);

    public static string Upper(PowerState state) => state.ToString().ToUpperInvariant();
}
