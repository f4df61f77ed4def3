using System.Xml.Linq;
using Quantixkvm.Libvirt;

namespace Quantixkvm.Agent.Hypervisor;

/// <summary>
/// The last operation that acted on a running domain without leaving a trace in its state (a reboot), kept in the
/// domain's live metadata. Unlike the agent's in-memory outcome cache it outlives an agent restart, so a copy of that
/// operation redelivered afterwards is recognised. Live only: it goes with the running guest, never into the definition.
/// </summary>
internal static class OperationMarks
{
    public const string Namespace = "https://quantixkvm.dev/xmlns/operation/1";
    private const string Prefix = "qkvmop";

    /// <summary>The operation last marked on the running domain; null when none is.</summary>
    public static Guid? LastOf(LibvirtDomain domain) =>
        domain.GetMetadataElement(Namespace) is { } xml && Guid.TryParse(XElement.Parse(xml).Attribute("id")?.Value, out var id) ? id : null;

    public static void Mark(LibvirtDomain domain, Guid operationId) =>
        domain.SetMetadataElement(Namespace, Prefix, new XElement("operation", new XAttribute("id", operationId)).ToString(), live: true, config: false);
}
