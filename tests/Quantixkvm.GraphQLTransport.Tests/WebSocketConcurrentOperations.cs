using Quantixkvm.GraphQLTransport.Tests.Support;

namespace Quantixkvm.GraphQLTransport.Tests;

/// <summary>
/// The operations of one socket execute concurrently, but they all come from one HttpContext (the upgrade request),
/// which is not thread-safe: two operations reading its User at once could see null there (the cause of a rare
/// INTERNAL_SERVER_ERROR for one of two subscriptions sent back to back). Whatever reads the context, the user
/// context factory included, must run for one operation at a time.
/// </summary>
public class WebSocketConcurrentOperations : WsTestBase
{
    /// <summary>How long the first operation holds the context, waiting to see whether a second one reads it meanwhile.</summary>
    private static readonly TimeSpan OverlapWindow = TimeSpan.FromSeconds(1);

    private readonly ManualResetEventSlim _secondReading = new();
    private int _calls;
    private int _reading;
    private int _overlaps;

    protected override void Configure(GraphQLTransportOptions options) =>
        options.UserContextFactory = http =>
        {
            var call = Interlocked.Increment(ref _calls);
            if (Interlocked.Increment(ref _reading) > 1)
            {
                Interlocked.Increment(ref _overlaps);
            }

            if (call == 2)
            {
                _secondReading.Set();
            }
            else if (call == 1)
            {
                // Operations prepared concurrently: the second one enters here while the first still reads.
                _secondReading.Wait(OverlapWindow);
            }

            var user = http.User.Identity?.Name;
            Interlocked.Decrement(ref _reading);
            return new Dictionary<string, object?> { ["user"] = user };
        };

    [Fact]
    public async Task subscriptions_sent_back_to_back_read_the_upgrade_request_one_at_a_time_and_all_run()
    {
        // Free threads for operations run concurrently (a busy pool would serialise them and hide an overlap).
        ThreadPool.GetMinThreads(out var workers, out var completionPorts);
        ThreadPool.SetMinThreads(Math.Max(workers, 16), completionPorts);
        try
        {
            var client = await ConnectAndInitAsync();

            await client.SubscribeAsync("s1", "subscription { events }");
            await client.SubscribeAsync("s2", "subscription { events }");
            await client.SubscribeAsync("s3", "subscription { events }");

            var deadline = DateTime.UtcNow + WsClient.DefaultWait;
            while (Host.Probe.Events.SubscriberCount < 3 && DateTime.UtcNow < deadline)
            {
                await Task.Delay(20);
            }

            Volatile.Read(ref _overlaps).ShouldBe(0, "two operations read the HttpContext at the same time");
            Host.Probe.Events.SubscriberCount.ShouldBe(3);
            (await client.StaysQuietAsync(TimeSpan.FromMilliseconds(200))).ShouldBeTrue("no operation failed");
        }
        finally
        {
            ThreadPool.SetMinThreads(workers, completionPorts);
            _secondReading.Dispose();
        }
    }
}
