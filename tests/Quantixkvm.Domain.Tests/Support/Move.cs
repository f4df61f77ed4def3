using Quantixkvm.Domain.Vms;

namespace Quantixkvm.Domain.Tests.Support;

/// <summary>Moves of the fixed VM from its host (<see cref="Fixed.HostId"/>) to <see cref="Host.Target"/>: commands and histories.</summary>
internal static class Move
{
    public const string CommandId = "migrate-1";
    public const string Reason = "balance kvm-01";

    /// <summary>The id of the move started by "migrate-1": the id of its first operation.</summary>
    public static readonly Guid MigrationId = Fixed.OperationId(CommandId);

    /// <summary>The Recover step a cold move with restart runs on the target once the VM is off on the source.</summary>
    public static readonly Guid RecoverStep = VmDecider.RecoverStepIdFor(Fixed.VmId, MigrationId);

    /// <summary>A VM created to run, and running on its host with nothing under way.</summary>
    public static VmEvent[] Running() =>
    [
        Vm.Created(), Vm.Requested(OperationKind.Create, Fixed.CreateCommandId, desired: PowerState.Running),
        Vm.Succeeded(Fixed.CreateCommandId, PowerState.Running),
    ];

    /// <summary>A running VM that was then paused.</summary>
    public static VmEvent[] Paused() =>
        [.. Running(), Vm.Requested(OperationKind.Pause, "pause-1", desired: PowerState.Paused), Vm.Succeeded("pause-1", PowerState.Paused)];

    /// <summary>A VM that was never started: stopped, and meant to be.</summary>
    public static VmEvent[] Stopped() => Vm.IdleIn(PowerState.Stopped);

    public static MigrateVm Live(string commandId = CommandId, Guid? target = null) =>
        new(Fixed.Context(commandId), Fixed.Timeouts, target ?? Host.Target, MigrationMode.Live, RestartOnTarget: false, Reason);

    public static MigrateVm Cold(string commandId = CommandId, Guid? target = null, bool restartOnTarget = false) =>
        new(Fixed.Context(commandId), Fixed.Timeouts, target ?? Host.Target, MigrationMode.Cold, restartOnTarget, Reason);

    public static VmMigrationRequested Requested(MigrationMode mode, bool restartOnTarget = false, DateTimeOffset? at = null) =>
        new(Fixed.VmId, MigrationId, Fixed.HostId, Host.Target, mode, restartOnTarget, Reason, Fixed.Actor, at ?? Fixed.Now);

    /// <summary>The operation of the move's first step, as the decider records it when asked at <paramref name="at"/>.</summary>
    public static VmOperationRequested Step(
        Guid operationId, string commandId, OperationKind kind, bool force, PowerState desired, Guid hostId, DateTimeOffset? at = null,
        string actor = Fixed.Actor, TimeSpan? timeout = null, long sequence = 0)
    {
        var when = at ?? Fixed.Now;
        return new VmOperationRequested(
            Fixed.VmId, operationId, commandId, kind, force, desired, hostId, actor, when, when + (timeout ?? Fixed.Timeouts.For(kind, force)), sequence);
    }

    /// <summary>A running VM whose live move to the target is under way (asked for earlier).</summary>
    public static VmEvent[] LiveUnderWay() =>
    [
        .. Running(), Requested(MigrationMode.Live, at: Fixed.Earlier),
        Step(MigrationId, CommandId, OperationKind.Migrate, false, PowerState.Running, Fixed.HostId, Fixed.Earlier),
    ];

    /// <summary>A running VM being powered off on its host for a cold move with restart.</summary>
    public static VmEvent[] PoweringOffForColdMove() =>
    [
        .. Running(), Requested(MigrationMode.Cold, restartOnTarget: true, at: Fixed.Earlier),
        Step(MigrationId, CommandId, OperationKind.Stop, true, PowerState.Stopped, Fixed.HostId, Fixed.Earlier),
    ];

    /// <summary>A cold move with restart whose power-off is done: relocated, and being started on the target.</summary>
    public static VmEvent[] RecoveringOnTargetAfterPowerOff() =>
    [
        .. PoweringOffForColdMove(), Vm.Succeeded(CommandId, PowerState.Stopped),
        new VmRelocated(Fixed.VmId, Fixed.HostId, Host.Target, "cold migration: " + Reason, MigrationId, Fixed.Earlier),
        Step(RecoverStep, CommandId + ":recover", OperationKind.Recover, false, PowerState.Running, Host.Target, Fixed.Earlier, "system:migration",
            OperationTimeouts.Default.Create),
    ];

    /// <summary>A stopped VM whose cold move is relocated and being defined on the target.</summary>
    public static VmEvent[] ColdUnderWay() =>
    [
        .. Stopped(), Requested(MigrationMode.Cold, at: Fixed.Earlier),
        new VmRelocated(Fixed.VmId, Fixed.HostId, Host.Target, "cold migration: " + Reason, MigrationId, Fixed.Earlier),
        Step(MigrationId, CommandId, OperationKind.Recover, false, PowerState.Stopped, Host.Target, Fixed.Earlier),
    ];

    // What the agents report about the move's operations, by operation id.
    public static CompleteOperation Complete(Guid operationId, PowerState observed) => new(Fixed.Context("agent-done-" + operationId), operationId, observed);

    public static FailOperation Fail(Guid operationId, string code, string message, PowerState observed) =>
        new(Fixed.Context("agent-failed-" + operationId), operationId, code, message, observed);

    public static TimeOutOperation TimeOut(Guid operationId, DateTimeOffset now) => new(Fixed.Context("deadline-" + operationId, now), operationId);
}
