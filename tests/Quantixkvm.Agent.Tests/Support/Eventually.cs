namespace Quantixkvm.Agent.Tests.Support;

/// <summary>Polls instead of sleeping: fast when things are fast, patient on a loaded machine.</summary>
public static class Eventually
{
    public static readonly TimeSpan DefaultTimeout = TimeSpan.FromSeconds(30);

    public static async Task UntilAsync(Func<bool> condition, string what, TimeSpan? timeout = null)
    {
        var deadline = DateTime.UtcNow + (timeout ?? DefaultTimeout);
        while (!condition())
        {
            if (DateTime.UtcNow >= deadline)
            {
                throw new TimeoutException($"timed out after {timeout ?? DefaultTimeout} waiting for {what}");
            }

            await Task.Delay(20);
        }
    }
}
