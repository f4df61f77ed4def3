using System.Collections.Concurrent;
using System.Text.Json;
using System.Text.Json.Nodes;
using Quantixkvm.Testing;

namespace Quantixkvm.FaultHarness;

/// <summary>A mutation the control plane acknowledged (it answered with an operation id): it must never be lost.</summary>
public sealed class AcknowledgedOperation
{
    public required Guid OperationId { get; init; }
    public required Guid VmId { get; init; }
    public required string Mutation { get; init; }
    public required string CommandId { get; init; }
    public required DateTimeOffset AcknowledgedAt { get; init; }

    /// <summary>How many times the mutation was sent (with the same command id) before an answer came.</summary>
    public required int Attempts { get; init; }

    /// <summary>The end the client saw (SUCCEEDED, FAILED, TIMED_OUT), or null if it stopped waiting first.</summary>
    public string? Status { get; set; }
    public DateTimeOffset? EndedAt { get; set; }
}

/// <summary>
/// The mixed workload: <c>vms</c> slots, each holding a VM, driven by a few concurrent clients with a seeded RNG. Mostly
/// operations valid for the VM's state, some at random (the invalid ones are rejected with a typed error, which is fine).
/// Every mutation carries a command id; one that gets no answer (the control plane is down, or failed inside) is sent again
/// with the same command id until it is answered. A deleted VM's slot gets a new VM.
/// </summary>
public sealed class Workload(FaultPlatform platform, FaultOptions options)
{
    /// <summary>Answers that are a decision about the command (nothing to retry), as opposed to "could not decide now".</summary>
    private static readonly HashSet<string> Rejections =
        ["VALIDATION", "NOT_FOUND", "INVALID_STATE", "ALREADY_EXISTS", "NO_HOST_AVAILABLE", "CONCURRENCY_CONFLICT", "REJECTED"];

    private readonly ConcurrentQueue<AcknowledgedOperation> _acknowledged = new();
    private readonly ConcurrentDictionary<Guid, AcknowledgedOperation> _inFlight = new();
    private readonly ConcurrentDictionary<string, int> _rejected = new();
    private readonly ConcurrentDictionary<string, int> _sent = new();
    private int _resent;
    private int _count;

    public IReadOnlyCollection<AcknowledgedOperation> Acknowledged => _acknowledged;

    /// <summary>Operations acknowledged whose end the client has not seen yet.</summary>
    public IReadOnlyCollection<AcknowledgedOperation> InFlight => (IReadOnlyCollection<AcknowledgedOperation>)_inFlight.Values;

    public int AcknowledgedCount => Volatile.Read(ref _count);

    public IReadOnlyDictionary<string, int> RejectedByCode => _rejected;
    public IReadOnlyDictionary<string, int> SentByMutation => _sent;

    /// <summary>Sends that got no answer (control plane down, or an error that was not a decision) and were repeated with the same command id.</summary>
    public int Resent => Volatile.Read(ref _resent);

    /// <summary>
    /// Runs until <see cref="FaultOptions.Operations"/> mutations were acknowledged and no more faults are to come
    /// (<paramref name="faultsPending"/>), with <see cref="FaultOptions.Clients"/> clients.
    /// </summary>
    public async Task RunAsync(Func<bool> faultsPending, CancellationToken cancellationToken)
    {
        var clients = Math.Max(1, Math.Min(options.Clients, options.Vms));
        await Task.WhenAll(Enumerable.Range(0, clients).Select(client =>
        {
            // Each client has its own seeded RNG and its own slots: the sequence of choices depends only on the seed.
            var random = new Random(HashCode.Combine(options.Seed, client));
            var slots = Enumerable.Range(0, options.Vms).Where(i => i % clients == client).Select(i => new Slot(i)).ToArray();
            return Task.Run(() => ClientAsync(client, random, slots, faultsPending, cancellationToken), cancellationToken);
        }));
    }

    private sealed class Slot(int index)
    {
        public int Index { get; } = index;
        public Guid? VmId { get; set; }
        public string PowerState { get; set; } = "STOPPED";
        public int Generation { get; set; }
    }

    private async Task ClientAsync(int client, Random random, Slot[] slots, Func<bool> faultsPending, CancellationToken cancellationToken)
    {
        var sequence = 0;
        while ((AcknowledgedCount < options.Operations || faultsPending()) && !cancellationToken.IsCancellationRequested)
        {
            var slot = slots[random.Next(slots.Length)];
            var commandId = $"faults-{options.Seed}-{client}-{sequence++}";
            var (mutation, query, variables) = Choose(slot, random, commandId);
            _sent.AddOrUpdate(mutation, 1, (_, n) => n + 1);
            var (answer, attempts) = await SendUntilAnsweredAsync(query, variables, cancellationToken);
            if (answer["errors"] is JsonArray { Count: > 0 } errors)
            {
                _rejected.AddOrUpdate(errors[0]!["extensions"]?["code"]?.GetValue<string>() ?? "?", 1, (_, n) => n + 1);
                await RefreshAsync(slot, cancellationToken);
                continue;
            }

            var payload = answer["data"]![mutation]!;
            var operation = new AcknowledgedOperation
            {
                OperationId = Guid.Parse(payload["operation"]!["id"]!.GetValue<string>()),
                VmId = Guid.Parse(payload["vm"]?["id"]?.GetValue<string>() ?? slot.VmId!.Value.ToString()),
                Mutation = mutation,
                CommandId = commandId,
                AcknowledgedAt = DateTimeOffset.UtcNow,
                Attempts = attempts,
            };
            slot.VmId = operation.VmId;
            _inFlight[operation.OperationId] = operation;
            _acknowledged.Enqueue(operation);
            Interlocked.Increment(ref _count);
            await WaitForEndAsync(operation, cancellationToken);
            _inFlight.TryRemove(operation.OperationId, out _);
            await RefreshAsync(slot, cancellationToken);
        }
    }

