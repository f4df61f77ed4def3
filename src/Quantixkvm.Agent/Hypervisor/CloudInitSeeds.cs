using System.Text;
using Microsoft.Extensions.Options;
using Quantixkvm.Agent.Storage;
using Quantixkvm.Contracts;

namespace Quantixkvm.Agent.Hypervisor;

/// <summary>
/// cloud-init NoCloud seed images: an ISO 9660 volume labelled <c>cidata</c> holding user-data, meta-data
/// and (optionally) network-config, built with genisoimage and given to the guest as a read-only disk.
/// </summary>
public sealed class CloudInitSeeds(IOptions<AgentOptions> options)
{
    /// <summary>The seed disk's device: last of the virtio names, out of the way of the VM's own disks.</summary>
    public const string TargetDev = "vdz";

    /// <summary>The serial the seed disk carries (the guest sees it under /dev/disk/by-id).</summary>
    public const string Serial = "cidata";

    public string PathFor(Guid vmId) => Path.Combine(Path.GetFullPath(options.Value.SeedDirectory), $"qkvm-{vmId:N}-cidata.iso");

    /// <summary>Writes the VM's seed image (replacing an older one) and returns its path.</summary>
    /// <exception cref="OperationFailure">SEED_BUILD_FAILED: genisoimage failed; its own message.</exception>
    public async Task<string> BuildAsync(Guid vmId, CloudInitSeed seed, CancellationToken cancellationToken)
    {
        var target = PathFor(vmId);
        Directory.CreateDirectory(Path.GetDirectoryName(target)!);
        var work = Directory.CreateTempSubdirectory("qkvm-cidata-");
        var part = target + ".part";
        try
        {
            var files = new List<string> { "user-data", "meta-data" };
            var utf8 = new UTF8Encoding(encoderShouldEmitUTF8Identifier: false);
            await File.WriteAllTextAsync(Path.Combine(work.FullName, "user-data"), seed.UserData ?? "#cloud-config\n", utf8, cancellationToken);
            await File.WriteAllTextAsync(Path.Combine(work.FullName, "meta-data"), seed.MetaData, utf8, cancellationToken);
            if (seed.NetworkConfig is not null)
            {
                await File.WriteAllTextAsync(Path.Combine(work.FullName, "network-config"), seed.NetworkConfig, utf8, cancellationToken);
                files.Add("network-config");
            }

            var result = await ExternalTool.RunAsync(
                "genisoimage", ["-quiet", "-output", part, "-volid", "cidata", "-joliet", "-rock", .. files], cancellationToken, work.FullName);
            if (result.ExitCode != 0)
            {
                throw new OperationFailure("SEED_BUILD_FAILED", $"genisoimage could not build the cloud-init seed: {result.Message}");
            }

            File.Move(part, target, overwrite: true);
            return target;
        }
        catch
        {
            if (File.Exists(part))
            {
                File.Delete(part);
            }

            throw;
        }
        finally
        {
            work.Delete(recursive: true);
        }
    }

    /// <summary>Removes the VM's seed image if there is one.</summary>
    public void Delete(Guid vmId)
    {
        var path = PathFor(vmId);
        if (File.Exists(path))
        {
            File.Delete(path);
        }
    }
}
