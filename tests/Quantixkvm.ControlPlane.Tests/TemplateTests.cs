using Quantixkvm.Contracts;
using Quantixkvm.ControlPlane.Tests.Support;

namespace Quantixkvm.ControlPlane.Tests;

/// <summary>Templates and VMs made from them: a clone of the template's image per VM, made first, then the VM booting from it.</summary>
public sealed class TemplateTests(StorageFixture fixture) : IClassFixture<StorageFixture>
{
    private const long DiskBytes = 10L << 30;

    private ControlPlaneApp App => fixture.App;

    private FakeAgent Agent => fixture.Agent;

    [Fact]
    public async Task a_template_names_its_image_and_is_listed_until_deleted()
    {
        var api = App.Api();
        var imageId = await api.ReadyImageAsync(fixture.PoolId, "listed-image");

        var template = (await api.DataAsync(StorageApi.CreateTemplate, new
        {
            input = new { name = "small", description = "1 vCPU, 512 MiB", vcpus = 1, memoryMiB = 512, imageId, diskSizeBytes = DiskBytes },
        }))["createTemplate"]!;

        template.Str("name").ShouldBe("small");
        template.Str("description").ShouldBe("1 vCPU, 512 MiB");
        template.Str("image.name").ShouldBe("listed-image");
        template.Long("diskSizeBytes").ShouldBe(DiskBytes);
        var templateId = template.Str("id");
        (await Templates(api)).ShouldContain(templateId);

        (await api.DataAsync("mutation($id: ID!) { deleteTemplate(id: $id) }", new { id = templateId }))["deleteTemplate"]!.GetValue<bool>().ShouldBeTrue();

        (await Templates(api)).ShouldNotContain(templateId);
        (await api.DataAsync("query($id: ID!) { template(id: $id) { id } }", new { id = templateId }))["template"].ShouldBeNull();
        var (code, _) = await api.ErrorAsync(StorageApi.CreateVmFromTemplate, new { input = new { templateId, name = "from-deleted" } });
        code.ShouldBe("NOT_FOUND");
    }

    [Fact]
    public async Task a_template_of_an_image_that_does_not_exist_or_with_bad_hardware_is_refused()
    {
        var api = App.Api();
        var imageId = await api.ReadyImageAsync(fixture.PoolId, "checked-image");

        var (missing, _) = await api.ErrorAsync(StorageApi.CreateTemplate,
            new { input = new { name = "no-image", vcpus = 1, memoryMiB = 512, imageId = Guid.NewGuid().ToString() } });
        var (noCpu, error) = await api.ErrorAsync(StorageApi.CreateTemplate, new { input = new { name = "no-cpu", vcpus = 0, memoryMiB = 512, imageId } });
        var (tiny, _) = await api.ErrorAsync(StorageApi.CreateTemplate,
            new { input = new { name = "tiny-disk", vcpus = 1, memoryMiB = 512, imageId, diskSizeBytes = 1000 } });

        missing.ShouldBe("NOT_FOUND");
        noCpu.ShouldBe("VALIDATION");
        error.Str("message").ShouldContain("vcpus");
        tiny.ShouldBe("VALIDATION");
    }

    [Fact]
    public async Task a_vm_from_a_template_boots_from_a_linked_clone_of_the_image_made_before_the_vm()
    {
        var api = App.Api();
        var (templateId, imageId) = await TemplateAsync("web-template", "web-image");

        var created = await api.VmMutationAsync(StorageApi.CreateVmFromTemplate, "createVmFromTemplate", new
        {
            input = new { templateId, name = "web-7", cloudInit = new { sshAuthorizedKeys = new[] { "ssh-ed25519 AAAA ops" } } },
        });

        var vmId = created.Str("vm.id");
        created["vm"]!["vcpus"]!.GetValue<int>().ShouldBe(2);
        created["vm"]!["memoryMiB"]!.GetValue<int>().ShouldBe(1024);
        var disk = created.Arr("vm.disks").Single()!;
        disk.Str("targetDev").ShouldBe("vda");
        disk["bootOrder"]!.GetValue<int>().ShouldBe(1);
        disk.Str("state").ShouldBe("ATTACHED");
        disk.Str("volume.name").ShouldBe("web-7-boot");
        created.Str("vm.cloudInit.metaData").ShouldContain($"instance-id: \"{vmId}\"");

        var boot = (await api.VolumeAsync(disk.Str("volumeId")))!;
        boot.Str("status").ShouldBe("READY");
        boot.Str("cloneOf").ShouldBe(imageId);
        boot["linked"]!.GetValue<bool>().ShouldBeTrue();
        boot.Str("format").ShouldBe("QCOW2");
        boot.Long("sizeBytes").ShouldBe(DiskBytes);
        boot.Str("attachedTo.id").ShouldBe(vmId);

        var clone = Agent.StorageReceived.Single(m => m.Volume?.Name == "web-7-boot");
        clone.Kind.ShouldBe(StorageOperationKind.CreateVolume);
        clone.Volume!.CloneOfName.ShouldBe("web-image");
        clone.Volume.CloneOfFormat.ShouldBe("raw");
        clone.Volume.Linked.ShouldBeTrue();
        clone.Volume.Format.ShouldBe("qcow2");
        clone.Volume.SizeBytes.ShouldBe(DiskBytes);

        var create = await Agent.OperationAsync(Guid.Parse(created.Str("operation.id")));
        create.Kind.ShouldBe(DomainOperationKind.Create);
        create.Domain.Vcpus.ShouldBe(2);
        var wire = create.Disks.ShouldHaveSingleItem();
        wire.VolumeName.ShouldBe("web-7-boot");
        wire.BootOrder.ShouldBe(1);
        wire.Format.ShouldBe("qcow2");
        create.CloudInit!.MetaData.ShouldContain("ssh-ed25519 AAAA ops");

        // The image is now the base of a linked clone.
        (await api.OnTargetAsync("deleteVolume", imageId)).Error().Code.ShouldBe("INVALID_STATE");
    }

