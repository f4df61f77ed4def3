using Quantixkvm.Domain.Clusters;
using Quantixkvm.Domain.Placement;
using Quantixkvm.Domain.Tests.Support;

namespace Quantixkvm.Domain.Tests;

/// <summary>A cluster's life: created with checked settings, reconfigured, given affinity rules, deleted once empty.</summary>
public class ManagingClusters
{
    private static readonly ClusterSettings Defaults = ClusterSettings.Default;

    private static CreateCluster Create(string name = Cluster.Name, ClusterSettings? settings = null, string commandId = Cluster.CommandId) =>
        new(Fixed.Context(commandId), ClusterDecider.ClusterIdFor(commandId), name, settings ?? Defaults);

    private static ConfigureCluster Configure(ClusterSettings settings) => new(Fixed.Context("configure-cluster-1"), settings);

    private static AddAffinityRule Add(AffinityRule rule) => new(Fixed.Context("add-rule-" + rule.Name), rule);

    private static RemoveAffinityRule Remove(Guid ruleId) => new(Fixed.Context("remove-rule-1"), ruleId);

    private static DeleteCluster Delete(int hostsRemaining) => new(Fixed.Context("delete-cluster-1"), hostsRemaining);

    private static readonly Guid OtherRuleId = new("00000000-0000-4000-8000-0000000000e2");

    private static readonly AffinityRule Apart = Cluster.Rule("web-apart", AffinityKind.VmAntiAffinity, [Cluster.VmA, Cluster.VmB]);

    [Fact]
    public void a_cluster_is_created_with_its_settings()
    {
        var settings = Defaults with { DrsMode = DrsMode.Automatic, PlacementStrategy = PlacementStrategy.Pack };

        var state = ClusterSpec.Given()
            .When(Create(settings: settings))
            .ThenEvents(new ClusterCreated(Cluster.Id, Cluster.Name, settings, Fixed.Now))
            .WithOperationId(null)
            .ThenState();

        state.Exists.ShouldBeTrue();
        state.ClusterId.ShouldBe(Cluster.Id);
        state.Name.ShouldBe(Cluster.Name);
        state.Settings.ShouldBe(settings);
        state.Rules.ShouldBeEmpty();
        state.OpenRecommendations.ShouldBeEmpty();
    }

    [Fact]
    public void the_default_settings_protect_vms_with_ha_and_let_an_operator_apply_drs_moves()
    {
        Defaults.ShouldBe(new ClusterSettings(
            HaEnabled: true, HostFailureDetectionSeconds: 15, DrsMode.Manual, DrsThreshold: 0.1, CpuOvercommit: 4.0, MemoryOvercommit: 1.0,
            PlacementStrategy.Spread));
        Defaults.Problems().ShouldBeEmpty();
    }

    [Fact]
    public void a_clusters_id_follows_from_the_command_that_created_it()
    {
        ClusterDecider.ClusterIdFor("create-cluster-1").ShouldBe(ClusterDecider.ClusterIdFor("create-cluster-1"));
        ClusterDecider.ClusterIdFor("create-cluster-1").ShouldNotBe(ClusterDecider.ClusterIdFor("create-cluster-2"));
    }

    [Fact]
    public void creating_it_again_with_the_same_command_changes_nothing()
    {
        ClusterSpec.Given(Cluster.Created()).When(Create()).ThenNothingChanges(null);
    }

    [Fact]
    public void reusing_the_command_id_for_another_name_is_a_conflict()
    {
        ClusterSpec.Given(Cluster.Created())
            .When(Create(name: "staging"))
            .ThenRejected(RejectionCode.Conflict, containing: "command id 'create-cluster-1' already created cluster 'prod'")
            .Command.ShouldBe("create-cluster");
    }

    public static TheoryData<string, string> InvalidNames => new()
    {
        { "", "cluster name must not be empty" },
        { "-prod", "cluster name '-prod' may contain only letters, digits, '.', '_' and '-'" },
        { "../prod", "cluster name '../prod' may contain only" },
        { "prod east", "cluster name 'prod east' may contain only" },
        { new string('c', 65), "cluster name must be at most 64 characters (got 65)" },
    };

    [Theory]
    [MemberData(nameof(InvalidNames))]
    public void a_cluster_with_an_invalid_name_is_refused(string name, string problem)
    {
        ClusterSpec.Given()
            .When(Create(name: name))
            .ThenRejected(RejectionCode.Validation, containing: problem)
            .Command.ShouldBe("create-cluster");
    }

