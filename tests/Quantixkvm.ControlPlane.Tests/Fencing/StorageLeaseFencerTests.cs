using System.Diagnostics;
using Quantixkvm.Contracts;
using Quantixkvm.ControlPlane.Ha.Fencing;
using Quantixkvm.Domain.Hosts;

namespace Quantixkvm.ControlPlane.Tests.Fencing;

/// <summary>The storage-lease fencer against a lease file the test renews as the agent would.</summary>
public sealed class StorageLeaseFencerTests : IDisposable
{
    private readonly TempFolder _leases = new();

    public void Dispose() => _leases.Dispose();

    [Fact]
    public async Task a_host_that_renews_its_lease_is_not_fenced()
    {
        var target = FencingHost.Target(HostFencing.Default);
        await using var writer = LeaseWriter.Start(_leases.Path, target.HostId, selfFenceSeconds: 30, TimeSpan.FromMilliseconds(200));
        await writer.RenewedAsync(2);
        await using var fencing = await StartFencingAsync();

        var verdict = await fencing.Fencer("storage-lease").FenceAsync(target, CancellationToken.None);

        verdict.Fenced.ShouldBeFalse();
        verdict.Detail.ShouldStartWith($"host {target.HostName} still renews its lease (counter ");
        verdict.Detail.ShouldEndWith("): it is alive and its VMs may run");
    }

    [Fact]
    public async Task a_host_whose_lease_stopped_moving_is_fenced_after_its_self_fence_time_and_the_grace()
    {
        var target = FencingHost.Target(HostFencing.Default);
        var writer = LeaseWriter.Start(_leases.Path, target.HostId, selfFenceSeconds: 1, TimeSpan.FromMilliseconds(100));
        await writer.RenewedAsync(3);
        await writer.DisposeAsync();
        await using var fencing = await StartFencingAsync();

        var clock = Stopwatch.StartNew();
        var verdict = await fencing.Fencer("storage-lease").FenceAsync(target, CancellationToken.None);

        verdict.Fenced.ShouldBeTrue(verdict.Detail);
        verdict.Detail.ShouldStartWith($"host {target.HostName}'s lease counter stayed at {writer.Counter} for ");
        verdict.Detail.ShouldEndWith("> self-fence time 1 s: the host has powered its VMs off or is down");
        // Never sooner than the self-fence time plus the grace (1 + 0.5 s): that is what makes it proof.
        clock.Elapsed.ShouldBeGreaterThanOrEqualTo(TimeSpan.FromSeconds(1.5));
        clock.Elapsed.ShouldBeLessThan(TimeSpan.FromSeconds(15));
    }

    [Fact]
    public async Task a_lease_watched_standing_still_before_the_fencing_proves_the_host_off_without_waiting_again()
    {
        var target = FencingHost.Target(HostFencing.Default);
        await File.WriteAllTextAsync(HostLease.PathFor(_leases.Path, target.HostId), new HostLease(target.HostId, 9, 2, DateTimeOffset.UtcNow).ToJson());
        await using var fencing = await StartFencingAsync();
        var fencer = (StorageLeaseFencer)fencing.Fencer("storage-lease");

        // HA reads a silent host's lease while it waits for the detection time; 2.5 s later (self-fence 2 s + grace 0.5 s)
        // it must be fenced, and the lease has stood still all along.
        await fencer.WatchAsync(target.HostId, CancellationToken.None);
        await Task.Delay(TimeSpan.FromSeconds(2.6));
        await fencer.WatchAsync(target.HostId, CancellationToken.None);
        var clock = Stopwatch.StartNew();
        var verdict = await fencer.FenceAsync(target, CancellationToken.None);

        verdict.Fenced.ShouldBeTrue(verdict.Detail);
        verdict.Detail.ShouldContain("stayed at 9");
        clock.Elapsed.ShouldBeLessThan(TimeSpan.FromSeconds(2), "the stillness seen before counts");
    }

