using Quantixkvm.Domain.Clusters;
using Quantixkvm.Domain.Tests.Support;

namespace Quantixkvm.Domain.Tests;

/// <summary>
/// What a cluster records of DRS: each evaluation's new proposals, the dismissal of open ones it no longer makes, and an
/// operator's (or automatic DRS's) decision to apply or dismiss an open one.
/// </summary>
public class DrsRecommendations
{
    private static readonly DrsRecommendation AToTarget = Cluster.Move(Cluster.VmA, Fixed.HostId, Host.Target);
    private static readonly DrsRecommendation BToThird = Cluster.Move(Cluster.VmB, Fixed.HostId, Host.Third);
    private static readonly DrsRecommendation CToTarget = Cluster.Move(Cluster.VmC, Host.Third, Host.Target);

    private static ApplyRecommendation Apply(Guid recommendationId) => new(Fixed.Context("apply-1"), recommendationId);

    private static DismissRecommendation Dismiss(Guid recommendationId, string reason = "kvm-02 is about to be patched") =>
        new(Fixed.Context("dismiss-1"), recommendationId, reason);

    private static DrsRecommendationDismissed NoLongerRecommended(DrsRecommendation recommendation) =>
        new(Cluster.Id, recommendation.RecommendationId, "no longer recommended by the latest evaluation", "system:drs", Fixed.Now);

    [Fact]
    public void the_proposals_of_an_evaluation_are_recorded_in_its_order()
    {
        var state = ClusterSpec.Given(Cluster.Created())
            .When(Cluster.Evaluation(BToThird, AToTarget))
            .ThenEvents(new DrsRecommended(Cluster.Id, BToThird, Fixed.Now), new DrsRecommended(Cluster.Id, AToTarget, Fixed.Now))
            .WithOperationId(null)
            .ThenState();

        state.OpenRecommendations.Count.ShouldBe(2);
        state.OpenRecommendations[AToTarget.RecommendationId].ShouldBe(AToTarget);
    }

    [Fact]
    public void a_balanced_cluster_with_nothing_open_records_nothing()
    {
        ClusterSpec.Given(Cluster.Created()).When(Cluster.Evaluation()).ThenNothingChanges(null);
    }

    [Fact]
    public void an_evaluation_that_repeats_the_last_one_records_nothing()
    {
        ClusterSpec.Given(Cluster.Created(), Cluster.Recommended(AToTarget), Cluster.Recommended(BToThird))
            .When(Cluster.Evaluation(AToTarget, BToThird))
            .ThenNothingChanges(null);
    }

    [Fact]
    public void a_later_evaluation_proposing_the_same_moves_under_new_ids_records_nothing()
    {
        ClusterSpec.Given(Cluster.Created(), Cluster.Recommended(AToTarget))
            .When(Cluster.Evaluation(Cluster.Move(Cluster.VmA, Fixed.HostId, Host.Target, evaluation: "drs-eval-2")))
            .ThenNothingChanges(null);
    }

    [Fact]
    public void an_open_recommendation_the_latest_evaluation_no_longer_makes_is_dismissed()
    {
        var state = ClusterSpec.Given(Cluster.Created(), Cluster.Recommended(AToTarget), Cluster.Recommended(BToThird))
            .When(Cluster.Evaluation(BToThird))
            .ThenEvents(NoLongerRecommended(AToTarget))
            .ThenState();

        state.OpenRecommendations.Keys.ShouldBe([BToThird.RecommendationId]);
    }

    [Fact]
    public void a_vm_proposed_for_another_host_has_its_old_recommendation_dismissed_and_the_new_one_recorded()
    {
        var aToThird = Cluster.Move(Cluster.VmA, Fixed.HostId, Host.Third, evaluation: "drs-eval-2");

        ClusterSpec.Given(Cluster.Created(), Cluster.Recommended(AToTarget))
            .When(Cluster.Evaluation(aToThird))
            .ThenEvents(NoLongerRecommended(AToTarget), new DrsRecommended(Cluster.Id, aToThird, Fixed.Now));
    }

    [Fact]
    public void an_evaluation_keeps_dismisses_and_records_at_once_dismissals_first()
    {
        var (first, second) = AToTarget.RecommendationId.CompareTo(BToThird.RecommendationId) < 0 ? (AToTarget, BToThird) : (BToThird, AToTarget);

        var state = ClusterSpec.Given(Cluster.Created(), Cluster.Recommended(second), Cluster.Recommended(first), Cluster.Recommended(CToTarget))
            .When(Cluster.Evaluation(Cluster.Move(Cluster.VmA, Host.Third, Host.Target, evaluation: "drs-eval-2"), CToTarget))
            .ThenEvents(
                NoLongerRecommended(first),
                NoLongerRecommended(second),
                new DrsRecommended(Cluster.Id, Cluster.Move(Cluster.VmA, Host.Third, Host.Target, evaluation: "drs-eval-2"), Fixed.Now))
            .ThenState();

        state.OpenRecommendations.Count.ShouldBe(2);
        state.OpenRecommendations.ShouldContainKey(CToTarget.RecommendationId);
    }

