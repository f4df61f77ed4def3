using Quantixkvm.Domain.Hosts;
using Quantixkvm.Domain.Vms;

namespace Quantixkvm.Domain;

/// <summary>
/// The stable, versioned name each stored event goes by. Never the CLR type name: renaming a
/// class must not orphan history. A changed shape gets a new name (…v2) and an upcaster.
/// </summary>
public static class EventCatalog
{
    public static IReadOnlyList<(Type Type, string Name)> All { get; } =
    [
        (typeof(VmCreated), "vm.created.v1"),
        (typeof(VmOperationRequested), "vm.operation-requested.v1"),
        (typeof(VmOperationStarted), "vm.operation-started.v1"),
        (typeof(VmOperationSucceeded), "vm.operation-succeeded.v1"),
        (typeof(VmOperationFailed), "vm.operation-failed.v1"),
        (typeof(VmOperationTimedOut), "vm.operation-timed-out.v1"),
        (typeof(VmPowerStateObserved), "vm.power-state-observed.v1"),
        (typeof(VmDeleted), "vm.deleted.v1"),
        (typeof(HostRegistered), "host.registered.v1"),
        (typeof(HostFactsChanged), "host.facts-changed.v1"),
    ];
}
