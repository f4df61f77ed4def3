using Quantixkvm.Domain.Hosts;

namespace Quantixkvm.Domain.Tests.Support;

/// <summary>Histories of the fixed host (<see cref="Fixed.HostId"/>, "kvm-01"), built from the events themselves.</summary>
internal static class Host
{
    public static readonly HostFacts Facts = new(
        "kvm-01", Cpus: 32, MemoryMiB: 262_144, "AMD EPYC 7543", "qemu:///system", AgentVersion: "1.4.0");

    /// <summary>Other hosts a VM can move to.</summary>
    public static readonly Guid Target = HostDecider.HostIdFor("kvm-02");
    public static readonly Guid Third = HostDecider.HostIdFor("kvm-03");

    public static readonly Guid FirstRound = new("fe0ce000-0000-4000-8000-000000000001");
    public static readonly Guid SecondRound = new("fe0ce000-0000-4000-8000-000000000002");

    public static readonly DateTimeOffset LastHeartbeat = Fixed.Earlier.AddSeconds(-20);

    public static HostRegistered Registered() => new(Fixed.HostId, Facts, Fixed.Earlier);

    public static HostUnreachable WentUnreachable() => new(Fixed.HostId, LastHeartbeat, 15, Fixed.Earlier);

    public static HostFencingStarted FencingStarted(Guid round, params string[] fencers) =>
        new(Fixed.HostId, round, fencers.Length == 0 ? ["agent", "storage-lease"] : fencers, Fixed.Earlier);

    public static HostFenced FencedBy(Guid round, string fencer = "agent") => new(Fixed.HostId, round, fencer, "domain list is empty", Fixed.Earlier);

    public static HostFencingFailed RoundFailed(Guid round) => new(Fixed.HostId, round, "every fencer failed; retrying", Fixed.Earlier);

    public static HostEvent[] Online() => [Registered()];

    public static HostEvent[] Unreachable() => [Registered(), WentUnreachable()];

    public static HostEvent[] BeingFenced() => [.. Unreachable(), FencingStarted(FirstRound)];

    public static HostEvent[] Fenced() => [.. BeingFenced(), FencedBy(FirstRound)];

    public static HostEvent[] EnteringMaintenance(bool allowColdMigration = false) =>
        [Registered(), new HostMaintenanceRequested(Fixed.HostId, allowColdMigration, Fixed.Actor, Fixed.Earlier)];

    public static HostEvent[] InMaintenance() => [.. EnteringMaintenance(), new HostMaintenanceEntered(Fixed.HostId, Fixed.Earlier)];

    public static HostEvent[] Decommissioned() => [.. InMaintenance(), new HostDecommissioned(Fixed.HostId, Fixed.Actor, Fixed.Earlier)];

    /// <summary>Named histories, for theories over the host's states.</summary>
    public static HostEvent[] In(string state) => state switch
    {
        "online" => Online(),
        "unreachable" => Unreachable(),
        "being fenced" => BeingFenced(),
        "fenced" => Fenced(),
        "entering maintenance" => EnteringMaintenance(),
        "in maintenance" => InMaintenance(),
        "decommissioned" => Decommissioned(),
        _ => throw new ArgumentOutOfRangeException(nameof(state), state, "no such host history"),
    };

    // Commands to the fixed host, issued at Fixed.Now by Fixed.Actor.
    public static RegisterHost Register(HostFacts? facts = null) => new(Fixed.Context("register-1"), Fixed.HostId, facts ?? Facts);

    public static MarkHostUnreachable MarkUnreachable() => new(Fixed.Context("liveness-1"), LastHeartbeat, 15);

    public static MarkHostRecovered MarkRecovered() => new(Fixed.Context("liveness-2"));

    public static StartFencing StartFencing(Guid round, params string[] fencers) =>
        new(Fixed.Context("fence-" + round), round, fencers.Length == 0 ? ["agent", "storage-lease"] : fencers);

    public static RecordFenceAttempt Attempt(Guid round, string fencer, bool fenced, string detail, bool last) =>
        new(Fixed.Context($"fence-attempt-{round}-{fencer}"), round, fencer, fenced, detail, last);
}