    [Fact]
    public void a_balanced_cluster_dismisses_every_open_recommendation()
    {
        ClusterSpec.Given(Cluster.Created(), Cluster.Recommended(AToTarget))
            .When(Cluster.Evaluation())
            .ThenEvents(NoLongerRecommended(AToTarget))
            .ThenState().OpenRecommendations.ShouldBeEmpty();
    }

    [Fact]
    public void an_evaluation_that_proposes_the_same_move_twice_records_it_once()
    {
        var again = Cluster.Move(Cluster.VmA, Fixed.HostId, Host.Target, evaluation: "drs-eval-1b");

        ClusterSpec.Given(Cluster.Created())
            .When(Cluster.Evaluation(AToTarget, again))
            .ThenEvents(new DrsRecommended(Cluster.Id, AToTarget, Fixed.Now));
    }

    [Fact]
    public void an_evaluation_arriving_after_drs_was_turned_off_records_nothing()
    {
        var off = ClusterSettings.Default with { DrsMode = DrsMode.Off };

        ClusterSpec.Given(Cluster.Created(), new ClusterConfigured(Cluster.Id, off, Fixed.Earlier))
            .When(Cluster.Evaluation(AToTarget))
            .ThenNothingChanges(null);
    }

    [Fact]
    public void a_recommendations_id_follows_from_the_move_and_the_evaluation()
    {
        var id = ClusterDecider.RecommendationIdFor(Cluster.Id, Cluster.VmA, Fixed.HostId, Host.Target, "drs-eval-1");

        id.ShouldBe(ClusterDecider.RecommendationIdFor(Cluster.Id, Cluster.VmA, Fixed.HostId, Host.Target, "drs-eval-1"));
        id.ShouldNotBe(ClusterDecider.RecommendationIdFor(Cluster.Id, Cluster.VmA, Host.Target, Fixed.HostId, "drs-eval-1"));
        id.ShouldNotBe(ClusterDecider.RecommendationIdFor(Cluster.Id, Cluster.VmB, Fixed.HostId, Host.Target, "drs-eval-1"));
        id.ShouldNotBe(ClusterDecider.RecommendationIdFor(Cluster.Id, Cluster.VmA, Fixed.HostId, Host.Target, "drs-eval-2"));
    }

    [Fact]
    public void an_open_recommendation_is_applied_and_closed()
    {
        var state = ClusterSpec.Given(Cluster.Created(), Cluster.Recommended(AToTarget), Cluster.Recommended(BToThird))
            .When(Apply(AToTarget.RecommendationId))
            .ThenEvents(new DrsRecommendationApplied(Cluster.Id, AToTarget.RecommendationId, Fixed.Actor, Fixed.Now))
            .ThenState();

        state.OpenRecommendations.Keys.ShouldBe([BToThird.RecommendationId]);
    }

    [Fact]
    public void an_open_recommendation_is_dismissed_with_the_reason_given()
    {
        ClusterSpec.Given(Cluster.Created(), Cluster.Recommended(AToTarget))
            .When(Dismiss(AToTarget.RecommendationId))
            .ThenEvents(new DrsRecommendationDismissed(Cluster.Id, AToTarget.RecommendationId, "kvm-02 is about to be patched", Fixed.Actor, Fixed.Now))
            .ThenState().OpenRecommendations.ShouldBeEmpty();
    }

    public static TheoryData<string> ClosedHistories => new() { "applied", "dismissed", "superseded", "never made" };

    private static ClusterEvent[] Closed(string how) => how switch
    {
        "applied" => [Cluster.Created(), Cluster.Recommended(AToTarget), new DrsRecommendationApplied(Cluster.Id, AToTarget.RecommendationId, Fixed.Actor, Fixed.Earlier)],
        "dismissed" => [Cluster.Created(), Cluster.Recommended(AToTarget), new DrsRecommendationDismissed(Cluster.Id, AToTarget.RecommendationId, "no", Fixed.Actor, Fixed.Earlier)],
        "superseded" => [Cluster.Created(), Cluster.Recommended(AToTarget), NoLongerRecommended(AToTarget) with { DismissedAt = Fixed.Earlier }],
        _ => [Cluster.Created(), Cluster.Recommended(BToThird)],
    };

    [Theory]
    [MemberData(nameof(ClosedHistories))]
    public void only_an_open_recommendation_can_be_applied(string how)
    {
        ClusterSpec.Given(Closed(how))
            .When(Apply(AToTarget.RecommendationId))
            .ThenRejected(RejectionCode.NotFound, containing: $"recommendation {AToTarget.RecommendationId} is not open in cluster 'prod'")
            .Command.ShouldBe("apply-recommendation");
    }

    [Theory]
    [MemberData(nameof(ClosedHistories))]
    public void only_an_open_recommendation_can_be_dismissed(string how)
    {
        ClusterSpec.Given(Closed(how))
            .When(Dismiss(AToTarget.RecommendationId))
            .ThenRejected(RejectionCode.NotFound, containing: $"recommendation {AToTarget.RecommendationId} is not open in cluster 'prod'")
            .Command.ShouldBe("dismiss-recommendation");
    }
}
