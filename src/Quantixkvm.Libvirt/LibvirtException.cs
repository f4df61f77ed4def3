namespace Quantixkvm.Libvirt;

/// <summary>
/// A libvirt call failed. <see cref="Exception.Message"/> is libvirt's own message text
/// (<c>virError.message</c>), verbatim.
/// </summary>
public class LibvirtException : Exception
{
    public LibvirtException(string message, int code, int errorDomain, string operation)
        : base(message)
    {
        ArgumentException.ThrowIfNullOrEmpty(operation);
        Code = code;
        ErrorDomain = errorDomain;
        Operation = operation;
    }

    /// <summary>libvirt's <c>virErrorNumber</c>.</summary>
    public int Code { get; }

    /// <summary>libvirt's <c>virErrorDomain</c>: the part of libvirt that raised the error.</summary>
    public int ErrorDomain { get; }

    /// <summary><see cref="Code"/> as the enum; later libvirt versions may report values it does not name.</summary>
    public LibvirtErrorCode ErrorCode => (LibvirtErrorCode)Code;

    /// <summary>The libvirt function that failed, for example <c>virDomainCreate</c>.</summary>
    public string Operation { get; }
}

/// <summary>libvirt reported <c>VIR_ERR_NO_DOMAIN</c> where a domain was required.</summary>
public sealed class DomainNotFoundException : LibvirtException
{
    public DomainNotFoundException(string message, int code, int errorDomain, string operation)
        : base(message, code, errorDomain, operation)
    {
    }
}
