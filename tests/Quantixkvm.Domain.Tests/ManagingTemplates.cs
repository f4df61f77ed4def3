using Quantixkvm.Domain.Templates;
using Quantixkvm.Domain.Tests.Support;

namespace Quantixkvm.Domain.Tests;

/// <summary>Templates are records only: created once (a repeat with the same spec is a no-op) and deleted once.</summary>
public class ManagingTemplates
{
    private const string CommandId = "create-template-1";
    private static readonly Guid TemplateId = TemplateDecider.TemplateIdForCreate(CommandId);
    private static readonly TemplateSpec Spec = new("ubuntu-24.04 small", "2 vCPUs, 2 GiB, 20 GiB disk", 2, 2048, Fixed.BootVolume, 20L << 30);

    private static CreateTemplate Create(TemplateSpec? spec = null) => new(Fixed.Context(CommandId), TemplateId, spec ?? Spec);

    private static DeleteTemplate Delete(string commandId = "delete-template-1") => new(Fixed.Context(commandId));

    private static TemplateCreated Created() => new(TemplateId, Spec, Fixed.Earlier);

    [Fact]
    public void creating_a_template_records_its_spec()
    {
        TemplateScenario.Given()
            .When(Create())
            .ThenEvents(new TemplateCreated(TemplateId, Spec, Fixed.Now))
            .WithOperationId(null)
            .ThenState().ShouldBe(new TemplateState(TemplateId, Spec, Deleted: false));
    }

    [Fact]
    public void a_template_without_a_disk_size_is_accepted()
    {
        TemplateScenario.Given().When(Create(Spec with { DiskSizeBytes = null })).ThenAccepted().Events.ShouldHaveSingleItem();
    }

    [Fact]
    public void the_template_id_follows_from_the_command_id()
    {
        TemplateDecider.TemplateIdForCreate(CommandId).ShouldBe(TemplateId);
        TemplateDecider.TemplateIdForCreate("create-template-2").ShouldNotBe(TemplateId);
    }

    [Fact]
    public void repeating_an_identical_create_changes_nothing()
    {
        TemplateScenario.Given(Created()).When(Create()).ThenNothingChanges(null);
    }

    [Fact]
    public void creating_an_existing_template_with_another_spec_is_a_conflict()
    {
        TemplateScenario.Given(Created())
            .When(Create(Spec with { MemoryMiB = 4096 }))
            .ThenRejected(RejectionCode.Conflict, containing: $"template {TemplateId} already exists")
            .Command.ShouldBe("create-template");
    }

    public static TheoryData<string, TemplateSpec, string> InvalidSpecs => new()
    {
        { "empty name", Spec with { Name = "" }, "name must not be empty" },
        { "control character", Spec with { Name = "small\u0007" }, "name contains a control character (U+0007) at position 5" },
        { "no vCPU", Spec with { Vcpus = 0 }, "vcpus must be between 1 and 240, got 0" },
        { "too little memory", Spec with { MemoryMiB = 8 }, "memoryMiB must be between 16 and 4194304, got 8" },
        { "no image", Spec with { ImageVolumeId = Guid.Empty }, "a template must name the image volume it boots from" },
        { "tiny disk", Spec with { DiskSizeBytes = 1024 }, "volume size must be between 1048576 bytes (1 MiB) and 70368744177664 bytes (64 TiB) (got 1024)" },
    };

    [Theory]
    [MemberData(nameof(InvalidSpecs))]
    public void an_invalid_template_is_refused_naming_the_problem(string why, TemplateSpec spec, string problem)
    {
        var rejection = TemplateScenario.Given().When(Create(spec)).ThenRejected(RejectionCode.Validation);

        rejection.Message.ShouldBe(problem, why);
        rejection.Command.ShouldBe("create-template");
    }

    [Fact]
    public void deleting_a_template_records_its_deletion()
    {
        TemplateScenario.Given(Created())
            .When(Delete())
            .ThenEvents(new TemplateDeleted(TemplateId, Fixed.Now))
            .ThenState().Deleted.ShouldBeTrue();
    }

    [Fact]
    public void deleting_a_template_twice_changes_nothing_the_second_time()
    {
        TemplateScenario.Given(Created(), new TemplateDeleted(TemplateId, Fixed.Earlier))
            .When(Delete("delete-template-2"))
            .ThenNothingChanges(null);
    }

    [Fact]
    public void deleting_a_template_that_does_not_exist_is_not_found()
    {
        TemplateScenario.Given()
            .When(Delete())
            .ThenRejected(RejectionCode.NotFound, containing: "the template does not exist")
            .Command.ShouldBe("delete-template");
    }
}
