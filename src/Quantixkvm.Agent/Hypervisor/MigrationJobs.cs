using Microsoft.Extensions.Logging.Abstractions;
using Quantixkvm.Libvirt;

namespace Quantixkvm.Agent.Hypervisor;

/// <summary>
/// The live migrations under way on this host, by operation id, so that a <c>CancelDomainOperation</c> can abort one's
/// libvirt job. A cancel that arrives before its migration has registered (both come through the host's queue, consumed
/// concurrently) is remembered for a while, and the migration then does not begin.
/// </summary>
public sealed class MigrationJobs(ILogger<MigrationJobs>? logger = null)
{
    private const int RememberedCancels = 1_000;

    private readonly Lock _gate = new();
    private readonly Dictionary<Guid, Job> _running = [];
    private readonly HashSet<Guid> _cancelledEarly = [];
    private readonly Queue<Guid> _cancelOrder = new();
    private readonly ILogger _logger = logger ?? NullLogger<MigrationJobs>.Instance;

    /// <summary>Registers a migration about to begin; dispose the job when the migration has ended.</summary>
    public Job Register(Guid operationId, LibvirtDomain domain)
    {
        lock (_gate)
        {
            var job = new Job(this, operationId, domain, _cancelledEarly.Remove(operationId));
            _running[operationId] = job;
            return job;
        }
    }

    /// <summary>
    /// Asks the migration of this operation to stop: its libvirt job is aborted (now, or as soon as it has begun). Returns
    /// false when no migration of that operation runs here (unknown, or finished already).
    /// </summary>
    public bool Cancel(Guid operationId)
    {
        Job? job;
        lock (_gate)
        {
            if (!_running.TryGetValue(operationId, out job))
            {
                if (_cancelledEarly.Add(operationId))
                {
                    _cancelOrder.Enqueue(operationId);
                    while (_cancelOrder.Count > RememberedCancels)
                    {
                        _cancelledEarly.Remove(_cancelOrder.Dequeue());
                    }
                }

                return false;
            }
        }

        job.RequestCancel();
        return true;
    }

    /// <summary>The operations whose migrations run now.</summary>
    public IReadOnlyList<Guid> Running
    {
        get
        {
            lock (_gate)
            {
                return [.. _running.Keys];
            }
        }
    }

    private void Remove(Job job)
    {
        lock (_gate)
        {
            if (_running.TryGetValue(job.OperationId, out var current) && ReferenceEquals(current, job))
            {
                _running.Remove(job.OperationId);
            }
        }
    }

    /// <summary>One migration under way.</summary>
    public sealed class Job : IDisposable
    {
        private readonly MigrationJobs _owner;
        private readonly LibvirtDomain _domain;
        private int _cancelRequested;
        private long _abortedAt;

        /// <summary>How long an accepted abort is given before it is asked for again.</summary>
        public static readonly TimeSpan RetryAbortAfter = TimeSpan.FromSeconds(10);

        internal Job(MigrationJobs owner, Guid operationId, LibvirtDomain domain, bool cancelRequested)
        {
            _owner = owner;
            OperationId = operationId;
            _domain = domain;
            _cancelRequested = cancelRequested ? 1 : 0;
        }

        public Guid OperationId { get; }

        /// <summary>Whether a cancel was asked for; the migration's failure is then reported as cancelled.</summary>
        public bool CancelRequested => Volatile.Read(ref _cancelRequested) == 1;

        internal void RequestCancel()
        {
            Interlocked.Exchange(ref _cancelRequested, 1);
            TryAbort();
        }

        /// <summary>
        /// Asks libvirt to abort the job; false when libvirt refused (typically: the job has not begun yet, or has ended).
        /// The migration's loop calls it at every tick while the migration runs on: an abort libvirt accepted is repeated
        /// only if the job still runs <see cref="RetryAbortAfter"/> later (one that came while the job was still being set
        /// up can be lost), never sooner, so libvirt has time to wind the job down.
        /// </summary>
        public bool TryAbort()
        {
            var abortedAt = Volatile.Read(ref _abortedAt);
            if (abortedAt != 0 && Environment.TickCount64 - abortedAt < RetryAbortAfter.TotalMilliseconds)
            {
                return true;
            }

            try
            {
                _domain.AbortJob();
                Volatile.Write(ref _abortedAt, Environment.TickCount64);
                _owner._logger.LogInformation("Aborted the migration job of {Domain} (operation {OperationId}){Again}", _domain.Name, OperationId,
                    abortedAt == 0 ? "" : " again: it was still running");
                return true;
            }
            catch (LibvirtException ex)
            {
                _owner._logger.LogInformation("Aborting the migration job of {Domain} failed for now: {Error}", _domain.Name, ex.Message);
                return false;
            }
            catch (ObjectDisposedException)
            {
                return false;
            }
        }

        public void Dispose() => _owner.Remove(this);
    }
}
