using Quantixkvm.Domain.Hosts;
using Quantixkvm.Domain.Tests.Support;

namespace Quantixkvm.Domain.Tests;

/// <summary>
/// How a host is fenced (its fencers, checked when configured) and the fencing rounds themselves: only an unreachable host is
/// fenced, one round at a time; a fencer's success fences it, the last fencer's failure ends the round, a late verdict is a fact
/// without consequence.
/// </summary>
public class FencingAHost
{
    private static readonly RedfishFencing Bmc = new("https://bmc-kvm-01.example.net", "System.Embedded.1", "root", "kvm-01-bmc");
    private static readonly IpmiFencing Ipmi = new("10.0.0.41", "admin", "kvm-01-ipmi");

    private static ConfigureFencing Configure(HostFencing fencing) => new(Fixed.Context("configure-fencing-1"), fencing);

    [Fact]
    public void valid_fencing_is_recorded()
    {
        var fencing = new HostFencing(["redfish", "agent", "storage-lease"], Bmc);

        var state = HostSpec.Given(Host.Online())
            .When(Configure(fencing))
            .ThenEvents(new HostFencingConfigured(Fixed.HostId, fencing, Fixed.Now))
            .WithOperationId(null)
            .ThenState();

        state.Fencing.ShouldBe(fencing);
    }

    [Fact]
    public void configuring_the_same_fencing_again_changes_nothing()
    {
        HostSpec.Given([.. Host.Online(), new HostFencingConfigured(Fixed.HostId, new HostFencing(["ipmi", "agent"], Ipmi: Ipmi), Fixed.Earlier)])
            .When(Configure(new HostFencing(["ipmi", "agent"], Ipmi: Ipmi with { })))
            .ThenNothingChanges(null);
    }

    [Fact]
    public void configuring_other_fencing_records_the_change()
    {
        var reordered = new HostFencing(["agent", "ipmi"], Ipmi: Ipmi);

        HostSpec.Given([.. Host.Online(), new HostFencingConfigured(Fixed.HostId, new HostFencing(["ipmi", "agent"], Ipmi: Ipmi), Fixed.Earlier)])
            .When(Configure(reordered))
            .ThenEvents(new HostFencingConfigured(Fixed.HostId, reordered, Fixed.Now));
    }

    [Fact]
    public void the_default_fencing_asks_the_agent_then_relies_on_the_storage_lease_and_is_valid()
    {
        HostFencing.Default.Order.ShouldBe(["agent", "storage-lease"]);
        HostFencing.Check(HostFencing.Default).ShouldBeNull();
    }

    [Fact]
    public void every_known_fencer_can_be_configured_at_once()
    {
        HostFencing.Check(new HostFencing(["agent", "redfish", "ipmi", "storage-lease"], Bmc, Ipmi)).ShouldBeNull();
        HostFencing.Check(new HostFencing(["redfish"], Bmc with { Endpoint = "http://10.0.0.40:8000", VerifyTls = false })).ShouldBeNull();
    }

    public static TheoryData<string, HostFencing, string> InvalidFencing => new()
    {
        { "no fencer", new HostFencing([]), "fencing needs at least one fencer" },
        { "an unknown fencer", new HostFencing(["agent", "ssh"]), "unknown fencer 'ssh'; known: agent, redfish, ipmi, storage-lease" },
        { "a fencer in the wrong case", new HostFencing(["Agent"]), "unknown fencer 'Agent'" },
        { "a fencer listed twice", new HostFencing(["agent", "storage-lease", "agent"]), "a fencer is listed twice" },
        { "redfish without its details", new HostFencing(["redfish", "agent"]), "the redfish fencer needs its endpoint, user and password secret" },
        { "ipmi without its details", new HostFencing(["ipmi"], Redfish: Bmc), "the ipmi fencer needs its address, user and password secret" },
        { "a relative endpoint", new HostFencing(["redfish"], Bmc with { Endpoint = "bmc-kvm-01/redfish/v1" }), "redfish endpoint 'bmc-kvm-01/redfish/v1' is not an http(s) URL" },
        { "a non-http endpoint", new HostFencing(["redfish"], Bmc with { Endpoint = "ftp://bmc-kvm-01" }), "redfish endpoint 'ftp://bmc-kvm-01' is not an http(s) URL" },
        { "an empty endpoint", new HostFencing(["redfish"], Bmc with { Endpoint = "" }), "redfish endpoint '' is not an http(s) URL" },
        { "a secret path", new HostFencing(["redfish"], Bmc with { PasswordSecret = "../../etc/shadow" }), "password secret name '../../etc/shadow' may contain only" },
        { "an empty secret", new HostFencing(["redfish"], Bmc with { PasswordSecret = "" }), "password secret name must not be empty" },
        { "an ipmi secret path", new HostFencing(["ipmi"], Ipmi: Ipmi with { PasswordSecret = "/run/secrets/x" }), "password secret name '/run/secrets/x' may contain only" },
    };