    [Fact]
    public async Task repeating_a_create_from_template_with_its_command_id_returns_the_same_vm_and_clones_once()
    {
        var api = App.Api();
        var (templateId, _) = await TemplateAsync("retried-template", "retried-image");
        var input = new { templateId, name = "retried", commandId = $"from-template-{Guid.NewGuid():N}" };
        var first = await api.VmMutationAsync(StorageApi.CreateVmFromTemplate, "createVmFromTemplate", new { input });
        var bootId = Guid.Parse(first.Arr("vm.disks").Single()!.Str("volumeId"));
        var bootEvents = (await App.Events.StreamAsync(bootId)).Count;

        var second = await api.VmMutationAsync(StorageApi.CreateVmFromTemplate, "createVmFromTemplate", new { input });

        second.Str("vm.id").ShouldBe(first.Str("vm.id"));
        second.Str("operation.id").ShouldBe(first.Str("operation.id"));
        second.Str("operation.commandId").ShouldBe(input.commandId);
        (await App.Events.StreamAsync(bootId)).Count.ShouldBe(bootEvents, "no second clone was asked for");
        (await api.VolumesAsync(fixture.PoolId)).Names().Count(n => n == "retried-boot").ShouldBe(1);
        (await App.Events.StreamAsync(Guid.Parse(first.Str("vm.id")))).Count(e => e.Type == "vm.created.v1").ShouldBe(1);
    }

    [Fact]
    public async Task a_vm_from_a_template_with_linked_false_boots_from_a_full_copy()
    {
        var api = App.Api();
        var (templateId, imageId) = await TemplateAsync("copy-template", "copy-image");

        var created = await api.VmMutationAsync(StorageApi.CreateVmFromTemplate, "createVmFromTemplate", new
        {
            input = new { templateId, name = "independent", linked = false },
        });

        var boot = (await api.VolumeAsync(created.Arr("vm.disks").Single()!.Str("volumeId")))!;
        boot["linked"]!.GetValue<bool>().ShouldBeFalse();
        boot.Str("cloneOf").ShouldBe(imageId);
        Agent.StorageReceived.Single(m => m.Volume?.Name == "independent-boot").Volume!.Linked.ShouldBeFalse();
    }

    [Fact]
    public async Task a_vm_from_a_template_whose_boot_clone_fails_is_not_created_and_says_why()
    {
        var api = App.Api();
        var (templateId, _) = await TemplateAsync("failing-template", "failing-image");
        Agent.OnStorage(m => m.Volume?.Name == "unlucky-boot", _ => StorageAnswer.Failure("VIR_ERR_NO_SPACE", "No space left on device"));

        var (code, error) = await api.ErrorAsync(StorageApi.CreateVmFromTemplate, new { input = new { templateId, name = "unlucky" } });

        code.ShouldBe("INVALID_STATE");
        error.Str("message").ShouldContain("No space left on device");
        (await api.DataAsync("{ vms { name } }"))["vms"]!.AsArray().Names().ShouldNotContain("unlucky");
    }

    [Fact]
    public async Task a_vm_name_that_makes_a_bad_boot_volume_name_is_refused_before_anything_is_cloned()
    {
        var api = App.Api();
        var (templateId, _) = await TemplateAsync("strict-template", "strict-image");
        var before = Agent.StorageReceived.Count;

        var (code, _) = await api.ErrorAsync(StorageApi.CreateVmFromTemplate, new { input = new { templateId, name = "my vm" } });

        code.ShouldBe("VALIDATION");
        Agent.StorageReceived.Skip(before).ShouldNotContain(m => m.Kind == StorageOperationKind.CreateVolume);
    }

    private static async Task<List<string>> Templates(Quantixkvm.Testing.GraphQLClient api) =>
        (await api.DataAsync("{ templates { id } }"))["templates"]!.AsArray().Select(t => t!["id"]!.GetValue<string>()).ToList();

    private async Task<(string TemplateId, string ImageId)> TemplateAsync(string name, string image)
    {
        var api = App.Api();
        var imageId = await api.ReadyImageAsync(fixture.PoolId, image);
        var template = (await api.DataAsync(StorageApi.CreateTemplate, new
        {
            input = new { name, vcpus = 2, memoryMiB = 1024, imageId, diskSizeBytes = DiskBytes },
        }))["createTemplate"]!;
        return (template.Str("id"), imageId);
    }
}
