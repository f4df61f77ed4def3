namespace Quantixkvm.Libvirt.Tests;

/// <summary>
/// Helpers for libvirt's in-process test driver. Every connection to <c>test:///default</c> in a
/// process shares one host state while at least one connection is open (xunit runs classes in
/// parallel), and the state is reset once the last one closes: so every test makes its own
/// uniquely named domains and removes them, and never relies on what another test left behind.
/// </summary>
internal static class TestDriver
{
    public const string Uri = "test:///default";

    /// <summary>libvirt's <c>VIR_FROM_TEST</c> error domain.</summary>
    public const int ErrorDomainTest = 12;

    /// <summary>libvirt's <c>VIR_FROM_DOMAIN</c> error domain (domain config and generic checks).</summary>
    public const int ErrorDomainDomain = 20;

    public static DomainSpec NewSpec(string title = "scratch", IReadOnlyDictionary<string, string>? metadata = null) =>
        new(
            Guid.NewGuid(),
            "qkvm-" + Guid.NewGuid().ToString("N")[..12],
            title,
            Vcpus: 1,
            MemoryMiB: 128,
            DomainType: "test",
            metadata);

    /// <summary>Powers off and undefines the domain if it still exists; never throws.</summary>
    public static void Remove(LibvirtConnection connection, Guid uuid)
    {
        try
        {
            using LibvirtDomain? domain = connection.FindDomain(uuid);
            if (domain is null)
            {
                return;
            }

            if (domain.GetState().State is not DomainState.Shutoff)
            {
                domain.Destroy();
            }

            domain.Undefine();
        }
        catch (LibvirtException)
        {
            // Best effort: the domain may have gone away in the meantime.
        }
    }
}