    [Fact]
    public async Task a_lease_that_moved_since_it_was_watched_is_timed_from_its_new_value()
    {
        var target = FencingHost.Target(HostFencing.Default);
        var path = HostLease.PathFor(_leases.Path, target.HostId);
        await File.WriteAllTextAsync(path, new HostLease(target.HostId, 9, 1, DateTimeOffset.UtcNow).ToJson());
        await using var fencing = await StartFencingAsync();
        var fencer = (StorageLeaseFencer)fencing.Fencer("storage-lease");
        await fencer.WatchAsync(target.HostId, CancellationToken.None);
        await Task.Delay(TimeSpan.FromSeconds(2));
        await File.WriteAllTextAsync(path, new HostLease(target.HostId, 10, 1, DateTimeOffset.UtcNow).ToJson());

        var clock = Stopwatch.StartNew();
        var verdict = await fencer.FenceAsync(target, CancellationToken.None);

        verdict.Fenced.ShouldBeTrue(verdict.Detail);
        verdict.Detail.ShouldContain("stayed at 10");
        clock.Elapsed.ShouldBeGreaterThanOrEqualTo(TimeSpan.FromSeconds(1.5), "the new value was never seen before: its stillness starts now");
    }

    [Fact]
    public async Task a_host_that_renews_again_while_it_is_watched_is_not_fenced()
    {
        var target = FencingHost.Target(HostFencing.Default);
        await File.WriteAllTextAsync(HostLease.PathFor(_leases.Path, target.HostId), new HostLease(target.HostId, 41, 30, DateTimeOffset.UtcNow).ToJson());
        await using var fencing = await StartFencingAsync();

        var fence = fencing.Fencer("storage-lease").FenceAsync(target, CancellationToken.None);
        await Task.Delay(600);
        await File.WriteAllTextAsync(HostLease.PathFor(_leases.Path, target.HostId), new HostLease(target.HostId, 42, 30, DateTimeOffset.UtcNow).ToJson());
        var verdict = await fence;

        verdict.Fenced.ShouldBeFalse(verdict.Detail);
        verdict.Detail.ShouldContain("(counter 41 → 42)");
    }

    [Fact]
    public async Task a_lease_torn_by_a_write_that_never_finished_counts_as_unchanged()
    {
        var target = FencingHost.Target(HostFencing.Default);
        var path = HostLease.PathFor(_leases.Path, target.HostId);
        await File.WriteAllTextAsync(path, new HostLease(target.HostId, 7, 2, DateTimeOffset.UtcNow).ToJson());
        await using var fencing = await StartFencingAsync();

        var fence = fencing.Fencer("storage-lease").FenceAsync(target, CancellationToken.None);
        await Task.Delay(300);
        await File.WriteAllTextAsync(path, """{"hostId":""");
        var verdict = await fence;

        verdict.Fenced.ShouldBeTrue(verdict.Detail);
        verdict.Detail.ShouldContain("stayed at 7");
    }

    [Fact]
    public async Task a_torn_lease_that_is_then_written_with_a_new_counter_shows_the_host_alive()
    {
        var target = FencingHost.Target(HostFencing.Default);
        var path = HostLease.PathFor(_leases.Path, target.HostId);
        await File.WriteAllTextAsync(path, new HostLease(target.HostId, 7, 30, DateTimeOffset.UtcNow).ToJson());
        await using var fencing = await StartFencingAsync();

        var fence = fencing.Fencer("storage-lease").FenceAsync(target, CancellationToken.None);
        await Task.Delay(300);
        await File.WriteAllTextAsync(path, """{"hostId":""");
        await Task.Delay(500);
        // The host goes on renewing, as a live one does: however late the fencer's first read (a loaded machine),
        // it sees the counter move after the torn write.
        for (var counter = 8; !fence.IsCompleted; counter++)
        {
            await File.WriteAllTextAsync(path, new HostLease(target.HostId, counter, 30, DateTimeOffset.UtcNow).ToJson());
            await Task.WhenAny(fence, Task.Delay(500));
        }

        var verdict = await fence;

        verdict.Fenced.ShouldBeFalse(verdict.Detail);
        verdict.Detail.ShouldMatch(@"\(counter \d+ → \d+\)");
    }