    /// <summary>Mostly an operation the VM's last known state allows; one in seven at random, valid or not.</summary>
    private static (string Mutation, string Query, object Variables) Choose(Slot slot, Random random, string commandId)
    {
        if (slot.VmId is not { } vmId)
        {
            slot.Generation++;
            return ("createVm",
                "mutation($input: CreateVmInput!) { createVm(input: $input) { operation { id } vm { id } } }",
                new { input = new { name = $"fault-vm-{slot.Index}-{slot.Generation}", vcpus = 1, memoryMiB = 64, start = random.Next(2) == 0, commandId } });
        }

        string[] any = ["startVm", "stopVm", "stopVm!", "rebootVm", "pauseVm", "resumeVm", "deleteVm"];
        string[] valid = slot.PowerState switch
        {
            "STOPPED" => ["startVm", "startVm", "startVm", "deleteVm"],
            "RUNNING" => ["stopVm", "stopVm!", "rebootVm", "pauseVm"],
            "PAUSED" => ["resumeVm", "stopVm!"],
            _ => ["stopVm!", "deleteVm"],
        };
        var choice = random.Next(7) == 0 ? any[random.Next(any.Length)] : valid[random.Next(valid.Length)];
        var force = choice.EndsWith('!');
        var mutation = choice.TrimEnd('!');
        return mutation == "stopVm"
            ? (mutation, "mutation($id: ID!, $force: Boolean, $commandId: ID) { stopVm(id: $id, force: $force, commandId: $commandId) { operation { id } } }",
                new { id = vmId.ToString(), force, commandId })
            : (mutation, $"mutation($id: ID!, $commandId: ID) {{ {mutation}(id: $id, commandId: $commandId) {{ operation {{ id }} }} }}",
                new { id = vmId.ToString(), commandId });
    }

    /// <summary>Sends until the control plane answers with data or a decision; anything else is sent again with the same command id.</summary>
    private async Task<(JsonNode Answer, int Attempts)> SendUntilAnsweredAsync(string query, object variables, CancellationToken cancellationToken)
    {
        var giveUpAt = DateTime.UtcNow.AddMinutes(5);
        for (var attempt = 1; ; attempt++)
        {
            cancellationToken.ThrowIfCancellationRequested();
            try
            {
                var answer = await platform.Api.SendAsync(query, variables);
                var code = (answer["errors"] as JsonArray)?.FirstOrDefault()?["extensions"]?["code"]?.GetValue<string>();
                if (answer["errors"] is not JsonArray { Count: > 0 } || (code is not null && Rejections.Contains(code)))
                {
                    return (answer, attempt);
                }
            }
            catch (Exception ex) when (ex is HttpRequestException or TaskCanceledException or JsonException or InvalidOperationException)
            {
            }

            if (DateTime.UtcNow > giveUpAt)
            {
                throw new TimeoutException($"no answer to a mutation for 5 minutes: {query}");
            }

            Interlocked.Increment(ref _resent);
            await Task.Delay(250, cancellationToken);
        }
    }

    /// <summary>Polls the operation until it has ended; gives up (leaving it for the invariants) well after its deadline.</summary>
    private async Task WaitForEndAsync(AcknowledgedOperation operation, CancellationToken cancellationToken)
    {
        var giveUpAt = DateTime.UtcNow.AddSeconds(options.OperationTimeoutSeconds + 60);
        while (DateTime.UtcNow < giveUpAt)
        {
            try
            {
                var status = (await platform.Api.DataAsync("query($id: ID!) { operation(id: $id) { status } }", new { id = operation.OperationId }))
                    ["operation"]?["status"]?.GetValue<string>();
                if (status is "SUCCEEDED" or "FAILED" or "TIMED_OUT")
                {
                    operation.Status = status;
                    operation.EndedAt = DateTimeOffset.UtcNow;
                    return;
                }
            }
            catch (Exception ex) when (ex is HttpRequestException or TaskCanceledException or JsonException or InvalidOperationException)
            {
            }

            await Task.Delay(100, cancellationToken);
        }
    }

    /// <summary>The VM's power state as the read model has it; an empty slot when the VM is gone.</summary>
    private async Task RefreshAsync(Slot slot, CancellationToken cancellationToken)
    {
        if (slot.VmId is not { } vmId)
        {
            return;
        }

        for (var attempt = 0; attempt < 100; attempt++)
        {
            try
            {
                var vm = (await platform.Api.DataAsync("query($id: ID!) { vm(id: $id) { powerState } }", new { id = vmId }))["vm"];
                if (vm is null)
                {
                    slot.VmId = null;
                    slot.PowerState = "STOPPED";
                }
                else
                {
                    slot.PowerState = vm["powerState"]!.GetValue<string>();
                }

                return;
            }
            catch (Exception ex) when (ex is HttpRequestException or TaskCanceledException or JsonException or InvalidOperationException)
            {
                await Task.Delay(250, cancellationToken);
            }
        }
    }
}
