using Quantixkvm.Domain.Clusters;
using Quantixkvm.Domain.Hosts;
using Quantixkvm.Domain.Networks;
using Quantixkvm.Domain.Storage;
using Quantixkvm.Domain.Templates;
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
        (typeof(VmDiskAttachRequested), "vm.disk-attach-requested.v1"),
        (typeof(VmDiskAttached), "vm.disk-attached.v1"),
        (typeof(VmDiskDetachRequested), "vm.disk-detach-requested.v1"),
        (typeof(VmDiskDetached), "vm.disk-detached.v1"),
        (typeof(VmCloudInitConfigured), "vm.cloud-init-configured.v1"),
        (typeof(VmSnapshotRequested), "vm.snapshot-requested.v1"),
        (typeof(VmSnapshotTaken), "vm.snapshot-taken.v1"),
        (typeof(VmSnapshotReverted), "vm.snapshot-reverted.v1"),
        (typeof(VmSnapshotDeleted), "vm.snapshot-deleted.v1"),
        (typeof(VmDiskDriftObserved), "vm.disk-drift-observed.v1"),
        (typeof(VmMigrationRequested), "vm.migration-requested.v1"),
        (typeof(VmRelocated), "vm.relocated.v1"),
        (typeof(VmMigrated), "vm.migrated.v1"),
        (typeof(VmMigrationFailed), "vm.migration-failed.v1"),
        (typeof(VmMigrationCancelRequested), "vm.migration-cancel-requested.v1"),
        (typeof(VmHaPrioritySet), "vm.ha-priority-set.v1"),
        (typeof(VmRecoveryBlocked), "vm.recovery-blocked.v1"),
        (typeof(VmPlaced), "vm.placed.v1"),
        (typeof(HostRegistered), "host.registered.v1"),
        (typeof(HostFactsChanged), "host.facts-changed.v1"),
        (typeof(HostLabelsChanged), "host.labels-changed.v1"),
        (typeof(HostClusterAssigned), "host.cluster-assigned.v1"),
        (typeof(HostFencingConfigured), "host.fencing-configured.v1"),
        (typeof(HostUnreachable), "host.unreachable.v1"),
        (typeof(HostFencingStarted), "host.fencing-started.v1"),
        (typeof(HostFenceAttemptFailed), "host.fence-attempt-failed.v1"),
        (typeof(HostFencingFailed), "host.fencing-failed.v1"),
        (typeof(HostFenced), "host.fenced.v1"),
        (typeof(HostRecovered), "host.recovered.v1"),
        (typeof(HostMaintenanceRequested), "host.maintenance-requested.v1"),
        (typeof(HostEvacuationIncomplete), "host.evacuation-incomplete.v1"),
        (typeof(HostMaintenanceEntered), "host.maintenance-entered.v1"),
        (typeof(HostMaintenanceExited), "host.maintenance-exited.v1"),
        (typeof(HostDecommissioned), "host.decommissioned.v1"),
        (typeof(ClusterCreated), "cluster.created.v1"),
        (typeof(ClusterConfigured), "cluster.configured.v1"),
        (typeof(AffinityRuleAdded), "cluster.affinity-rule-added.v1"),
        (typeof(AffinityRuleRemoved), "cluster.affinity-rule-removed.v1"),
        (typeof(DrsRecommended), "cluster.drs-recommended.v1"),
        (typeof(DrsRecommendationApplied), "cluster.drs-recommendation-applied.v1"),
        (typeof(DrsRecommendationDismissed), "cluster.drs-recommendation-dismissed.v1"),
        (typeof(ClusterDeleted), "cluster.deleted.v1"),
        (typeof(StoragePoolDefined), "storage-pool.defined.v1"),
        (typeof(StoragePoolCapacityObserved), "storage-pool.capacity-observed.v1"),
        (typeof(StoragePoolDeleted), "storage-pool.deleted.v1"),
        (typeof(VolumeCreated), "volume.created.v1"),
        (typeof(VolumeObserved), "volume.observed.v1"),
        (typeof(VolumeSnapshotTaken), "volume.snapshot-taken.v1"),
        (typeof(VolumeReverted), "volume.reverted.v1"),
        (typeof(VolumeSnapshotDeleted), "volume.snapshot-deleted.v1"),
        (typeof(VolumeDeleted), "volume.deleted.v1"),
        (typeof(StorageOperationRequested), "storage.operation-requested.v1"),
        (typeof(StorageOperationStarted), "storage.operation-started.v1"),
        (typeof(StorageOperationSucceeded), "storage.operation-succeeded.v1"),
        (typeof(StorageOperationFailed), "storage.operation-failed.v1"),
        (typeof(StorageOperationTimedOut), "storage.operation-timed-out.v1"),
        (typeof(TemplateCreated), "template.created.v1"),
        (typeof(TemplateDeleted), "template.deleted.v1"),
        (typeof(NetworkCreated), "network.created.v1"),
        (typeof(NetworkUpdated), "network.updated.v1"),
        (typeof(NetworkSubnetAdded), "network.subnet-added.v1"),
        (typeof(NetworkSubnetRemoved), "network.subnet-removed.v1"),
        (typeof(NetworkPortAdded), "network.port-added.v1"),
        (typeof(NetworkPortRemoved), "network.port-removed.v1"),
        (typeof(NetworkPortSecurityGroupsSet), "network.port-security-groups-set.v1"),
        (typeof(NetworkRealizedOnHost), "network.realized-on-host.v1"),
        (typeof(NetworkRealizationFailed), "network.realization-failed.v1"),
        (typeof(NetworkDeleted), "network.deleted.v1"),
        (typeof(SecurityGroupCreated), "security-group.created.v1"),
        (typeof(SecurityGroupRuleAdded), "security-group.rule-added.v1"),
        (typeof(SecurityGroupRuleRemoved), "security-group.rule-removed.v1"),
        (typeof(SecurityGroupDeleted), "security-group.deleted.v1"),
    ];
}