    [Fact]
    public async Task a_host_without_a_lease_file_is_not_fenced()
    {
        var target = FencingHost.Target(HostFencing.Default);
        await using var fencing = await StartFencingAsync();

        var verdict = await fencing.Fencer("storage-lease").FenceAsync(target, CancellationToken.None);

        verdict.Fenced.ShouldBeFalse();
        verdict.Detail.ShouldBe($"host {target.HostName} has no lease in {_leases.Path}; it never held one, so its VMs cannot be proven off");
    }

    [Fact]
    public async Task without_a_lease_folder_nothing_can_be_proven()
    {
        var target = FencingHost.Target(HostFencing.Default);
        await using var fencing = await FencingHost.StartAsync(new Dictionary<string, string?>());

        var verdict = await fencing.Fencer("storage-lease").FenceAsync(target, CancellationToken.None);

        verdict.Fenced.ShouldBeFalse();
        verdict.Detail.ShouldContain("no lease folder configured");
    }

    [Fact]
    public async Task another_hosts_lease_in_the_file_proves_nothing()
    {
        var target = FencingHost.Target(HostFencing.Default);
        await File.WriteAllTextAsync(HostLease.PathFor(_leases.Path, target.HostId), new HostLease(Guid.NewGuid(), 3, 1, DateTimeOffset.UtcNow).ToJson());
        await using var fencing = await StartFencingAsync();

        var verdict = await fencing.Fencer("storage-lease").FenceAsync(target, CancellationToken.None);

        verdict.Fenced.ShouldBeFalse();
        verdict.Detail.ShouldContain($"not host {target.HostName}");
    }

    [Fact]
    public async Task watching_a_lease_stops_when_the_caller_cancels()
    {
        var target = FencingHost.Target(HostFencing.Default);
        await File.WriteAllTextAsync(HostLease.PathFor(_leases.Path, target.HostId), new HostLease(target.HostId, 3, 60, DateTimeOffset.UtcNow).ToJson());
        await using var fencing = await StartFencingAsync();
        using var cancel = new CancellationTokenSource(TimeSpan.FromMilliseconds(300));

        await Should.ThrowAsync<OperationCanceledException>(() => fencing.Fencer("storage-lease").FenceAsync(target, cancel.Token));
    }

    private Task<FencingHost> StartFencingAsync() => FencingHost.StartAsync(new Dictionary<string, string?>
    {
        ["LeaseDirectory"] = _leases.Path,
        ["LeaseGraceSeconds"] = "0.5",
    });

    /// <summary>Renews a host's lease as its agent does: Counter+1 at each interval, written whole (temp file, then rename).</summary>
    private sealed class LeaseWriter : IAsyncDisposable
    {
        private readonly CancellationTokenSource _stop = new();
        private Task _loop = Task.CompletedTask;
        private long _counter;

        public long Counter => Interlocked.Read(ref _counter);

        public static LeaseWriter Start(string directory, Guid hostId, double selfFenceSeconds, TimeSpan interval)
        {
            var writer = new LeaseWriter();
            var token = writer._stop.Token;
            var path = HostLease.PathFor(directory, hostId);
            writer._loop = Task.Run(async () =>
            {
                while (!token.IsCancellationRequested)
                {
                    var next = writer.Counter + 1;
                    var temp = path + ".tmp";
                    await File.WriteAllTextAsync(temp, new HostLease(hostId, next, selfFenceSeconds, DateTimeOffset.UtcNow).ToJson(), CancellationToken.None);
                    File.Move(temp, path, overwrite: true);
                    Interlocked.Exchange(ref writer._counter, next);
                    try
                    {
                        await Task.Delay(interval, token);
                    }
                    catch (OperationCanceledException)
                    {
                        return;
                    }
                }
            });
            return writer;
        }

        public async Task RenewedAsync(long times)
        {
            using var limit = new CancellationTokenSource(TimeSpan.FromSeconds(10));
            while (Counter < times)
            {
                await Task.Delay(20, limit.Token);
            }
        }

        public async ValueTask DisposeAsync()
        {
            await _stop.CancelAsync();
            await _loop;
            _stop.Dispose();
        }
    }
}
