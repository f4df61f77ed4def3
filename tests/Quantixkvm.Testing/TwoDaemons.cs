using Quantixkvm.Libvirt;
using Xunit;

namespace Quantixkvm.Testing;

/// <summary>
/// Two hosts on this machine for migration tests: two private libvirtd daemons (each with its own host UUID, both
/// running as the same user, so both QEMUs can open a disk in either's folder) and the test guest image, built once.
/// Every domain left on either is destroyed and undefined at the end: QEMU processes outlive their daemon.
/// </summary>
public class TwoDaemons : IAsyncLifetime
{
    public LibvirtDaemon Source { get; private set; } = null!;

    public LibvirtDaemon Target { get; private set; } = null!;

    /// <summary>The test's own view of the source daemon.</summary>
    public LibvirtConnection SourceLibvirt { get; private set; } = null!;

    public LibvirtConnection TargetLibvirt { get; private set; } = null!;

    public string GuestImagePath { get; private set; } = "";

    public virtual async Task InitializeAsync()
    {
        var image = GuestImage.BuildAsync();
        var source = LibvirtDaemon.StartAsync();
        var target = LibvirtDaemon.StartAsync();
        Source = await source;
        Target = await target;
        SourceLibvirt = LibvirtConnection.Open(Source.QemuSessionUri);
        TargetLibvirt = LibvirtConnection.Open(Target.QemuSessionUri);
        GuestImagePath = await image;
    }

    public virtual async Task DisposeAsync()
    {
        foreach (var libvirt in new[] { SourceLibvirt, TargetLibvirt })
        {
            if (libvirt is null)
            {
                continue;
            }

            foreach (var domain in libvirt.ListAllDomains())
            {
                using (domain)
                {
                    try
                    {
                        if (domain.GetState().State is not DomainState.Shutoff)
                        {
                            domain.Destroy();
                        }

                        domain.Undefine();
                    }
                    catch (LibvirtException)
                    {
                        // Gone meanwhile: nothing to clean.
                    }
                }
            }

            libvirt.Dispose();
        }

        if (Source is not null)
        {
            await Source.DisposeAsync();
        }

        if (Target is not null)
        {
            await Target.DisposeAsync();
        }
    }
}