    public static TheoryData<string, ClusterSettings, string> InvalidSettings => new()
    {
        { "detection too quick", Defaults with { HostFailureDetectionSeconds = 2.9 }, "host failure detection time must be 3 to 3600 seconds (got 2.9)" },
        { "detection too slow", Defaults with { HostFailureDetectionSeconds = 3601 }, "host failure detection time must be 3 to 3600 seconds (got 3601)" },
        { "threshold too low", Defaults with { DrsThreshold = 0.009 }, "DRS threshold must be between 0.01 and 1 (got 0.009)" },
        { "threshold too high", Defaults with { DrsThreshold = 1.5 }, "DRS threshold must be between 0.01 and 1 (got 1.5)" },
        { "CPU undercommit", Defaults with { CpuOvercommit = 0.5 }, "CPU overcommit must be 1 to 32 (got 0.5)" },
        { "CPU overcommit too high", Defaults with { CpuOvercommit = 33 }, "CPU overcommit must be 1 to 32 (got 33)" },
        { "memory undercommit", Defaults with { MemoryOvercommit = 0.9 }, "memory overcommit must be 1 to 4 (got 0.9); memory beyond 1.0 relies on ballooning or KSM" },
        { "memory overcommit too high", Defaults with { MemoryOvercommit = 4.5 }, "memory overcommit must be 1 to 4 (got 4.5); memory beyond 1.0 relies on ballooning or KSM" },
    };

    [Theory]
    [MemberData(nameof(InvalidSettings))]
    public void a_cluster_with_a_setting_out_of_bounds_is_refused(string what, ClusterSettings settings, string problem)
    {
        var rejection = ClusterSpec.Given().When(Create(settings: settings)).ThenRejected(RejectionCode.Validation);

        rejection.Message.ShouldBe(problem, what);
        rejection.Command.ShouldBe("create-cluster");
    }

    [Fact]
    public void settings_at_their_bounds_are_allowed()
    {
        var lowest = new ClusterSettings(false, 3, DrsMode.Off, 0.01, 1, 1, PlacementStrategy.Spread);
        var highest = new ClusterSettings(true, 3600, DrsMode.Automatic, 1, 32, 4, PlacementStrategy.Pack);

        lowest.Problems().ShouldBeEmpty();
        highest.Problems().ShouldBeEmpty();
        ClusterSpec.Given().When(Create(settings: highest)).ThenAccepted().Events.ShouldHaveSingleItem().ShouldBeOfType<ClusterCreated>();
    }

    [Fact]
    public void every_problem_of_a_new_cluster_is_named_at_once()
    {
        var rejection = ClusterSpec.Given()
            .When(Create(name: "", settings: Defaults with { DrsThreshold = 0, CpuOvercommit = 64 }))
            .ThenRejected(RejectionCode.Validation);

        rejection.Message.ShouldBe("cluster name must not be empty; DRS threshold must be between 0.01 and 1 (got 0); CPU overcommit must be 1 to 32 (got 64)");
    }

    [Fact]
    public void a_cluster_is_reconfigured()
    {
        var settings = Defaults with { HaEnabled = false, CpuOvercommit = 8 };

        ClusterSpec.Given(Cluster.Created())
            .When(Configure(settings))
            .ThenEvents(new ClusterConfigured(Cluster.Id, settings, Fixed.Now))
            .ThenState().Settings.ShouldBe(settings);
    }

    [Fact]
    public void configuring_the_settings_it_has_changes_nothing()
    {
        ClusterSpec.Given(Cluster.Created()).When(Configure(Defaults with { })).ThenNothingChanges(null);
    }

    [Fact]
    public void settings_out_of_bounds_are_refused_and_the_cluster_keeps_its_own()
    {
        ClusterSpec.Given(Cluster.Created())
            .When(Configure(Defaults with { HostFailureDetectionSeconds = 1, MemoryOvercommit = 8 }))
            .ThenRejected(RejectionCode.Validation,
                containing: "host failure detection time must be 3 to 3600 seconds (got 1); memory overcommit must be 1 to 4 (got 8)")
            .Command.ShouldBe("configure-cluster");
    }

