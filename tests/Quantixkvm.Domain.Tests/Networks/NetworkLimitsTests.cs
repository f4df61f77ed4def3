using Quantixkvm.Domain.Networks;

namespace Quantixkvm.Domain.Tests.Networks;

/// <summary>Interface names, VLAN ids and MTUs a host can carry out, refused with a message naming the rule.</summary>
public sealed class NetworkLimitsTests
{
    [Theory]
    [InlineData("br-tenant1")]
    [InlineData("qkvm.100")]
    [InlineData("a23456789012345")]
    public void an_interface_name_linux_accepts_passes(string name) => NetworkLimits.CheckInterfaceName("bridge", name).ShouldBeNull();

    [Theory]
    [InlineData("a234567890123456", "16 characters; Linux interface names have at most 15")]
    [InlineData("br tenant", "may contain only letters")]
    [InlineData("br/tenant", "may contain only letters")]
    [InlineData("-br", "must start with a letter or digit")]
    [InlineData("br;rm", "may contain only letters")]
    [InlineData("", "must not be empty")]
    [InlineData(null, "must not be empty")]
    public void an_interface_name_linux_or_a_shell_would_misread_is_refused(string? name, string message) =>
        NetworkLimits.CheckInterfaceName("bridge", name)!.ShouldContain(message);

    [Theory]
    [InlineData(1, true)]
    [InlineData(4094, true)]
    [InlineData(0, false)]
    [InlineData(4095, false)]
    [InlineData(-5, false)]
    public void a_vlan_id_is_an_802_1q_id(int vlan, bool valid)
    {
        var error = NetworkLimits.CheckVlan(vlan);

        (error is null).ShouldBe(valid);
        if (!valid)
        {
            error!.ShouldBe($"VLAN id {vlan} is out of range: it must be 1 to 4094");
        }
    }

    [Theory]
    [InlineData(1280, true)]
    [InlineData(1500, true)]
    [InlineData(9216, true)]
    [InlineData(576, false)]
    [InlineData(9217, false)]
    public void an_mtu_fits_ipv6_and_jumbo_frames(int mtu, bool valid) => (NetworkLimits.CheckMtu(mtu) is null).ShouldBe(valid);
}
