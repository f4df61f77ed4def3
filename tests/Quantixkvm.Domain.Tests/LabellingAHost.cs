using Quantixkvm.Domain.Hosts;
using Quantixkvm.Domain.Tests.Support;

namespace Quantixkvm.Domain.Tests;

/// <summary>A host's labels (replaced as a whole, checked like Kubernetes labels) and the cluster it belongs to.</summary>
public class LabellingAHost
{
    private static SetHostLabels Labels(params (string Key, string Value)[] labels) =>
        new(Fixed.Context("labels-1"), labels.ToDictionary(l => l.Key, l => l.Value));

    private static SortedDictionary<string, string> Sorted(params (string Key, string Value)[] labels) =>
        new(labels.ToDictionary(l => l.Key, l => l.Value), StringComparer.Ordinal);

    private static AssignHostToCluster Assign(Guid? clusterId) => new(Fixed.Context("assign-1"), clusterId);

    [Fact]
    public void a_hosts_labels_are_recorded_in_key_order()
    {
        var state = HostSpec.Given(Host.Online())
            .When(Labels(("zone", "eu-1a"), ("rack", "r12"), ("gpu", "")))
            .ThenEvents(new HostLabelsChanged(Fixed.HostId, Sorted(("gpu", ""), ("rack", "r12"), ("zone", "eu-1a")), Fixed.Now))
            .WithOperationId(null)
            .ThenState();

        state.Labels.Keys.ShouldBe(["gpu", "rack", "zone"]);
        state.Labels["zone"].ShouldBe("eu-1a");
    }

    [Fact]
    public void setting_the_same_labels_in_another_order_changes_nothing()
    {
        HostSpec.Given([.. Host.Online(), new HostLabelsChanged(Fixed.HostId, Sorted(("rack", "r12"), ("zone", "eu-1a")), Fixed.Earlier)])
            .When(Labels(("zone", "eu-1a"), ("rack", "r12")))
            .ThenNothingChanges(null);
    }

    [Fact]
    public void new_labels_replace_the_old_ones_as_a_whole()
    {
        var state = HostSpec.Given([.. Host.Online(), new HostLabelsChanged(Fixed.HostId, Sorted(("rack", "r12"), ("zone", "eu-1a")), Fixed.Earlier)])
            .When(Labels(("rack", "r14")))
            .ThenEvents(new HostLabelsChanged(Fixed.HostId, Sorted(("rack", "r14")), Fixed.Now))
            .ThenState();

        state.Labels.ShouldHaveSingleItem().ShouldBe(new KeyValuePair<string, string>("rack", "r14"));
    }

    [Fact]
    public void an_empty_map_clears_the_labels()
    {
        HostSpec.Given([.. Host.Online(), new HostLabelsChanged(Fixed.HostId, Sorted(("rack", "r12")), Fixed.Earlier)])
            .When(Labels())
            .ThenEvents(new HostLabelsChanged(Fixed.HostId, Sorted(), Fixed.Now))
            .ThenState().Labels.ShouldBeEmpty();
    }

    [Fact]
    public void clearing_the_labels_of_a_host_without_any_changes_nothing()
    {
        HostSpec.Given(Host.Online()).When(Labels()).ThenNothingChanges(null);
    }

    [Fact]
    public void keys_and_values_of_63_characters_are_allowed()
    {
        var longest = "k" + new string('8', 62);

        HostSpec.Given(Host.Online())
            .When(Labels((longest, longest), ("topology.kubernetes.io/zone", "eu_1.a-2")))
            .ThenAccepted().Events.ShouldHaveSingleItem().ShouldBeOfType<HostLabelsChanged>();
    }

    public static TheoryData<string, string, string> InvalidLabels => new()
    {
        { "", "x", "label key '' must be 1-63 letters, digits" },
        { "-rack", "r1", "label key '-rack' must be" },
        { "/rack", "r1", "label key '/rack' must be" },
        { "rack space", "r1", "label key 'rack space' must be" },
        { "k" + new string('8', 63), "r1", "must be 1-63 letters" },
        { "rack", "r 1", "label 'rack' has value 'r 1': up to 63 letters, digits, '-', '_' or '.'" },
        { "rack", "r1/2", "label 'rack' has value 'r1/2'" },
        { "rack", "r;rm -rf", "label 'rack' has value 'r;rm -rf'" },
        { "rack", new string('v', 64), "label 'rack' has value 'vvvv" },
    };

    [Theory]
    [MemberData(nameof(InvalidLabels))]
    public void an_invalid_label_is_refused(string key, string value, string problem)
    {
        var rejection = HostSpec.Given(Host.Online())
            .When(Labels(("zone", "eu-1a"), (key, value)))
            .ThenRejected(RejectionCode.Validation, containing: problem);

        rejection.Command.ShouldBe("set-host-labels");
        rejection.State.ShouldBe("ONLINE");
    }

    [Fact]
    public void a_host_is_put_into_a_cluster()
    {
        HostSpec.Given(Host.Online())
            .When(Assign(Cluster.Id))
            .ThenEvents(new HostClusterAssigned(Fixed.HostId, Cluster.Id, Fixed.Now))
            .ThenState().ClusterId.ShouldBe(Cluster.Id);
    }

    [Fact]
    public void putting_a_host_into_its_own_cluster_again_changes_nothing()
    {
        HostSpec.Given([.. Host.Online(), new HostClusterAssigned(Fixed.HostId, Cluster.Id, Fixed.Earlier)])
            .When(Assign(Cluster.Id))
            .ThenNothingChanges(null);
    }

    [Fact]
    public void a_host_is_taken_out_of_its_cluster()
    {
        HostSpec.Given([.. Host.Online(), new HostClusterAssigned(Fixed.HostId, Cluster.Id, Fixed.Earlier)])
            .When(Assign(null))
            .ThenEvents(new HostClusterAssigned(Fixed.HostId, null, Fixed.Now))
            .ThenState().ClusterId.ShouldBeNull();
    }

    [Fact]
    public void taking_a_host_out_of_any_cluster_when_it_is_in_none_changes_nothing()
    {
        HostSpec.Given(Host.Online()).When(Assign(null)).ThenNothingChanges(null);
    }
}
