using System.Globalization;
using System.Xml.Linq;
using Quantixkvm.Contracts;
using Quantixkvm.Libvirt;

namespace Quantixkvm.Agent.Hypervisor;

/// <summary>What a power operation may do on its domain, given the operation last marked there.</summary>
internal enum PowerTurn
{
    /// <summary>No later operation has acted: this one may.</summary>
    Act,

    /// <summary>This very operation acted before (the agent restarted before its message was acknowledged).</summary>
    Repeat,

    /// <summary>An operation requested after this one has acted already: this is a late copy and must not undo it.</summary>
    Superseded,
}

/// <summary>
/// The last power operation (start, stop, reboot, pause, resume) that acted on a domain, kept in the domain's metadata:
/// its id and its place in the VM's order of operations. Unlike the agent's in-memory outcome cache it outlives an agent
/// restart, and it is written just before libvirt is asked. So a copy of that operation delivered again does not act
/// twice (a reboot's effect does not even show in the state), and a late copy of an earlier operation cannot undo what
/// a later one did (a pause redelivered after the resume that followed it). It goes into the persistent definition, and
/// into the live one of a running domain, since a stop ends the live one. Checks and marks of one VM take turns.
/// </summary>
internal static class OperationMarks
{
    public const string Namespace = "https://quantixkvm.dev/xmlns/operation/1";
    private const string Prefix = "qkvmop";

    private static readonly Lock[] Turns = Enumerable.Range(0, 64).Select(_ => new Lock()).ToArray();

    /// <summary>The VM's turn: one of a fixed set of locks, chosen by the VM id. Held only around synchronous libvirt calls.</summary>
    public static Lock TurnFor(Guid vmId) => Turns[(vmId.GetHashCode() & int.MaxValue) % Turns.Length];

    /// <summary>Whether the operation may act, from the mark on the domain's persistent definition.</summary>
    public static PowerTurn TurnOf(LibvirtDomain domain, RunDomainOperation command, out long? markedSequence)
    {
        markedSequence = null;
        if (domain.GetMetadataElement(Namespace, inactive: true) is not { } xml)
        {
            return PowerTurn.Act;
        }

        var mark = XElement.Parse(xml);
        markedSequence = long.TryParse(mark.Attribute("sequence")?.Value, NumberStyles.None, CultureInfo.InvariantCulture, out var sequence) ? sequence : null;
        if (Guid.TryParse(mark.Attribute("id")?.Value, out var id) && id == command.OperationId)
        {
            return PowerTurn.Repeat;
        }

        return command.Sequence > 0 && markedSequence > command.Sequence ? PowerTurn.Superseded : PowerTurn.Act;
    }

    /// <summary>
    /// Marks the operation on the domain, in the live definition too when it <paramref name="runs"/> (running or paused);
    /// called just before libvirt is asked to act.
    /// </summary>
    public static void Mark(LibvirtDomain domain, RunDomainOperation command, bool runs)
    {
        var element = new XElement("operation",
            new XAttribute("id", command.OperationId), new XAttribute("sequence", command.Sequence.ToString(CultureInfo.InvariantCulture))).ToString();
        domain.SetMetadataElement(Namespace, Prefix, element, live: runs, config: true);
    }
}
