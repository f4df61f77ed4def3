using System.Security.Cryptography;
using System.Text;

namespace Quantixkvm.Domain;

/// <summary>
/// Name-based UUIDs (RFC 9562 version 5): the same command id always maps to the same
/// VM or operation id, which is what makes a repeated command a no-op.
/// </summary>
public static class DeterministicId
{
    private static readonly Guid Namespace = new("4f1e6c1a-8e0b-5d52-9a55-6a3f0c2b7d11");

    public static Guid From(params string[] parts)
    {
        var name = Encoding.UTF8.GetBytes(string.Join('\u001f', parts));
        var ns = Namespace.ToByteArray(bigEndian: true);
        var input = new byte[ns.Length + name.Length];
        ns.CopyTo(input, 0);
        name.CopyTo(input, ns.Length);
#pragma warning disable CA5350 // SHA-1 is what RFC 9562 prescribes for v5 ids; this is not a security use.
        var hash = SHA1.HashData(input);
#pragma warning restore CA5350
        var bytes = hash.AsSpan(0, 16).ToArray();
        bytes[6] = (byte)((bytes[6] & 0x0F) | 0x50);
        bytes[8] = (byte)((bytes[8] & 0x3F) | 0x80);
        return new Guid(bytes, bigEndian: true);
    }
}
