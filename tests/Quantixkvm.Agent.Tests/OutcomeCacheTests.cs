using Quantixkvm.Agent.Hypervisor;
using Quantixkvm.Contracts;

namespace Quantixkvm.Agent.Tests;

public sealed class OutcomeCacheTests
{
    private static readonly DomainOutcome Running = new(true, DomainPowerState.Running);
    private static readonly DomainOutcome Failed = DomainOutcome.Fail(DomainPowerState.Stopped, "LIBVIRT_OPERATION_INVALID", "nope");

    [Fact]
    public void returns_what_was_added_for_an_operation_and_nothing_for_another()
    {
        var cache = new OutcomeCache();
        var operation = Guid.NewGuid();

        cache.Add(operation, Failed);

        cache.TryGet(operation, out var outcome).ShouldBeTrue();
        outcome.ShouldBe(Failed);
        cache.TryGet(Guid.NewGuid(), out _).ShouldBeFalse();
    }

    [Fact]
    public void the_first_outcome_of_an_operation_is_kept()
    {
        var cache = new OutcomeCache();
        var operation = Guid.NewGuid();

        cache.Add(operation, Running);
        cache.Add(operation, Failed);

        cache.TryGet(operation, out var outcome).ShouldBeTrue();
        outcome.ShouldBe(Running);
    }

    [Fact]
    public void past_its_capacity_it_forgets_the_oldest_first()
    {
        var cache = new OutcomeCache(capacity: 3);
        var operations = Enumerable.Range(0, 5).Select(_ => Guid.NewGuid()).ToArray();

        foreach (var operation in operations)
        {
            cache.Add(operation, Running);
        }

        operations.Select(o => cache.TryGet(o, out _)).ShouldBe([false, false, true, true, true]);
    }

    [Fact]
    public void adding_an_operation_again_does_not_take_a_second_place()
    {
        var cache = new OutcomeCache(capacity: 2);
        var a = Guid.NewGuid();
        var b = Guid.NewGuid();

        cache.Add(a, Running);
        cache.Add(a, Running);
        cache.Add(b, Running);

        cache.TryGet(a, out _).ShouldBeTrue();
        cache.TryGet(b, out _).ShouldBeTrue();
    }

    [Fact]
    public void the_default_capacity_holds_ten_thousand_operations()
    {
        var cache = new OutcomeCache();
        var operations = Enumerable.Range(0, 10_001).Select(_ => Guid.NewGuid()).ToArray();

        foreach (var operation in operations)
        {
            cache.Add(operation, Running);
        }

        cache.TryGet(operations[0], out _).ShouldBeFalse();
        cache.TryGet(operations[1], out _).ShouldBeTrue();
        cache.TryGet(operations[^1], out _).ShouldBeTrue();
    }

    [Fact]
    public void parallel_adds_and_reads_are_safe_and_stay_within_capacity()
    {
        const int capacity = 500;
        var cache = new OutcomeCache(capacity);
        var operations = Enumerable.Range(0, 20_000).Select(_ => Guid.NewGuid()).ToArray();

        Parallel.For(0, operations.Length, new ParallelOptions { MaxDegreeOfParallelism = 8 }, i =>
        {
            cache.Add(operations[i], i % 2 == 0 ? Running : Failed);
            cache.TryGet(operations[i / 2], out _);
        });

        var kept = operations.Where(o => cache.TryGet(o, out _)).ToArray();
        kept.Length.ShouldBe(capacity);
        foreach (var operation in kept)
        {
            cache.TryGet(operation, out var outcome).ShouldBeTrue();
            outcome.ShouldBe(Array.IndexOf(operations, operation) % 2 == 0 ? Running : Failed);
        }
    }

    [Fact]
    public void a_negative_capacity_is_refused_when_the_cache_is_made()
    {
        Should.Throw<ArgumentOutOfRangeException>(() => new OutcomeCache(-1));
    }
}
