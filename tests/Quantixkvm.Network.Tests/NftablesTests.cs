using Quantixkvm.Network.Linux;
using Quantixkvm.Network.SecurityGroups;
using Quantixkvm.Testing;

namespace Quantixkvm.Network.Tests;

/// <summary>Nftables inside a private network namespace per test, so the host's own ruleset is never touched.</summary>
public sealed class NftablesTests : IAsyncLifetime
{
    private readonly string _namespace = "qkvm-f-" + Guid.NewGuid().ToString("N")[..8];

    private Nftables Nft => Nftables.InNamespace(_namespace, HostCommand.Privilege);

    public Task InitializeAsync() => HostCommand.RunCheckedAsync("ip", ["netns", "add", _namespace]);

    public async Task DisposeAsync() => await HostCommand.RunAsync("ip", ["netns", "delete", _namespace]);

    [Fact]
    public async Task a_table_is_written_once_and_again_only_when_its_text_or_the_table_changed()
    {
        var nft = Nft;
        var ruleset = SecurityGroupNftables.Ruleset([new BridgePort(Guid.NewGuid(), "br-q1", "02:aa:00:00:00:01", [])], [], EmptyMembers());

        (await nft.EnsureTableAsync("inet", "qkvm", ruleset)).ShouldBeTrue();
        var written = await ListAsync();
        written.ShouldContain("iifname . ether saddr vmap { \"br-q1\" . 02:aa:00:00:00:01 : jump port_");
        (await nft.EnsureTableAsync("inet", "qkvm", ruleset)).ShouldBeFalse("the same text on an unchanged table is not loaded again");

        await InNamespaceAsync("nft", "delete", "table", "inet", "qkvm");
        (await nft.EnsureTableAsync("inet", "qkvm", ruleset)).ShouldBeTrue("the table was deleted by hand");
        await InNamespaceAsync("nft", "add", "rule", "inet", "qkvm", "ingress", "accept");
        (await nft.EnsureTableAsync("inet", "qkvm", ruleset)).ShouldBeTrue("a rule was added by hand");
        (await ListAsync()).ShouldBe(written, "the hand-made rule is gone");

        var fewer = SecurityGroupNftables.Ruleset([], [], EmptyMembers());
        (await nft.EnsureTableAsync("inet", "qkvm", fewer)).ShouldBeTrue();
        (await ListAsync()).ShouldNotContain("chain port_", customMessage: "chains of ports no longer there do not linger: the table is replaced, not flushed");
    }

    [Fact]
    public async Task a_ruleset_the_kernel_refuses_leaves_the_previous_table_in_force_and_names_the_error()
    {
        var nft = Nft;
        var ruleset = SecurityGroupNftables.Ruleset([new BridgePort(Guid.NewGuid(), "br-q1", "02:aa:00:00:00:01", [])], [], EmptyMembers());
        await nft.EnsureTableAsync("inet", "qkvm", ruleset);
        var before = await ListAsync();

        var broken = ruleset.Replace("ct state established,related accept", "ct state establishd accept", StringComparison.Ordinal);
        var error = await Should.ThrowAsync<NftCommandException>(() => nft.EnsureTableAsync("inet", "qkvm", broken));

        error.Message.ShouldContain("nft -f -");
        error.Error.ShouldContain("establishd");
        (await ListAsync()).ShouldBe(before);
    }

    [Fact]
    public async Task deleting_the_table_says_whether_there_was_one_and_bad_names_are_refused()
    {
        var nft = Nft;
        (await nft.DeleteTableAsync("inet", "qkvm")).ShouldBeFalse();
        (await nft.ListTableAsync("inet", "qkvm")).ShouldBeNull();
        await nft.EnsureTableAsync("inet", "qkvm", SecurityGroupNftables.Ruleset([], [], EmptyMembers()));

        (await nft.DeleteTableAsync("inet", "qkvm")).ShouldBeTrue();
        (await nft.ListTableAsync("inet", "qkvm")).ShouldBeNull();

        (await Should.ThrowAsync<ArgumentException>(() => nft.ListTableAsync("inet", "qkvm; flush ruleset"))).Message.ShouldContain("'qkvm; flush ruleset'");
        (await Should.ThrowAsync<ArgumentException>(() => nft.ListTableAsync("ipx", "qkvm"))).Message.ShouldContain("'ipx' is not an nftables family");
        Should.Throw<ArgumentException>(() => Nftables.InNamespace("../x")).Message.ShouldContain("network namespace '../x'");
    }

    private static ILookup<Guid, System.Net.IPAddress> EmptyMembers() =>
        Array.Empty<(Guid Group, System.Net.IPAddress Address)>().ToLookup(m => m.Group, m => m.Address);

    private Task<string> ListAsync() => InNamespaceAsync("nft", "list", "table", "inet", "qkvm");

    private Task<string> InNamespaceAsync(params string[] command) => HostCommand.RunCheckedAsync("ip", ["netns", "exec", _namespace, .. command]);
}
