using Quantixkvm.Agent.Hypervisor;
using Quantixkvm.Contracts;

namespace Quantixkvm.Agent.Tests;

public sealed class OutcomeCacheTests
{
    private static readonly DomainOutcome Running = new(true, DomainPowerState.Running);
    private static readonly DomainOutcome Failed = DomainOutcome.Fail(DomainPowerState.Stopped, "LIBVIRT_OPERATION_INVALID", "nope");

    [Fact]
    public async Task an_operation_runs_once_and_a_repeat_gets_its_outcome_without_running()
    {
        var cache = new OutcomeCache<DomainOutcome>();
        var operation = Guid.NewGuid();

        var first = await cache.GetOrRunAsync(operation, () => Task.FromResult(Failed));
        var repeat = await cache.GetOrRunAsync(operation, () => throw new InvalidOperationException("must not run again"));

        first.ShouldBe((Failed, true));
        repeat.ShouldBe((Failed, false));
        (await cache.GetOrRunAsync(Guid.NewGuid(), () => Task.FromResult(Running))).RanNow.ShouldBeTrue("another operation runs");
    }

    [Fact]
    public async Task a_copy_arriving_while_the_first_runs_waits_for_its_outcome_instead_of_acting()
    {
        var cache = new OutcomeCache<DomainOutcome>();
        var operation = Guid.NewGuid();
        var release = new TaskCompletionSource<DomainOutcome>(TaskCreationOptions.RunContinuationsAsynchronously);
        var runs = 0;

        var first = cache.GetOrRunAsync(operation, () => { Interlocked.Increment(ref runs); return release.Task; });
        var copy = cache.GetOrRunAsync(operation, () => { Interlocked.Increment(ref runs); return Task.FromResult(Failed); });
        copy.IsCompleted.ShouldBeFalse("the copy waits for the running one");
        release.SetResult(Running);

        (await first).ShouldBe((Running, true));
        (await copy).ShouldBe((Running, false));
        runs.ShouldBe(1);
    }

    [Fact]
    public async Task a_run_that_throws_is_forgotten_so_a_redelivery_tries_again()
    {
        var cache = new OutcomeCache<DomainOutcome>();
        var operation = Guid.NewGuid();

        await Should.ThrowAsync<InvalidOperationException>(() => cache.GetOrRunAsync(operation, () => throw new InvalidOperationException("broker down")));
        var retry = await cache.GetOrRunAsync(operation, () => Task.FromResult(Running));

        retry.ShouldBe((Running, true));
    }

    [Fact]
    public async Task past_its_capacity_it_forgets_the_oldest_first()
    {
        var cache = new OutcomeCache<DomainOutcome>(capacity: 3);
        var operations = Enumerable.Range(0, 5).Select(_ => Guid.NewGuid()).ToArray();
        foreach (var operation in operations)
        {
            await cache.GetOrRunAsync(operation, () => Task.FromResult(Running));
        }

        var ranAgain = new List<bool>();
        foreach (var operation in operations.Reverse())
        {
            ranAgain.Insert(0, (await cache.GetOrRunAsync(operation, () => Task.FromResult(Running))).RanNow);
        }

        // Asked newest first, so re-running the forgotten ones does not push out the ones still remembered.
        ranAgain.ShouldBe([true, true, false, false, false]);
    }

    [Fact]
    public async Task parallel_runs_of_many_operations_stay_within_capacity_and_run_each_once()
    {
        const int capacity = 500;
        var cache = new OutcomeCache<DomainOutcome>(capacity);
        var operations = Enumerable.Range(0, 2_000).Select(_ => Guid.NewGuid()).ToArray();
        var runs = 0;

        await Parallel.ForEachAsync(operations.Concat(operations.Take(100)), new ParallelOptions { MaxDegreeOfParallelism = 8 }, async (operation, _) =>
            await cache.GetOrRunAsync(operation, () => { Interlocked.Increment(ref runs); return Task.FromResult(Running); }));

        runs.ShouldBeInRange(operations.Length, operations.Length + 100);
        var remembered = 0;
        foreach (var operation in operations)
        {
            if (!(await cache.GetOrRunAsync(operation, () => Task.FromResult(Failed))).RanNow)
            {
                remembered++;
            }
        }

        remembered.ShouldBeLessThanOrEqualTo(capacity);
    }

    [Fact]
    public void a_capacity_below_one_is_refused_when_the_cache_is_made()
    {
        Should.Throw<ArgumentOutOfRangeException>(() => new OutcomeCache<DomainOutcome>(-1));
        Should.Throw<ArgumentOutOfRangeException>(() => new OutcomeCache<DomainOutcome>(0));
    }
}
