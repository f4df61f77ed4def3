using Microsoft.Extensions.Logging.Abstractions;
using Quantixkvm.Libvirt;

namespace Quantixkvm.Agent.Hypervisor;

/// <summary>What fencing found: the VMs whose domains it powered off, and those it could not.</summary>
public sealed record PowerOffResult(IReadOnlyList<Guid> Stopped, IReadOnlyList<(Guid VmId, string Error)> Failed);

/// <summary>
/// The host's Quantixkvm domains as a whole: releasing VMs that now live elsewhere, and powering every one of them off
/// (fencing, asked by the control plane or done by the agent itself when it loses its storage lease).
/// </summary>
public sealed class HostDomains(HypervisorConnection hypervisor, CloudInitSeeds seeds, ILogger<HostDomains>? logger = null)
{
    private readonly ILogger _logger = logger ?? NullLogger<HostDomains>.Instance;

    /// <summary>The VM of a Quantixkvm domain: from its name (<c>qkvm-{vmId:N}</c>), else its <c>vm-id</c> metadata; null for others.</summary>
    public static Guid? VmIdOf(LibvirtDomain domain)
    {
        if (VmIdOfName(domain.Name) is { } fromName)
        {
            return fromName;
        }

        return DomainXml.ReadMetadata(domain.GetXml()).TryGetValue("vm-id", out var id) && Guid.TryParse(id, out var fromMetadata) ? fromMetadata : null;
    }

    /// <summary>The VM id in a Quantixkvm domain name (<c>qkvm-{vmId:N}</c>), or null.</summary>
    public static Guid? VmIdOfName(string name) =>
        name.StartsWith("qkvm-", StringComparison.Ordinal) && Guid.TryParseExact(name[5..], "N", out var id) ? id : null;

    /// <summary>
    /// Removes the VM's domain from this host: powered off if it runs, undefined with its managed save image and snapshot
    /// metadata, and its cloud-init seed deleted. Its volumes are not touched. Returns whether a domain was there; a missing
    /// one is no error.
    /// </summary>
    public bool Release(Guid vmId)
    {
        using var domain = hypervisor.Connection.FindDomain(vmId);
        var found = domain is not null;
        if (domain is not null)
        {
            try
            {
                if (domain.GetState().State is not (DomainState.Shutoff or DomainState.NoState))
                {
                    domain.Destroy();
                }

                domain.Undefine();
            }
            catch (DomainNotFoundException)
            {
                // A transient domain vanishes when destroyed; or it went away meanwhile: either way it is gone.
            }
        }

        seeds.Delete(vmId);
        return found;
    }

    /// <summary>
    /// Powers off at once (destroy, not shutdown) every running or paused Quantixkvm domain on the host; definitions stay.
    /// Other domains are left alone. A domain that fails to power off is reported, not thrown, so the others still go off.
    /// </summary>
    /// <exception cref="LibvirtException">libvirt cannot be reached, or cannot list the domains.</exception>
    public PowerOffResult PowerOffAll()
    {
        var stopped = new List<Guid>();
        var failed = new List<(Guid, string)>();
        foreach (var domain in hypervisor.Connection.ListAllDomains())
        {
            using (domain)
            {
                Guid? vmId = null;
                try
                {
                    vmId = VmIdOf(domain);
                    if (vmId is null || domain.GetState().State is DomainState.Shutoff or DomainState.NoState)
                    {
                        continue;
                    }

                    domain.Destroy();
                    stopped.Add(vmId.Value);
                }
                catch (DomainNotFoundException)
                {
                    // Gone between the listing and now: not running here.
                }
                catch (LibvirtException ex) when (vmId is not null)
                {
                    _logger.LogError("Powering off {Domain} (VM {VmId}) failed: {Error}", domain.Name, vmId, ex.Message);
                    failed.Add((vmId.Value, ex.Message));
                }
                catch (LibvirtException ex)
                {
                    // Its definition could not be read: not named as Quantixkvm's, and left alone.
                    _logger.LogWarning("Reading domain {Domain} while powering off failed: {Error}", domain.Name, ex.Message);
                }
            }
        }

        return new PowerOffResult(stopped, failed);
    }
}
