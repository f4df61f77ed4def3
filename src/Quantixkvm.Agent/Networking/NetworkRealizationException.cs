namespace Quantixkvm.Agent.Networking;

/// <summary>
/// A network cannot be realized on this host for a reason the agent can name: a setting this host lacks, a desired
/// state it cannot apply (an unknown wire value, a DHCP subnet without a gateway), a device that belongs to someone else.
/// Its message is what the network's realization report says.
/// </summary>
public sealed class NetworkRealizationException(string message, Exception? inner = null) : Exception(message, inner);
