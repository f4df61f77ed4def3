using Quantixkvm.Domain.Hosts;
using Quantixkvm.Domain.Tests.Support;

namespace Quantixkvm.Domain.Tests;

public class HostRegistration
{
    private static readonly HostFacts Facts = new(
        "kvm-01", Cpus: 32, MemoryMiB: 262_144, "AMD EPYC 7543", "qemu:///system", AgentVersion: "1.4.0");

    private static RegisterHost Register(HostFacts facts) => new(Fixed.Context("register-1"), Fixed.HostId, facts);

    [Fact]
    public void a_host_registering_for_the_first_time_is_registered_with_its_facts()
    {
        HostSpec.Given()
            .When(Register(Facts))
            .ThenEvents(new HostRegistered(Fixed.HostId, Facts, Fixed.Now))
            .WithOperationId(null);
    }

    [Fact]
    public void a_registered_host_has_its_id_and_facts()
    {
        HostSpec.Given().When(Register(Facts)).ThenState().ShouldBe(new HostState(Fixed.HostId, Facts));
    }

    [Fact]
    public void a_host_registering_again_with_the_same_facts_changes_nothing()
    {
        HostSpec.Given(new HostRegistered(Fixed.HostId, Facts, Fixed.Earlier))
            .When(Register(Facts with { }))
            .ThenNothingChanges(null);
    }

    [Fact]
    public void a_host_registering_again_with_other_facts_records_the_change()
    {
        var upgraded = Facts with { MemoryMiB = 524_288, AgentVersion = "1.5.0" };

        var state = HostSpec.Given(new HostRegistered(Fixed.HostId, Facts, Fixed.Earlier))
            .When(Register(upgraded))
            .ThenEvents(new HostFactsChanged(Fixed.HostId, upgraded, Fixed.Now))
            .ThenState();

        state.Facts.ShouldBe(upgraded);
    }

    [Fact]
    public void a_second_change_is_compared_with_the_latest_facts()
    {
        var upgraded = Facts with { AgentVersion = "1.5.0" };

        HostSpec.Given(new HostRegistered(Fixed.HostId, Facts, Fixed.Earlier), new HostFactsChanged(Fixed.HostId, upgraded, Fixed.Earlier))
            .When(Register(upgraded))
            .ThenNothingChanges(null);
    }

    [Fact]
    public void a_host_registering_again_with_the_same_cpu_features_in_a_new_list_changes_nothing()
    {
        var fleet = Facts with { CpuFeatures = ["avx2", "aes", "x2apic"], LiveMigration = true, MigrateAddress = "10.0.1.11" };

        HostSpec.Given(new HostRegistered(Fixed.HostId, fleet, Fixed.Earlier))
            .When(Register(fleet with { CpuFeatures = ["avx2", "aes", "x2apic"] }))
            .ThenNothingChanges(null);
    }

    [Fact]
    public void a_host_registering_again_with_other_cpu_features_records_the_change()
    {
        var before = Facts with { CpuFeatures = ["avx2", "aes"] };
        var after = Facts with { CpuFeatures = ["avx2", "aes", "avx512f"] };

        HostSpec.Given(new HostRegistered(Fixed.HostId, before, Fixed.Earlier))
            .When(Register(after))
            .ThenEvents(new HostFactsChanged(Fixed.HostId, after, Fixed.Now));
    }

    [Fact]
    public void an_older_agent_without_cpu_features_and_one_reporting_none_are_the_same()
    {
        HostFacts.Same(Facts, Facts with { CpuFeatures = [] }).ShouldBeTrue();
        HostFacts.Same(Facts with { CpuFeatures = ["aes"] }, Facts with { CpuFeatures = ["aes"], LiveMigration = true }).ShouldBeFalse();
    }

    public static TheoryData<string, int, long, string> InvalidFacts => new()
    {
        { "", 32, 262_144, "name ''" },
        { "   ", 32, 262_144, "name '   '" },
        { "kvm-01", 0, 262_144, "0 CPUs" },
        { "kvm-01", -2, 262_144, "-2 CPUs" },
        { "kvm-01", 32, 0, "0 MiB" },
        { "kvm-01", 32, -1, "-1 MiB" },
    };

    [Theory]
    [MemberData(nameof(InvalidFacts))]
    public void a_host_without_a_name_or_capacity_is_refused(string name, int cpus, long memoryMiB, string naming)
    {
        var rejection = HostSpec.Given()
            .When(Register(Facts with { Name = name, Cpus = cpus, MemoryMiB = memoryMiB }))
            .ThenRejected(RejectionCode.Validation, containing: "a host needs a name and positive capacity");

        rejection.Message.ShouldContain(naming, Case.Sensitive);
        rejection.Command.ShouldBe("register");
    }

    [Fact]
    public void a_registered_host_reporting_invalid_facts_is_refused_and_keeps_its_facts()
    {
        HostSpec.Given(new HostRegistered(Fixed.HostId, Facts, Fixed.Earlier))
            .When(Register(Facts with { Cpus = 0 }))
            .ThenRejected(RejectionCode.Validation);
    }

    [Fact]
    public void a_hosts_id_follows_from_its_name()
    {
        HostDecider.HostIdFor("kvm-01").ShouldBe(HostDecider.HostIdFor("kvm-01"));
        HostDecider.HostIdFor("kvm-01").ShouldNotBe(HostDecider.HostIdFor("kvm-02"));
        HostDecider.HostIdFor("kvm-01").ShouldNotBe(HostDecider.HostIdFor("KVM-01"));
    }

    [Fact]
    public void a_hosts_id_is_the_same_on_every_machine_and_in_every_release()
    {
        // uuid5(4f1e6c1a-8e0b-5d52-9a55-6a3f0c2b7d11, "host\x1fkvm-01"), computed with Python's uuid module.
        HostDecider.HostIdFor("kvm-01").ShouldBe(Guid.Parse("c1a071ee-d473-5814-a85a-fc12ae570fbc"));
    }
}
