using System.Text;
using System.Text.Json;
using Marten;
using Quantixkvm.ControlPlane.ReadModels;
using Quantixkvm.Domain;
using Quantixkvm.Domain.Storage;
using Quantixkvm.Domain.Vms;

namespace Quantixkvm.ControlPlane.Commands;

/// <summary>What a user gives for cloud-init; <see cref="VmProvisioning.CloudInit"/> turns it into NoCloud data.</summary>
public sealed record CloudInitRequest(string? Hostname, IReadOnlyList<string>? SshAuthorizedKeys, string? UserData, string? NetworkConfig);

public sealed record CreateVmFromTemplateRequest(
    Guid TemplateId, string Name, Guid? HostId, bool Start, bool Linked, CloudInitRequest? CloudInit);

/// <summary>
/// Create-VM-from-template: clone the template's image (a linked clone unless asked otherwise), wait
/// for the clone, then create the VM booting from it. Every step's id follows from the command id, so
/// a retry after a crash or a lost response resumes where it stopped instead of cloning again.
/// </summary>
public sealed class VmProvisioning(StorageCommands storage, VmCommands vms, IDocumentStore store, TimeProvider clock)
{
    public async Task<CommandResult> CreateFromTemplateAsync(
        CreateVmFromTemplateRequest request, CommandMetadata metadata, CancellationToken cancellationToken)
    {
        await using var session = store.QuerySession();
        var template = await session.LoadAsync<TemplateView>(request.TemplateId, cancellationToken);
        if (template is null || template.DeletedAt is not null)
        {
            throw new CommandRejectedException(new Rejection(RejectionCode.NotFound, $"template {request.TemplateId} does not exist", Command: "create-vm-from-template"));
        }

        var image = await session.LoadAsync<VolumeView>(template.Spec.ImageVolumeId, cancellationToken)
            ?? throw new CommandRejectedException(new Rejection(RejectionCode.NotFound,
                $"template '{template.Spec.Name}' names image {template.Spec.ImageVolumeId}, which no longer exists", Command: "create-vm-from-template"));
        if (ResourceNames.Check("volume", $"{request.Name}-boot") is { } badName)
        {
            throw new CommandRejectedException(new Rejection(RejectionCode.Validation,
                $"the VM's name makes its boot volume's name: {badName}", Command: "create-vm-from-template"));
        }

        var cloneMetadata = metadata with { CommandId = $"{metadata.CommandId}:boot-volume" };
        var clone = await storage.CreateVolumeAsync(
            new CreateVolumeRequest(image.PoolId, $"{request.Name}-boot", null, template.Spec.DiskSizeBytes ?? image.SizeBytes,
                new VolumeSource(CloneOf: image.Id, Linked: request.Linked)),
            cloneMetadata, cancellationToken);
        await WaitUntilReadyAsync(clone.StreamId, cancellationToken);

        var cloudInit = request.CloudInit is { } ci ? CloudInit(VmDecider.VmIdForCreate(metadata.CommandId), request.Name, ci) : null;
        return await vms.CreateAsync(
            new CreateVmRequest(request.Name, template.Spec.Vcpus, template.Spec.MemoryMiB, request.HostId,
                request.Start, [new DiskRequest(clone.StreamId, DiskBus.Virtio, BootOrder: 1)], cloudInit),
            metadata, cancellationToken);
    }

    /// <summary>NoCloud meta-data (instance id, hostname, SSH keys) in YAML; strings JSON-quoted, which YAML reads as-is.</summary>
    public static CloudInitConfig CloudInit(Guid vmId, string vmName, CloudInitRequest request)
    {
        var meta = new StringBuilder()
            .Append("instance-id: ").AppendLine(JsonSerializer.Serialize(vmId.ToString()))
            .Append("local-hostname: ").AppendLine(JsonSerializer.Serialize(request.Hostname ?? vmName));
        if (request.SshAuthorizedKeys is { Count: > 0 } keys)
        {
            meta.AppendLine("public-keys:");
            foreach (var key in keys)
            {
                meta.Append("  - ").AppendLine(JsonSerializer.Serialize(key));
            }
        }

        return new CloudInitConfig(request.UserData, meta.ToString(), request.NetworkConfig);
    }

    private async Task WaitUntilReadyAsync(Guid volumeId, CancellationToken cancellationToken)
    {
        while (true)
        {
            await using var session = store.QuerySession();
            var volume = await session.LoadAsync<VolumeView>(volumeId, cancellationToken);
            switch (volume?.Status)
            {
                case StorageStatus.Ready:
                    return;
                case StorageStatus.Failed or StorageStatus.Deleted:
                    throw new CommandRejectedException(new Rejection(RejectionCode.InvalidState,
                        $"the boot volume could not be made: {volume.LastError ?? "it failed"}", Command: "create-vm-from-template"));
            }

            // The operation's own deadline bounds this wait: a timed-out clone ends as FAILED above.
            await Task.Delay(TimeSpan.FromMilliseconds(100), clock, cancellationToken);
        }
    }
}
