using Quantixkvm.Domain.Vms;

namespace Quantixkvm.Domain.Templates;

/// <summary>Hardware plus the image a VM boots from. "Create VM from template" makes a clone of the image for each VM.</summary>
public sealed record TemplateSpec(string Name, string Description, int Vcpus, int MemoryMiB, Guid ImageVolumeId, long? DiskSizeBytes);

public abstract record TemplateCommand(CommandContext Context);

public sealed record CreateTemplate(CommandContext Context, Guid TemplateId, TemplateSpec Spec) : TemplateCommand(Context);

public sealed record DeleteTemplate(CommandContext Context) : TemplateCommand(Context);

public abstract record TemplateEvent(Guid TemplateId);

public sealed record TemplateCreated(Guid TemplateId, TemplateSpec Spec, DateTimeOffset CreatedAt) : TemplateEvent(TemplateId);

public sealed record TemplateDeleted(Guid TemplateId, DateTimeOffset DeletedAt) : TemplateEvent(TemplateId);

public sealed record TemplateState(Guid TemplateId, TemplateSpec? Spec, bool Deleted)
{
    public static TemplateState Initial { get; } = new(Guid.Empty, null, false);
}

/// <summary>Templates are records only: no agent acts on them, so they need no operations.</summary>
public static class TemplateDecider
{
    public static Guid TemplateIdForCreate(string commandId) => DeterministicId.From("template", commandId);

    public static Decision<TemplateEvent> Decide(TemplateCommand command, TemplateState state) => command switch
    {
        CreateTemplate create when state.Spec is not null => state.Spec == create.Spec
            ? Decision<TemplateEvent>.Accept(null)
            : Decision<TemplateEvent>.Reject(RejectionCode.Conflict, $"template {create.TemplateId} already exists", command: "create-template"),
        CreateTemplate create => Check(create.Spec) is { } problem
            ? Decision<TemplateEvent>.Reject(RejectionCode.Validation, problem, command: "create-template")
            : Decision<TemplateEvent>.Accept(null, new TemplateCreated(create.TemplateId, create.Spec, create.Context.Now)),
        DeleteTemplate when state.Spec is null => Decision<TemplateEvent>.Reject(RejectionCode.NotFound, "the template does not exist", command: "delete-template"),
        DeleteTemplate when state.Deleted => Decision<TemplateEvent>.Accept(null),
        DeleteTemplate delete => Decision<TemplateEvent>.Accept(null, new TemplateDeleted(state.TemplateId, delete.Context.Now)),
        _ => throw new ArgumentOutOfRangeException(nameof(command), command.GetType().Name, "not a template command"),
    };

    public static TemplateState Evolve(TemplateState state, TemplateEvent @event) => @event switch
    {
        TemplateCreated e => state with { TemplateId = e.TemplateId, Spec = e.Spec },
        TemplateDeleted => state with { Deleted = true },
        _ => state,
    };

    private static string? Check(TemplateSpec spec)
    {
        var problems = VmLimits.Check(spec.Name, spec.Vcpus, spec.MemoryMiB);
        if (problems.Count > 0)
        {
            return string.Join("; ", problems);
        }

        if (spec.ImageVolumeId == Guid.Empty)
        {
            return "a template must name the image volume it boots from";
        }

        return spec.DiskSizeBytes is { } size ? Storage.StoragePaths.CheckSize(size) : null;
    }
}
