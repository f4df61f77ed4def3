namespace Quantixkvm.Network.Ovsdb;

/// <summary>
/// Read-then-write with optimistic checks: the write carries "wait" operations (or relies on a unique index) that fail
/// when another writer changed the rows in between; then the state is read again and the write decided anew.
/// </summary>
public static class OvsdbRetry
{
    public const int Attempts = 5;

    /// <summary>Runs <paramref name="readDecideWrite"/> until it commits without a conflict, at most <see cref="Attempts"/> times.</summary>
    public static async Task<T> OnConflictAsync<T>(Func<Task<T>> readDecideWrite)
    {
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                return await readDecideWrite();
            }
            catch (OvsdbException e) when (attempt < Attempts && (e.IsWaitFailure || e.IsConstraintViolation))
            {
                // Someone else wrote first: read what they wrote.
            }
        }
    }
}
