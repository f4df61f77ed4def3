using Microsoft.Extensions.Options;
using Quantixkvm.Agent.Hypervisor;
using Quantixkvm.Contracts;
using Quantixkvm.Libvirt;

namespace Quantixkvm.Agent.Fencing;

/// <summary>
/// Keeps this host's storage lease (<see cref="HostLease"/>) in <see cref="AgentOptions.LeaseDirectory"/>: every
/// <see cref="AgentOptions.LeaseRenewSeconds"/> it writes the lease with a counter one higher, atomically (a temporary file
/// renamed over the lease). When no write has succeeded for <see cref="AgentOptions.SelfFenceSeconds"/>, the control plane may
/// be about to restart this host's VMs elsewhere: the keeper self-fences, powering off every Quantixkvm domain here, and keeps
/// doing so (while also trying to renew) until a write succeeds again. Writes run apart from the clock that decides, so a write
/// that hangs (a hard NFS mount) does not hold the fence back. See <see cref="AgentOptions.LeaseDirectory"/> for why a host also
/// needs a watchdog.
/// </summary>
public sealed class LeaseKeeper(HostDomains domains, IOptions<AgentOptions> options, TimeProvider clock, ILogger<LeaseKeeper> logger)
    : BackgroundService
{
    private long _counter;

    /// <summary>The last counter written (0 before the first write).</summary>
    public long Counter => Interlocked.Read(ref _counter);

    /// <summary>Whether the keeper is self-fenced now (the lease could not be renewed in time and the VMs were powered off).</summary>
    public bool SelfFenced { get; private set; }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var agent = options.Value;
        var directory = agent.LeaseDirectory ?? throw new InvalidOperationException("the lease keeper runs only with Agent:LeaseDirectory set");
        var path = HostLease.PathFor(directory, agent.HostId);
        var every = TimeSpan.FromSeconds(agent.LeaseRenewSeconds);
        var fenceAfter = TimeSpan.FromSeconds(agent.SelfFenceSeconds);
        Interlocked.Exchange(ref _counter, ReadCounter(path));
        var lastRenewed = clock.GetUtcNow();
        Task<bool>? write = null;
        logger.LogInformation("Keeping the storage lease {LeasePath}: renewed every {Every}, self-fencing after {FenceAfter} without renewal",
            path, every, fenceAfter);
        while (!stoppingToken.IsCancellationRequested)
        {
            if (write is { IsCompleted: true })
            {
                if (await write)
                {
                    lastRenewed = clock.GetUtcNow();
                    if (SelfFenced)
                    {
                        SelfFenced = false;
                        logger.LogWarning("The storage lease {LeasePath} is renewed again (counter {Counter}); self-fencing ends", path, Counter);
                    }
                }

                write = null;
            }

            // One write at a time: a hung one is waited for, never piled up.
            write ??= Task.Run(() => TryWrite(path, agent), CancellationToken.None);

            if (clock.GetUtcNow() - lastRenewed >= fenceAfter)
            {
                SelfFence(path, clock.GetUtcNow() - lastRenewed);
            }

            await Task.Delay(every, clock, stoppingToken).ContinueWith(_ => { }, TaskScheduler.Default);
        }
    }

    private bool TryWrite(string path, AgentOptions agent)
    {
        var counter = Counter + 1;
        var lease = new HostLease(agent.HostId, counter, agent.SelfFenceSeconds, clock.GetUtcNow());
        var temporary = $"{path}.{Guid.NewGuid():N}.tmp";
        try
        {
            using (var stream = new FileStream(temporary, FileMode.CreateNew, FileAccess.Write, FileShare.None))
            using (var writer = new StreamWriter(stream))
            {
                writer.Write(lease.ToJson());
                writer.Flush();
                // On the storage before the rename makes it the lease: a lease that says more than was written proves nothing.
                stream.Flush(flushToDisk: true);
            }

            File.Move(temporary, path, overwrite: true);
            Interlocked.Exchange(ref _counter, counter);
            return true;
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            logger.LogError("Renewing the storage lease {LeasePath} failed: {Error}", path, ex.Message);
            try
            {
                File.Delete(temporary);
            }
            catch (Exception cleanup) when (cleanup is IOException or UnauthorizedAccessException)
            {
                // The storage is what failed: the stray file goes with a later success, or by hand.
            }

            return false;
        }
    }

    /// <summary>Powers off every Quantixkvm domain; logged as critical the first time, and whenever it finds more to stop.</summary>
    private void SelfFence(string path, TimeSpan unrenewedFor)
    {
        try
        {
            var result = domains.PowerOffAll();
            if (!SelfFenced || result.Stopped.Count > 0 || result.Failed.Count > 0)
            {
                logger.LogCritical(
                    "SELF-FENCE: the storage lease {LeasePath} has not been renewed for {Unrenewed}; powered off {Count} VM(s) {VmIds}"
                    + " so that the control plane can restart them elsewhere; {Failed} failed to power off",
                    path, unrenewedFor, result.Stopped.Count, result.Stopped, result.Failed.Count);
            }

            SelfFenced = true;
        }
        catch (LibvirtException ex)
        {
            logger.LogCritical("SELF-FENCE: the storage lease {LeasePath} has not been renewed for {Unrenewed}, and powering off the VMs failed: {Error}",
                path, unrenewedFor, ex.Message);
        }
    }

    /// <summary>The counter of an existing lease, so that it keeps growing across agent restarts; 0 when there is none.</summary>
    private static long ReadCounter(string path)
    {
        try
        {
            return File.Exists(path) && HostLease.Parse(File.ReadAllText(path)) is { } lease ? lease.Counter : 0;
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            return 0;
        }
    }
}