    [Fact]
    public void turning_drs_off_dismisses_its_open_recommendations()
    {
        var first = Cluster.Move(Cluster.VmA, Fixed.HostId, Host.Target);
        var second = Cluster.Move(Cluster.VmB, Fixed.HostId, Host.Third);
        var (low, high) = first.RecommendationId.CompareTo(second.RecommendationId) < 0 ? (first, second) : (second, first);
        var off = Defaults with { DrsMode = DrsMode.Off };

        var state = ClusterSpec.Given(Cluster.Created(), Cluster.Recommended(high), Cluster.Recommended(low))
            .When(Configure(off))
            .ThenEvents(
                new ClusterConfigured(Cluster.Id, off, Fixed.Now),
                new DrsRecommendationDismissed(Cluster.Id, low.RecommendationId, "DRS was turned off", Fixed.Actor, Fixed.Now),
                new DrsRecommendationDismissed(Cluster.Id, high.RecommendationId, "DRS was turned off", Fixed.Actor, Fixed.Now))
            .ThenState();

        state.OpenRecommendations.ShouldBeEmpty();
        state.Settings.DrsMode.ShouldBe(DrsMode.Off);
    }

    [Fact]
    public void other_changes_keep_the_open_recommendations()
    {
        var move = Cluster.Move(Cluster.VmA, Fixed.HostId, Host.Target);
        var automatic = Defaults with { DrsMode = DrsMode.Automatic };

        ClusterSpec.Given(Cluster.Created(), Cluster.Recommended(move))
            .When(Configure(automatic))
            .ThenEvents(new ClusterConfigured(Cluster.Id, automatic, Fixed.Now))
            .ThenState().OpenRecommendations.Keys.ShouldBe([move.RecommendationId]);
    }

    [Fact]
    public void an_affinity_rule_is_added()
    {
        ClusterSpec.Given(Cluster.Created())
            .When(Add(Apart))
            .ThenEvents(new AffinityRuleAdded(Cluster.Id, Apart, Fixed.Now))
            .ThenState().Rules.ShouldBe([Apart]);
    }

    [Fact]
    public void a_vm_host_rule_is_added()
    {
        var onGpuHosts = Cluster.Rule("gpu-hosts", AffinityKind.HostAffinity, [Cluster.VmC], [Host.Target, Host.Third], enforcement: RuleEnforcement.Soft);

        ClusterSpec.Given(Cluster.Created())
            .When(Add(onGpuHosts))
            .ThenEvents(new AffinityRuleAdded(Cluster.Id, onGpuHosts, Fixed.Now));
    }

    [Fact]
    public void adding_a_rule_with_the_same_id_again_changes_nothing()
    {
        ClusterSpec.Given(Cluster.Created(), new AffinityRuleAdded(Cluster.Id, Apart, Fixed.Earlier))
            .When(Add(Apart with { Name = "renamed", VmIds = [Cluster.VmA, Cluster.VmC] }))
            .ThenNothingChanges(null);
    }

    [Fact]
    public void a_second_rule_with_the_same_name_is_refused()
    {
        ClusterSpec.Given(Cluster.Created(), new AffinityRuleAdded(Cluster.Id, Apart, Fixed.Earlier))
            .When(Add(Apart with { RuleId = OtherRuleId, Kind = AffinityKind.VmAffinity }))
            .ThenRejected(RejectionCode.Validation, containing: "cluster 'prod' already has a rule named 'web-apart'")
            .Command.ShouldBe("add-affinity-rule");
    }

    public static TheoryData<string, AffinityRule, string> InvalidRules => new()
    {
        { "no name", Cluster.Rule("", AffinityKind.VmAffinity, [Cluster.VmA, Cluster.VmB]), "rule name must not be empty" },
        { "a bad name", Cluster.Rule("web apart", AffinityKind.VmAffinity, [Cluster.VmA, Cluster.VmB]), "rule name 'web apart' may contain only" },
        { "one VM together", Cluster.Rule("r", AffinityKind.VmAffinity, [Cluster.VmA]), "a VM-VM rule needs at least two distinct VMs" },
        { "one VM apart", Cluster.Rule("r", AffinityKind.VmAntiAffinity, [Cluster.VmA]), "a VM-VM rule needs at least two distinct VMs" },
        { "the same VM twice", Cluster.Rule("r", AffinityKind.VmAntiAffinity, [Cluster.VmA, Cluster.VmA]), "a VM-VM rule needs at least two distinct VMs" },
        { "no VM on hosts", Cluster.Rule("r", AffinityKind.HostAffinity, [], [Host.Target]), "a VM-host rule needs at least one VM and one host" },
        { "no host to keep to", Cluster.Rule("r", AffinityKind.HostAffinity, [Cluster.VmA]), "a VM-host rule needs at least one VM and one host" },
        { "no host to keep off", Cluster.Rule("r", AffinityKind.HostAntiAffinity, [Cluster.VmA]), "a VM-host rule needs at least one VM and one host" },
    };

