namespace Quantixkvm.Libvirt.Tests;

public sealed class LibvirtErrorCodeTests
{
    [Theory]
    [InlineData(LibvirtErrorCode.Ok, 0)]
    [InlineData(LibvirtErrorCode.InternalError, 1)]
    [InlineData(LibvirtErrorCode.NoMemory, 2)]
    [InlineData(LibvirtErrorCode.NoSupport, 3)]
    [InlineData(LibvirtErrorCode.InvalidArg, 8)]
    [InlineData(LibvirtErrorCode.OperationFailed, 9)]
    [InlineData(LibvirtErrorCode.XmlError, 27)]
    [InlineData(LibvirtErrorCode.DomExist, 28)]
    [InlineData(LibvirtErrorCode.XmlDetail, 35)]
    [InlineData(LibvirtErrorCode.NoDomain, 42)]
    [InlineData(LibvirtErrorCode.OperationInvalid, 55)]
    [InlineData(LibvirtErrorCode.ConfigUnsupported, 67)]
    [InlineData(LibvirtErrorCode.ArgumentUnsupported, 74)]
    [InlineData(LibvirtErrorCode.OperationUnsupported, 84)]
    [InlineData(LibvirtErrorCode.MultipleDomains, 110)]
    public void each_error_code_has_the_number_libvirts_virterror_h_gives_it(LibvirtErrorCode code, int number)
    {
        ((int)code).ShouldBe(number);
    }

    [Fact]
    public void the_enum_names_every_libvirt_9_error_number_without_gaps()
    {
        Enum.GetValues<LibvirtErrorCode>().Select(c => (int)c).Order().ShouldBe(Enumerable.Range(0, 111));
    }

    [Fact]
    public void an_exception_exposes_its_code_as_the_enum_and_keeps_libvirts_message()
    {
        var error = new LibvirtException("Requested operation is not valid: x", 55, 20, "virDomainCreate");

        error.ErrorCode.ShouldBe(LibvirtErrorCode.OperationInvalid);
        error.Message.ShouldBe("Requested operation is not valid: x");
        error.ErrorDomain.ShouldBe(20);
        error.Operation.ShouldBe("virDomainCreate");
    }
}
