namespace Quantixkvm.Domain.Tests;

/// <summary>Names that reach a host as file names, libvirt names or command arguments: volumes, pools, snapshots.</summary>
public class NamingResources
{
    public static TheoryData<string> GoodNames => new()
    {
        "a",
        "7",
        "data-1",
        "web-1-root.qcow2",
        "Snap_2025.06.01",
        "a..b",
        "trailing-",
        new string('n', ResourceNames.MaxLength),
    };

    [Theory]
    [MemberData(nameof(GoodNames))]
    public void a_plain_name_is_accepted(string name)
    {
        ResourceNames.Check("volume", name).ShouldBeNull();
    }

    public static TheoryData<string, string> BadNames => new()
    {
        { "../x", "climbs out of its folder" },
        { "..", "is the parent folder" },
        { ".", "is the folder itself" },
        { ".hidden", "starts with a dot" },
        { "a/b", "has a slash" },
        { "/etc/passwd", "is an absolute path" },
        { "a\\b", "has a backslash" },
        { "-x", "looks like an option" },
        { "--force", "looks like an option" },
        { "_x", "starts with an underscore" },
        { "a b", "has a space" },
        { "$(rm -rf /)", "is a command substitution" },
        { "`id`", "is a command substitution" },
        { "a;b", "chains a command" },
        { "a|b", "pipes" },
        { "a&b", "backgrounds" },
        { "a>b", "redirects" },
        { "a*", "globs" },
        { "a'b", "quotes" },
        { "a\"b", "quotes" },
        { "a\nb", "has a newline" },
        { "a\tb", "has a tab" },
        { "a\u0000b", "has a NUL" },
        { "données", "is not ASCII" },
        { "a\u202Eb", "reorders text" },
        { new string('n', ResourceNames.MaxLength + 1), "is too long" },
    };

    [Theory]
    [MemberData(nameof(BadNames))]
    public void an_unsafe_name_is_refused(string name, string why)
    {
        ResourceNames.Check("volume", name).ShouldNotBeNull($"'{name}' {why}");
    }

    [Theory]
    [InlineData(null)]
    [InlineData("")]
    public void an_empty_name_is_refused_as_empty(string? name)
    {
        ResourceNames.Check("pool", name).ShouldBe("pool name must not be empty");
    }

    [Fact]
    public void a_long_name_is_refused_with_its_length()
    {
        ResourceNames.Check("snapshot", new string('s', 70)).ShouldBe("snapshot name must be at most 64 characters (got 70)");
    }

    [Fact]
    public void the_refusal_names_what_was_named_and_shows_control_characters_as_question_marks()
    {
        ResourceNames.Check("volume", "a\nb").ShouldBe(
            "volume name 'a?b' may contain only letters, digits, '.', '_' and '-', and must start with a letter or digit");
    }
}
