using Quantixkvm.Domain.Tests.Support;
using Quantixkvm.Domain.Vms;

namespace Quantixkvm.Domain.Tests;

/// <summary>NoCloud data given at create: meta-data required, at most 64 KiB in all.</summary>
public class ConfiguringCloudInit
{
    private const string MetaData = "instance-id: web-1\nlocal-hostname: web-1\n";
    private const string UserData = "#cloud-config\npackages: [nginx]\n";

    [Fact]
    public void a_vm_created_with_cloud_init_records_it_before_its_create_operation()
    {
        var config = new CloudInitConfig(UserData, MetaData, NetworkConfig: "version: 2\n");

        var accepted = VmSpec.Given()
            .When(Cmd.Create(cloudInit: config, disks: [new DiskRequest(Fixed.BootVolume, BootOrder: 1)]))
            .ThenAccepted();

        accepted.Events.Select(e => e.GetType()).ShouldBe(
            [typeof(VmCreated), typeof(VmDiskAttached), typeof(VmCloudInitConfigured), typeof(VmOperationRequested)]);
        accepted.Events[2].ShouldBe(new VmCloudInitConfigured(Fixed.VmId, UserData, MetaData, "version: 2\n"));
    }

    [Fact]
    public void a_vm_created_with_cloud_init_has_it()
    {
        VmSpec.Given().When(Cmd.Create(cloudInit: new CloudInitConfig(null, MetaData, null))).ThenState().HasCloudInit.ShouldBeTrue();
        VmSpec.Given().When(Cmd.Create()).ThenState().HasCloudInit.ShouldBeFalse();
    }

    [Fact]
    public void a_vm_created_without_cloud_init_records_none()
    {
        VmSpec.Given().When(Cmd.Create()).ThenAccepted().Events.OfType<VmCloudInitConfigured>().ShouldBeEmpty();
    }

    [Theory]
    [InlineData("")]
    [InlineData("   ")]
    [InlineData("\n")]
    public void empty_meta_data_is_refused(string metaData)
    {
        var rejection = VmSpec.Given()
            .When(Cmd.Create(cloudInit: new CloudInitConfig(UserData, metaData, null)))
            .ThenRejected(RejectionCode.Validation);

        rejection.Message.ShouldBe("cloud-init meta-data must not be empty (it holds the instance id)");
        rejection.Command.ShouldBe("create");
    }

    [Fact]
    public void cloud_init_data_of_exactly_64_kib_is_accepted()
    {
        var userData = new string('x', VmDisks.MaxCloudInitBytes - MetaData.Length);

        VmSpec.Given()
            .When(Cmd.Create(cloudInit: new CloudInitConfig(userData, MetaData, null)))
            .ThenAccepted().Events.OfType<VmCloudInitConfigured>().ShouldHaveSingleItem();
    }

    [Fact]
    public void cloud_init_data_over_64_kib_in_all_is_refused()
    {
        // Each part is well under the limit; together they are one byte over.
        var userData = new string('x', 40 * 1024);
        var networkConfig = new string('y', (24 * 1024) - MetaData.Length + 1);

        VmSpec.Given()
            .When(Cmd.Create(cloudInit: new CloudInitConfig(userData, MetaData, networkConfig)))
            .ThenRejected(RejectionCode.Validation)
            .Message.ShouldBe("cloud-init data must be at most 65536 bytes in all (got 65537)");
    }

    [Fact]
    public void the_cloud_init_limit_counts_bytes_not_characters()
    {
        // 40,000 'é' are 40,000 characters but 80,000 bytes in the seed disk.
        var userData = "#cloud-config\n# " + new string('é', 40_000);

        VmSpec.Given()
            .When(Cmd.Create(cloudInit: new CloudInitConfig(userData, MetaData, null)))
            .ThenRejected(RejectionCode.Validation, containing: "at most 65536 bytes");
    }

    [Fact]
    public void a_create_refused_for_its_cloud_init_records_nothing()
    {
        VmSpec.Given()
            .When(Cmd.Create(cloudInit: new CloudInitConfig(UserData, "", null), disks: [new DiskRequest(Fixed.BootVolume)]))
            .ThenRejected(RejectionCode.Validation);
    }
}