    [Theory]
    [MemberData(nameof(InvalidFencing))]
    public void invalid_fencing_is_refused_and_the_host_keeps_what_it_had(string what, HostFencing fencing, string problem)
    {
        var rejection = HostSpec.Given([.. Host.Online(), new HostFencingConfigured(Fixed.HostId, HostFencing.Default, Fixed.Earlier)])
            .When(Configure(fencing))
            .ThenRejected(RejectionCode.Validation, containing: problem);

        rejection.Command.ShouldBe("configure-fencing", what);
        rejection.State.ShouldBe("ONLINE");
    }

    [Fact]
    public void an_unreachable_host_can_be_fenced()
    {
        var state = HostSpec.Given(Host.Unreachable())
            .When(Host.StartFencing(Host.FirstRound, "redfish", "agent"))
            .ThenEvents(new HostFencingStarted(Fixed.HostId, Host.FirstRound, ["redfish", "agent"], Fixed.Now))
            .WithOperationId(null)
            .ThenState();

        state.CurrentFenceId.ShouldBe(Host.FirstRound);
        state.Status.ShouldBe(HostStatus.Unreachable);
        state.Describe().ShouldBe("FENCING");
    }

    [Fact]
    public void starting_the_same_round_again_changes_nothing()
    {
        HostSpec.Given(Host.BeingFenced()).When(Host.StartFencing(Host.FirstRound)).ThenNothingChanges(null);
    }

    [Fact]
    public void a_second_round_while_one_is_under_way_is_refused()
    {
        var rejection = HostSpec.Given(Host.BeingFenced())
            .When(Host.StartFencing(Host.SecondRound))
            .ThenRejected(RejectionCode.InvalidState, containing: "host 'kvm-01' is FENCING; only an unreachable host that is not being fenced can be fenced");

        rejection.State.ShouldBe("FENCING");
        rejection.Command.ShouldBe("fence");
    }

    [Theory]
    [InlineData("online", "ONLINE")]
    [InlineData("entering maintenance", "ENTERING_MAINTENANCE")]
    [InlineData("in maintenance", "IN_MAINTENANCE")]
    public void a_host_that_is_not_unreachable_cannot_be_fenced(string history, string described)
    {
        HostSpec.Given(Host.In(history))
            .When(Host.StartFencing(Host.FirstRound))
            .ThenRejected(RejectionCode.InvalidState, containing: "only an unreachable host")
            .State.ShouldBe(described);
    }

    [Fact]
    public void a_host_already_fenced_is_not_fenced_again()
    {
        HostSpec.Given(Host.Fenced()).When(Host.StartFencing(Host.SecondRound)).ThenNothingChanges(null);
    }

    [Fact]
    public void a_fencer_that_succeeds_fences_the_host_with_its_own_account_as_evidence()
    {
        const string evidence = "Redfish ComputerSystem System.Embedded.1 PowerState=Off";

        var state = HostSpec.Given(Host.BeingFenced())
            .When(Host.Attempt(Host.FirstRound, "redfish", fenced: true, evidence, last: false))
            .ThenEvents(new HostFenced(Fixed.HostId, Host.FirstRound, "redfish", evidence, Fixed.Now))
            .ThenState();

        state.Status.ShouldBe(HostStatus.Fenced);
        state.CurrentFenceId.ShouldBeNull();
        state.Describe().ShouldBe("FENCED");
    }

