namespace Quantixkvm.ControlPlane.Tests.Support;

/// <summary>Polling instead of sleeping: waits until a condition holds, failing with what was awaited and the last value seen.</summary>
public static class Eventually
{
    public static readonly TimeSpan DefaultTimeout = TimeSpan.FromSeconds(10);

    public static async Task<T> WaitAsync<T>(Func<Task<T>> read, Func<T, bool> until, string what, TimeSpan? timeout = null)
    {
        var deadline = DateTime.UtcNow + (timeout ?? DefaultTimeout);
        T last = default!;
        Exception? error = null;
        while (true)
        {
            try
            {
                last = await read();
                error = null;
                if (until(last))
                {
                    return last;
                }
            }
            catch (Exception ex) when (ex is HttpRequestException or InvalidOperationException or TaskCanceledException)
            {
                error = ex;
            }

            if (DateTime.UtcNow >= deadline)
            {
                throw new TimeoutException(
                    $"waited {timeout ?? DefaultTimeout} for {what}; last seen: {Describe(last)}{(error is null ? "" : $"; last error: {error.Message}")}");
            }

            await Task.Delay(50);
        }
    }

    public static Task WaitAsync(Func<Task<bool>> condition, string what, TimeSpan? timeout = null) =>
        WaitAsync(condition, ok => ok, what, timeout);

    private static string Describe(object? value) => value switch
    {
        null => "nothing",
        System.Text.Json.Nodes.JsonNode node => node.ToJsonString(),
        System.Collections.IEnumerable items and not string => "[" + string.Join(", ", items.Cast<object?>()) + "]",
        _ => value.ToString() ?? "",
    };
}
