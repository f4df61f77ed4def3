using Quantixkvm.Domain.Vms;

namespace Quantixkvm.Domain.Tests;

public class DeterministicIds
{
    [Fact]
    public void the_same_parts_give_the_same_id_every_time()
    {
        DeterministicId.From("vm", "create-1").ShouldBe(DeterministicId.From("vm", "create-1"));
        VmDecider.VmIdForCreate("create-1").ShouldBe(VmDecider.VmIdForCreate("create-1"));
    }

    [Theory]
    [InlineData("vm", "create-2")]
    [InlineData("vm", "Create-1")]
    [InlineData("host", "create-1")]
    [InlineData("vm", "create-1 ")]
    public void different_parts_give_different_ids(string kind, string key)
    {
        DeterministicId.From(kind, key).ShouldNotBe(DeterministicId.From("vm", "create-1"));
    }

    [Fact]
    public void the_parts_are_kept_apart()
    {
        DeterministicId.From("vm", "create-1").ShouldNotBe(DeterministicId.From("vmcreate-1"));
        DeterministicId.From("a", "bc").ShouldNotBe(DeterministicId.From("ab", "c"));
    }

    [Theory]
    [InlineData("vm", "create-1")]
    [InlineData("host", "kvm-01")]
    [InlineData("")]
    [InlineData("vm-operation", "x", "y")]
    public void an_id_is_a_version_5_rfc_uuid(params string[] parts)
    {
        var id = DeterministicId.From(parts);
        var text = id.ToString("D");

        id.Version.ShouldBe(5);
        text[14].ShouldBe('5');
        "89ab".ShouldContain(text[19]);
    }

    [Fact]
    public void ids_match_an_independent_uuid5_implementation()
    {
        // Computed with Python: uuid.uuid5(uuid.UUID("4f1e6c1a-8e0b-5d52-9a55-6a3f0c2b7d11"), "\x1f".join(parts))
        DeterministicId.From("vm", "create-1").ShouldBe(Guid.Parse("9329660c-b80d-5dc5-8e10-834e808aef09"));
        DeterministicId.From("vm", "é").ShouldBe(Guid.Parse("6966c546-feb2-5de3-8bfc-c56cb39fc30b"));
        VmDecider.VmIdForCreate("create-1").ShouldBe(Guid.Parse("9329660c-b80d-5dc5-8e10-834e808aef09"));
        VmDecider.OperationIdFor(Guid.Parse("9329660c-b80d-5dc5-8e10-834e808aef09"), "create-1")
            .ShouldBe(Guid.Parse("c201dbb8-73e7-5d5c-89da-d7ea8d270ecf"));
    }

    [Fact]
    public void a_vm_id_and_its_first_operation_id_differ()
    {
        var vmId = VmDecider.VmIdForCreate("create-1");

        VmDecider.OperationIdFor(vmId, "create-1").ShouldNotBe(vmId);
    }
}