    [Fact]
    public void the_last_fencer_can_still_fence_the_host()
    {
        HostSpec.Given(Host.BeingFenced())
            .When(Host.Attempt(Host.FirstRound, "storage-lease", fenced: true, "lease expired 40s ago", last: true))
            .ThenEvents(new HostFenced(Fixed.HostId, Host.FirstRound, "storage-lease", "lease expired 40s ago", Fixed.Now));
    }

    [Fact]
    public void a_failed_attempt_with_fencers_left_is_recorded_and_the_round_goes_on()
    {
        var state = HostSpec.Given(Host.BeingFenced())
            .When(Host.Attempt(Host.FirstRound, "agent", fenced: false, "connection refused", last: false))
            .ThenEvents(new HostFenceAttemptFailed(Fixed.HostId, Host.FirstRound, "agent", "connection refused", Fixed.Now))
            .ThenState();

        state.CurrentFenceId.ShouldBe(Host.FirstRound);
        state.Status.ShouldBe(HostStatus.Unreachable);
    }

    [Fact]
    public void a_failed_attempt_of_the_last_fencer_fails_the_round()
    {
        var state = HostSpec.Given([.. Host.BeingFenced(), new HostFenceAttemptFailed(Fixed.HostId, Host.FirstRound, "agent", "connection refused", Fixed.Earlier)])
            .When(Host.Attempt(Host.FirstRound, "storage-lease", fenced: false, "lease still renewed", last: true))
            .ThenEvents(
                new HostFenceAttemptFailed(Fixed.HostId, Host.FirstRound, "storage-lease", "lease still renewed", Fixed.Now),
                new HostFencingFailed(Fixed.HostId, Host.FirstRound, "every fencer failed; retrying", Fixed.Now))
            .ThenState();

        state.CurrentFenceId.ShouldBeNull();
        state.Status.ShouldBe(HostStatus.Unreachable);
        state.Describe().ShouldBe("UNREACHABLE");
    }

    [Fact]
    public void after_a_failed_round_a_new_one_can_start()
    {
        HostSpec.Given([.. Host.BeingFenced(), Host.RoundFailed(Host.FirstRound)])
            .When(Host.StartFencing(Host.SecondRound))
            .ThenEvents(new HostFencingStarted(Fixed.HostId, Host.SecondRound, ["agent", "storage-lease"], Fixed.Now));
    }

    [Fact]
    public void a_late_success_of_a_failed_round_changes_nothing()
    {
        var given = HostSpec.Given([.. Host.BeingFenced(), Host.RoundFailed(Host.FirstRound), Host.FencingStarted(Host.SecondRound)]);

        given.When(Host.Attempt(Host.FirstRound, "agent", fenced: true, "domain list is empty", last: false)).ThenNothingChanges(null);
        given.State.CurrentFenceId.ShouldBe(Host.SecondRound);
        given.State.Status.ShouldBe(HostStatus.Unreachable);
    }

    [Fact]
    public void a_late_failure_of_a_failed_round_does_not_fail_the_current_one()
    {
        HostSpec.Given([.. Host.BeingFenced(), Host.RoundFailed(Host.FirstRound), Host.FencingStarted(Host.SecondRound)])
            .When(Host.Attempt(Host.FirstRound, "storage-lease", fenced: false, "timeout", last: true))
            .ThenNothingChanges(null);
    }

    [Fact]
    public void a_verdict_arriving_after_the_host_came_back_changes_nothing()
    {
        HostSpec.Given([.. Host.BeingFenced(), new HostRecovered(Fixed.HostId, false, Fixed.Earlier)])
            .When(Host.Attempt(Host.FirstRound, "redfish", fenced: true, "PowerState=Off", last: false))
            .ThenNothingChanges(null);
    }

    [Fact]
    public void a_second_success_of_the_round_that_fenced_the_host_changes_nothing()
    {
        HostSpec.Given(Host.Fenced())
            .When(Host.Attempt(Host.FirstRound, "storage-lease", fenced: true, "lease expired", last: true))
            .ThenNothingChanges(null);
    }

    [Fact]
    public void a_verdict_for_a_round_that_never_started_changes_nothing()
    {
        HostSpec.Given(Host.Unreachable())
            .When(Host.Attempt(Host.FirstRound, "agent", fenced: true, "off", last: true))
            .ThenNothingChanges(null);
    }
}
