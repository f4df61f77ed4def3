using Quantixkvm.ControlPlane.Tests.Support;

namespace Quantixkvm.ControlPlane.Tests;

/// <summary>Cloud-init at create: NoCloud meta-data with the VM's id, hostname and keys, sent to the host for its seed disk.</summary>
public sealed class CloudInitTests(ControlPlaneFixture fixture) : IClassFixture<ControlPlaneFixture>
{
    private const string Key = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIKxQ7ZJj2kQ1 ops@example";

    private ControlPlaneApp App => fixture.App;

    [Fact]
    public async Task a_vm_created_with_cloud_init_carries_meta_data_with_its_id_hostname_and_keys_to_its_host()
    {
        var api = App.Api();
        var userData = "#cloud-config\npackages: [nginx]\n";

        var created = await api.VmMutationAsync(StorageApi.CreateVm, "createVm", new
        {
            input = new { name = "web-1", vcpus = 1, memoryMiB = 64, cloudInit = new { hostname = "web-1.internal", sshAuthorizedKeys = new[] { Key }, userData } },
        });

        var vmId = created.Str("vm.id");
        var cloudInit = (await api.VmWithStorageAsync(vmId))!["cloudInit"]!;
        var metaData = cloudInit.Str("metaData");
        metaData.ShouldContain($"instance-id: \"{vmId}\"");
        metaData.ShouldContain("local-hostname: \"web-1.internal\"");
        metaData.ShouldContain($"  - \"{Key}\"");
        cloudInit["hasUserData"]!.GetValue<bool>().ShouldBeTrue();
        cloudInit["networkConfig"].ShouldBeNull();

        var message = await fixture.Agent.OperationAsync(Guid.Parse(created.Str("operation.id")));
        message.CloudInit.ShouldNotBeNull();
        message.CloudInit.MetaData.ShouldBe(metaData);
        message.CloudInit.UserData.ShouldBe(userData, "the seed disk needs the user-data the API does not show");
        message.CloudInit.NetworkConfig.ShouldBeNull();
        (await App.Events.StreamAsync(Guid.Parse(vmId))).Single(e => e.Type == "vm.cloud-init-configured.v1").ShouldMatchSchema();
    }

    [Fact]
    public async Task the_vms_history_says_user_data_was_set_but_not_what_it_says()
    {
        var api = App.Api();
        var created = await api.VmMutationAsync(StorageApi.CreateVm, "createVm", new
        {
            input = new { name = "secretive", vcpus = 1, memoryMiB = 64, cloudInit = new { userData = "#cloud-config\npassword: hunter2\n" } },
        });

        var history = (await api.DataAsync("query($id: ID!) { vm(id: $id) { history { type data } } }", new { id = created.Str("vm.id") }))["vm"]!["history"]!
            .AsArray().Single(h => h!["type"]!.GetValue<string>() == "vm.cloud-init-configured.v1")!;
        history["data"]!.GetValue<string>().ShouldNotContain("hunter2");
        history["data"]!.GetValue<string>().ShouldContain("(redacted)");
    }

    [Fact]
    public async Task cloud_init_without_a_hostname_uses_the_vms_name_and_without_user_data_says_so()
    {
        var created = await App.Api().VmMutationAsync(StorageApi.CreateVm, "createVm", new
        {
            input = new { name = "db-1", vcpus = 1, memoryMiB = 64, cloudInit = new { networkConfig = "version: 2\n" } },
        });

        var cloudInit = created["vm"]!["cloudInit"]!;
        cloudInit.Str("metaData").ShouldContain("local-hostname: \"db-1\"");
        cloudInit.Str("metaData").ShouldNotContain("public-keys");
        cloudInit["hasUserData"]!.GetValue<bool>().ShouldBeFalse();
        cloudInit.Str("networkConfig").ShouldBe("version: 2\n");
    }

    [Fact]
    public async Task a_key_cannot_smuggle_its_own_lines_into_the_meta_data()
    {
        var evil = "ssh-rsa AAAA\"\ninstance-id: hijacked\nlocal-hostname: evil";

        var created = await App.Api().VmMutationAsync(StorageApi.CreateVm, "createVm", new
        {
            input = new { name = "quoted", vcpus = 1, memoryMiB = 64, cloudInit = new { sshAuthorizedKeys = new[] { evil } } },
        });

        var lines = created["vm"]!["cloudInit"]!.Str("metaData").Split('\n');
        lines.Count(l => l.StartsWith("instance-id:", StringComparison.Ordinal)).ShouldBe(1);
        lines.ShouldNotContain(l => l.Contains("hijacked", StringComparison.Ordinal) && !l.StartsWith("  - ", StringComparison.Ordinal));
    }

    [Fact]
    public async Task a_vm_without_cloud_init_has_none_and_its_host_builds_no_seed()
    {
        var created = await App.Api().CreateVmAsync("plain", memoryMiB: 64);

        (await App.Api().VmWithStorageAsync(created.Str("vm.id")))!["cloudInit"].ShouldBeNull();
        (await fixture.Agent.OperationAsync(Guid.Parse(created.Str("operation.id")))).CloudInit.ShouldBeNull();
    }

    [Fact]
    public async Task cloud_init_data_over_64_kib_is_refused_as_validation()
    {
        var (code, error) = (await App.Api().SendAsync(StorageApi.CreateVm, new
        {
            input = new { name = "oversized", vcpus = 1, memoryMiB = 64, cloudInit = new { userData = new string('x', 64 * 1024) } },
        })).Error();

        code.ShouldBe("VALIDATION");
        error.Str("message").ShouldContain("65536");
        (await App.Api().DataAsync("{ vms { name } }"))["vms"]!.AsArray().Names().ShouldNotContain("oversized");
    }
}
