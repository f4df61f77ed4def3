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
        private int _aborted;

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
        /// Aborts the libvirt job once; false when libvirt refused (typically: the job has not begun yet, or has ended),
        /// so that the migration's loop tries again while it waits.
        /// </summary>
        public bool TryAbort()
        {
            if (Volatile.Read(ref _aborted) == 1)
            {
                return true;
            }

            try
            {
                _domain.AbortJob();
                Interlocked.Exchange(ref _aborted, 1);
                _owner._logger.LogInformation("Aborted the migration job of {Domain} (operation {OperationId})", _domain.Name, OperationId);
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