    [Theory]
    [MemberData(nameof(InvalidRules))]
    public void an_invalid_affinity_rule_is_refused(string what, AffinityRule rule, string problem)
    {
        ClusterSpec.Given(Cluster.Created())
            .When(Add(rule))
            .ThenRejected(RejectionCode.Validation, containing: problem)
            .Command.ShouldBe("add-affinity-rule", what);
    }

    [Fact]
    public void an_affinity_rule_is_removed_and_its_name_can_be_used_again()
    {
        var state = ClusterSpec.Given(Cluster.Created(), new AffinityRuleAdded(Cluster.Id, Apart, Fixed.Earlier))
            .When(Remove(Apart.RuleId))
            .ThenEvents(new AffinityRuleRemoved(Cluster.Id, Apart.RuleId, Fixed.Now))
            .ThenState();

        state.Rules.ShouldBeEmpty();
        ClusterSpec.Given(Cluster.Created(), new AffinityRuleAdded(Cluster.Id, Apart, Fixed.Earlier), new AffinityRuleRemoved(Cluster.Id, Apart.RuleId, Fixed.Earlier))
            .When(Add(Apart with { RuleId = OtherRuleId }))
            .ThenAccepted().Events.ShouldHaveSingleItem().ShouldBeOfType<AffinityRuleAdded>();
    }

    [Fact]
    public void removing_a_rule_the_cluster_does_not_have_is_not_found()
    {
        var unknown = new Guid("00000000-0000-4000-8000-0000000000ff");

        ClusterSpec.Given(Cluster.Created(), new AffinityRuleAdded(Cluster.Id, Apart, Fixed.Earlier))
            .When(Remove(unknown))
            .ThenRejected(RejectionCode.NotFound, containing: $"cluster 'prod' has no rule {unknown}");
    }

    [Fact]
    public void a_cluster_that_still_has_hosts_is_not_deleted()
    {
        ClusterSpec.Given(Cluster.Created())
            .When(Delete(hostsRemaining: 2))
            .ThenRejected(RejectionCode.InvalidState, containing: "cluster 'prod' still has 2 hosts; move them out first")
            .Command.ShouldBe("delete-cluster");
    }

    [Fact]
    public void an_empty_cluster_is_deleted()
    {
        ClusterSpec.Given(Cluster.Created())
            .When(Delete(hostsRemaining: 0))
            .ThenEvents(new ClusterDeleted(Cluster.Id, Fixed.Now))
            .ThenState().Deleted.ShouldBeTrue();
    }

    public static TheoryData<string> ClusterCommands => new()
    {
        "configure-cluster", "add-affinity-rule", "remove-affinity-rule", "record-drs-evaluation", "apply-recommendation", "dismiss-recommendation",
        "delete-cluster",
    };

    private static ClusterCommand CommandNamed(string name) => name switch
    {
        "configure-cluster" => Configure(Defaults with { HaEnabled = false }),
        "add-affinity-rule" => Add(Apart),
        "remove-affinity-rule" => Remove(Apart.RuleId),
        "record-drs-evaluation" => Cluster.Evaluation(),
        "apply-recommendation" => new ApplyRecommendation(Fixed.Context("apply-1"), Guid.Empty),
        "dismiss-recommendation" => new DismissRecommendation(Fixed.Context("dismiss-1"), Guid.Empty, "not now"),
        "delete-cluster" => Delete(0),
        _ => throw new ArgumentOutOfRangeException(nameof(name), name, "no such cluster command"),
    };

    [Theory]
    [MemberData(nameof(ClusterCommands))]
    public void a_command_to_a_cluster_that_does_not_exist_is_not_found(string command)
    {
        ClusterSpec.Given().When(CommandNamed(command)).ThenRejected(RejectionCode.NotFound, containing: "the cluster does not exist");
    }

    [Theory]
    [MemberData(nameof(ClusterCommands))]
    public void a_command_to_a_deleted_cluster_is_not_found(string command)
    {
        ClusterSpec.Given(Cluster.Created(), new ClusterDeleted(Cluster.Id, Fixed.Earlier))
            .When(CommandNamed(command))
            .ThenRejected(RejectionCode.NotFound, containing: "the cluster does not exist");
    }
}
