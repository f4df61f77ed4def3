using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Npgsql;
using Quantixkvm.ControlPlane.EventStore;
using Quantixkvm.Libvirt;

namespace Quantixkvm.FaultHarness;

/// <summary>One invariant's verdict: the figures it counted and, when it fails, each violation it found (at most a few dozen listed).</summary>
public sealed record InvariantResult(string Name, bool Holds, IReadOnlyDictionary<string, long> Figures, IReadOnlyList<string> Violations, string? NotChecked = null)
{
    /// <summary>Checked and held; an invariant that could not be checked is not a pass.</summary>
    public bool Passed => Holds && NotChecked is null;
}

/// <summary>
/// The invariants checked after a run, from three independent records: the event log and read models in PostgreSQL, the
/// domains libvirt really has, and libvirt's own log of every domain API call (written by the daemon, not by the agent).
/// </summary>
public sealed partial class Invariants(FaultPlatform platform)
{
    public const string OperationsEnded = "every operation ended";
    public const string EffectAtMostOnce = "no command took effect twice";
    public const string ReadModelsMatchReplay = "read models equal a fresh rebuild from the log";
    public const string LibvirtMatchesReadModels = "libvirt's real state equals the read models";
    public const string NothingLost = "no acknowledged mutation lost";
    public const string Recovered = "operations succeed again after every fault";

    private const string Requested = "vm.operation-requested.v1";
    private static readonly string[] Outcomes = ["vm.operation-succeeded.v1", "vm.operation-failed.v1", "vm.operation-timed-out.v1"];

    public async Task<IReadOnlyList<InvariantResult>> CheckAsync(IReadOnlyCollection<AcknowledgedOperation> acknowledged, CancellationToken cancellationToken = default)
    {
        var log = await LogAsync(cancellationToken);
        var domains = Domains();
        return
        [
            CheckOperationsEnded(log),
            CheckEffectAtMostOnce(log, domains, ApiCalls(platform.Daemon.ApiLog)),
            await CheckReplayAsync(cancellationToken),
            CheckLibvirtMatchesReadModels(log, domains),
            CheckNothingLost(log, acknowledged),
        ];
    }

    /// <summary>What the store holds: the VM events in order, and the VM and operation read models.</summary>
    public sealed record StoreContents(IReadOnlyList<(Guid StreamId, string Type, JsonNode Data)> Events, IReadOnlyList<JsonNode> Vms, IReadOnlyList<JsonNode> Operations);

    /// <summary>
    /// A domain as libvirt has it: whose VM it is (its vm-id metadata, else its qkvm- name; null for a domain that is not
    /// Quantixkvm's, like the test driver's own "test") and its power state.
    /// </summary>
    public sealed record DomainFact(string Name, Guid Uuid, Guid? VmId, string PowerState);

    public async Task<StoreContents> LogAsync(CancellationToken cancellationToken)
    {
        await using var data = NpgsqlDataSource.Create(platform.Services.Postgres);
        var events = new List<(Guid, string, JsonNode)>();
        await using (var command = data.CreateCommand($"select stream_id, type, data from {FaultPlatform.Schema}.mt_events where type like 'vm.%' order by seq_id"))
        await using (var reader = await command.ExecuteReaderAsync(cancellationToken))
        {
            while (await reader.ReadAsync(cancellationToken))
            {
                events.Add((reader.GetGuid(0), reader.GetString(1), JsonNode.Parse(reader.GetString(2))!));
            }
        }

        return new StoreContents(events, await DocumentsAsync(data, "mt_doc_vmview", cancellationToken), await DocumentsAsync(data, "mt_doc_operationview", cancellationToken));
    }

    private static async Task<List<JsonNode>> DocumentsAsync(NpgsqlDataSource data, string table, CancellationToken cancellationToken)
    {
        var documents = new List<JsonNode>();
        await using var command = data.CreateCommand($"select data from {FaultPlatform.Schema}.{table}");
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            documents.Add(JsonNode.Parse(reader.GetString(0))!);
        }

        return documents;
    }

    public IReadOnlyList<DomainFact> Domains()
    {
        var facts = new List<DomainFact>();
        foreach (var domain in platform.Libvirt.ListAllDomains())
        {
            using (domain)
            {
                try
                {
                    var metadata = DomainXml.ReadMetadata(domain.GetXml());
                    Guid? vmId = metadata.TryGetValue("vm-id", out var id) && Guid.TryParse(id, out var fromMetadata) ? fromMetadata
                        : domain.Name.StartsWith("qkvm-", StringComparison.Ordinal) && Guid.TryParseExact(domain.Name[5..], "N", out var fromName) ? fromName
                        : null;
                    facts.Add(new DomainFact(domain.Name, domain.Uuid, vmId, PowerStateOf(domain.GetState().State)));
                }
                catch (DomainNotFoundException)
                {
                    // Undefined between the listing and the read: no longer on the host.
                }
            }
        }

        return facts;
    }

    /// <summary>As the agent maps libvirt's states (DomainOperations.PowerStateOf), in the API's names.</summary>
    public static string PowerStateOf(DomainState state) => state switch
    {
        DomainState.Running or DomainState.Blocked or DomainState.Shutdown => "RUNNING",
        DomainState.Paused or DomainState.PmSuspended => "PAUSED",
        DomainState.Shutoff or DomainState.Crashed => "STOPPED",
        _ => "UNKNOWN",
    };

    /// <summary>1. Every operation in the read model has ended: SUCCEEDED, FAILED or TIMED_OUT; none PENDING or RUNNING.</summary>
    public static InvariantResult CheckOperationsEnded(StoreContents store)
    {
        var byStatus = store.Operations.GroupBy(o => Text(o, "status")).ToDictionary(g => g.Key, g => (long)g.Count());
        var stuck = store.Operations.Where(o => Text(o, "status") is not ("Succeeded" or "Failed" or "TimedOut")).ToList();
        var figures = new Dictionary<string, long>
        {
            ["operations"] = store.Operations.Count,
            ["succeeded"] = byStatus.GetValueOrDefault("Succeeded"),
            ["failed"] = byStatus.GetValueOrDefault("Failed"),
            ["timed out"] = byStatus.GetValueOrDefault("TimedOut"),
            ["stuck"] = stuck.Count,
        };
        return new InvariantResult(OperationsEnded, stuck.Count == 0, figures,
            [.. stuck.Take(30).Select(o => $"operation {Text(o, "id")} ({Text(o, "kind")}) is {Text(o, "status")}, deadline {Text(o, "deadline")}")]);
    }

    /// <summary>
    /// 2. At most once: each VM has at most one domain; each command id was appended once per VM (a resend is recognised);
    /// each operation has exactly one outcome event; and libvirt was asked to do each kind of thing to a domain no more
    /// often than operations of that kind were requested for its VM (from libvirtd's own API log), so no create, start,
    /// pause, resume, reboot, shutdown or delete was carried out twice.
    /// </summary>
    public static InvariantResult CheckEffectAtMostOnce(StoreContents store, IReadOnlyList<DomainFact> domains, IReadOnlyList<ApiCall> calls)
    {
        var violations = new List<string>();
        var duplicates = domains.Where(d => d.VmId is not null).GroupBy(d => d.VmId!.Value).Where(g => g.Count() > 1).ToList();
        violations.AddRange(duplicates.Select(g => $"VM {g.Key} has {g.Count()} domains: {string.Join(", ", g.Select(d => $"{d.Name} ({d.Uuid})"))}"));

        var requests = store.Events.Where(e => e.Type == Requested).Select(e => e.Data).ToList();
        var repeatedCommands = requests.GroupBy(r => (Text(r, "vmId"), Text(r, "commandId"))).Where(g => g.Count() > 1).ToList();
        violations.AddRange(repeatedCommands.Select(g => $"command {g.Key.Item2} was appended {g.Count()} times on VM {g.Key.Item1}"));

        var outcomes = store.Events.Where(e => Outcomes.Contains(e.Type)).GroupBy(e => Text(e.Data, "operationId")).ToDictionary(g => g.Key, g => g.Count());
        var doubleOutcomes = outcomes.Where(o => o.Value > 1).ToList();
        violations.AddRange(doubleOutcomes.Select(o => $"operation {o.Key} has {o.Value} outcome events"));

        // What each VM's operations allow libvirt to have been asked, by kind of effect.
        var allowed = new Dictionary<(Guid, string), int>();
        void Allow(Guid vm, string effect) => allowed[(vm, effect)] = allowed.GetValueOrDefault((vm, effect)) + 1;
        foreach (var r in requests)
        {
            var vm = Guid.Parse(Text(r, "vmId"));
            switch (Text(r, "kind"), r["force"]?.GetValue<bool>() == true)
            {
                case ("Create", _):
                    Allow(vm, "define");
                    if (Text(r, "desiredPowerState") == "Running")
                    {
                        Allow(vm, "start");
                    }

                    break;
                case ("Start", _): Allow(vm, "start"); break;
                case ("Stop", true): Allow(vm, "destroy"); break;
                case ("Stop", false): Allow(vm, "shutdown"); break;
                case ("Reboot", _): Allow(vm, "reboot"); break;
                case ("Pause", _): Allow(vm, "pause"); break;
                case ("Resume", _): Allow(vm, "resume"); break;
                case ("Delete", _): Allow(vm, "undefine"); break;
            }
        }

        var excess = Effects(calls).GroupBy(c => (c.Uuid, c.Effect))
            .Select(g => (g.Key.Uuid, g.Key.Effect, Calls: g.Count(), Allowed: allowed.GetValueOrDefault((g.Key.Uuid, g.Key.Effect))))
            .Where(x => x.Calls > x.Allowed)
            .ToList();
        violations.AddRange(excess.Select(x => $"libvirt was asked to {x.Effect} domain {x.Uuid} {x.Calls} times; its VM's operations allow {x.Allowed}"));

        var figures = new Dictionary<string, long>
        {
            ["domains"] = domains.Count,
            ["VMs with more than one domain"] = duplicates.Count,
            ["commands appended more than once"] = repeatedCommands.Count,
            ["operations with more than one outcome"] = doubleOutcomes.Count,
            ["libvirt domain API calls that change state"] = calls.Count,
            ["  of which starts"] = calls.Count(c => c.Effect == "start"),
            ["calls beyond their operations"] = excess.Sum(x => x.Calls - x.Allowed),
            ["  of which starts (double start)"] = excess.Where(x => x.Effect == "start").Sum(x => x.Calls - x.Allowed),
        };
        if (calls.Count == 0)
        {
            violations.Add("libvirtd's API log holds no state-changing call: the effects could not be counted");
        }

        return new InvariantResult(EffectAtMostOnce, violations.Count == 0, figures, [.. violations.Take(30)]);
    }

    /// <summary>
    /// The calls that can have had an effect: an undefine can only remove a domain that exists, so undefines of one domain
    /// with no define between them are one effect (the binding retries an undefine with fewer flags when libvirt refuses one).
    /// </summary>
    private static IEnumerable<ApiCall> Effects(IReadOnlyList<ApiCall> calls)
    {
        var undefined = new HashSet<Guid>();
        foreach (var call in calls)
        {
            if (call.Effect == "define")
            {
                undefined.Remove(call.Uuid);
            }
            else if (call.Effect == "undefine" && !undefined.Add(call.Uuid))
            {
                continue;
            }

            yield return call;
        }
    }

    /// <summary>3. The read models equal a rebuild of them from the log (ReadModelReplay, into a scratch schema).</summary>
    public async Task<InvariantResult> CheckReplayAsync(CancellationToken cancellationToken)
    {
        try
        {
            var report = await ReadModelReplay.VerifyAsync(platform.Services.Postgres, FaultPlatform.Schema, cancellationToken);
            var figures = new Dictionary<string, long> { ["events replayed"] = report.Events };
            foreach (var model in report.ReadModels)
            {
                figures[$"{model.ReadModel}: live"] = model.Live;
                figures[$"{model.ReadModel}: rebuilt"] = model.Rebuilt;
                figures[$"{model.ReadModel}: differences"] = model.Differences.Count;
            }

            var violations = report.ReadModels.SelectMany(m => m.Differences.Select(d => $"{m.ReadModel} {d.Id}: {d.Kind} {d.Detail}")).ToList();
            if (report.LogMovedDuringVerification)
            {
                violations.Add("the log moved during the verification (the platform was not quiet)");
            }

            return new InvariantResult(ReadModelsMatchReplay, report.Matches && !report.LogMovedDuringVerification, figures, [.. violations.Take(30)]);
        }
        catch (NotImplementedException ex)
        {
            return new InvariantResult(ReadModelsMatchReplay, false, new Dictionary<string, long>(), [], NotChecked: ex.Message);
        }
    }

    /// <summary>
    /// 4. Each VM's power state in the read model is what libvirt really shows (a VM whose domain is missing must read
    /// UNKNOWN: that drift recorded as an event); a deleted VM has no domain; no domain belongs to a VM the log does not know.
    /// </summary>
    public static InvariantResult CheckLibvirtMatchesReadModels(StoreContents store, IReadOnlyList<DomainFact> domains)
    {
        var violations = new List<string>();
        var ours = domains.Where(d => d.VmId is not null).ToList();
        var byVm = ours.GroupBy(d => d.VmId!.Value).ToDictionary(g => g.Key, g => g.First());
        var live = store.Vms.Where(v => v["deletedAt"] is null).ToList();
        var matching = 0;
        foreach (var vm in live)
        {
            var id = Guid.Parse(Text(vm, "id"));
            var recorded = Text(vm, "powerState").ToUpperInvariant();
            var real = byVm.TryGetValue(id, out var domain) ? domain.PowerState : "UNKNOWN";
            if (recorded == real)
            {
                matching++;
            }
            else
            {
                violations.Add($"VM {id} ('{Text(vm, "name")}') reads {recorded}; libvirt has {(domain is null ? "no domain" : $"it {real}")}");
            }
        }

        var known = store.Vms.ToDictionary(v => Guid.Parse(Text(v, "id")));
        var leftovers = ours.Where(d => known.TryGetValue(d.VmId!.Value, out var vm) && vm["deletedAt"] is not null).ToList();
        violations.AddRange(leftovers.Select(d => $"domain {d.Name} ({d.PowerState}) belongs to deleted VM {d.VmId}"));
        var orphans = ours.Where(d => !known.ContainsKey(d.VmId!.Value)).ToList();
        violations.AddRange(orphans.Select(d => $"domain {d.Name} ({d.PowerState}) belongs to no VM the log knows"));

        var drift = store.Events.Where(e => e.Type == "vm.power-state-observed.v1").ToList();
        var figures = new Dictionary<string, long>
        {
            ["VMs compared"] = live.Count,
            ["matching"] = matching,
            ["differing"] = live.Count - matching,
            ["domains of deleted VMs"] = leftovers.Count,
            ["domains of unknown VMs"] = orphans.Count,
            ["domains that are not Quantixkvm's (left alone)"] = domains.Count - ours.Count,
            ["drift recorded as events (power state observed)"] = drift.Count,
        };
        foreach (var source in drift.GroupBy(e => Text(e.Data, "source")))
        {
            figures[$"  source {source.Key}"] = source.Count();
        }

        return new InvariantResult(LibvirtMatchesReadModels, violations.Count == 0, figures, [.. violations.Take(30)]);
    }

    /// <summary>
    /// 5. Every mutation the control plane acknowledged (answered with an operation id) is in the log: its request, and
    /// exactly one outcome, which is the end the client saw; a create's VM exists in the log.
    /// </summary>
    public static InvariantResult CheckNothingLost(StoreContents store, IReadOnlyCollection<AcknowledgedOperation> acknowledged)
    {
        var requested = store.Events.Where(e => e.Type == Requested).Select(e => Guid.Parse(Text(e.Data, "operationId"))).ToHashSet();
        var ended = store.Events.Where(e => Outcomes.Contains(e.Type)).GroupBy(e => Guid.Parse(Text(e.Data, "operationId")))
            .ToDictionary(g => g.Key, g => g.Last().Type);
        var created = store.Events.Where(e => e.Type == "vm.created.v1").Select(e => e.StreamId).ToHashSet();
        var violations = new List<string>();
        var sawOtherEnd = 0;
        foreach (var op in acknowledged)
        {
            if (!requested.Contains(op.OperationId))
            {
                violations.Add($"acknowledged {op.Mutation} {op.OperationId} (command {op.CommandId}) is not in the log");
            }
            else if (!ended.TryGetValue(op.OperationId, out var outcome))
            {
                violations.Add($"acknowledged {op.Mutation} {op.OperationId} (command {op.CommandId}) has no outcome in the log");
            }
            else if (op.Status is { } seen && StatusOf(outcome) != seen)
            {
                sawOtherEnd++;
                violations.Add($"the client saw {op.Mutation} {op.OperationId} end {seen}; the log says {StatusOf(outcome)}");
            }

            if (op.Mutation == "createVm" && !created.Contains(op.VmId))
            {
                violations.Add($"acknowledged createVm made VM {op.VmId}, which the log does not have");
            }
        }

        var figures = new Dictionary<string, long>
        {
            ["acknowledged"] = acknowledged.Count,
            ["in the log with an outcome"] = acknowledged.Count(o => ended.ContainsKey(o.OperationId)),
            ["acknowledged after a resend"] = acknowledged.Count(o => o.Attempts > 1),
            ["ended as the client saw it end"] = acknowledged.Count(o => o.Status is { } s && ended.TryGetValue(o.OperationId, out var t) && StatusOf(t) == s),
            ["ended otherwise than the client saw"] = sawOtherEnd,
            ["missing"] = acknowledged.Count(o => !ended.ContainsKey(o.OperationId)),
        };
        return new InvariantResult(NothingLost, violations.Count == 0, figures, [.. violations.Take(30)]);
    }

    /// <summary>
    /// 6. The platform came back from every fault: after each was healed, some operation succeeded again — within
    /// <paramref name="within"/> of the fault when a bound is given (the bench gives one; the tests, which must not time
    /// things, do not). The other invariants would all hold on a platform that only times out: every operation ends,
    /// nothing is lost, nothing happens at all.
    /// </summary>
    public static InvariantResult CheckRecovered(IReadOnlyList<FaultRecord> faults, int planned, TimeSpan? within = null)
    {
        var violations = new List<string>();
        var recovered = 0;
        foreach (var f in faults)
        {
            if (f.OperationsResumedSeconds is not { } resumed)
            {
                violations.Add($"no operation succeeded after fault {f.Index} ({f.Kind}, at operation {f.AtOperation}) was healed");
            }
            else if (within is { } bound && resumed > bound.TotalSeconds)
            {
                violations.Add($"after fault {f.Index} ({f.Kind}, at operation {f.AtOperation}) operations succeeded again only after {resumed:0.0} s "
                    + $"(bound {bound.TotalSeconds:0} s)");
            }
            else
            {
                recovered++;
            }
        }

        if (faults.Count < planned)
        {
            violations.Add($"only {faults.Count} of {planned} faults were injected");
        }

        var figures = new Dictionary<string, long>
        {
            ["faults planned"] = planned,
            ["faults injected"] = faults.Count,
            [within is { } b ? $"faults after which operations succeeded again within {b.TotalSeconds:0} s" : "faults after which operations succeeded again"] = recovered,
            ["longest time to operations succeeding again (s)"] = (long)Math.Ceiling(faults.Max(f => f.OperationsResumedSeconds) ?? 0),
        };
        return new InvariantResult(Recovered, violations.Count == 0, figures, violations);
    }

    private static string StatusOf(string outcomeType) => outcomeType switch
    {
        "vm.operation-succeeded.v1" => "SUCCEEDED",
        "vm.operation-failed.v1" => "FAILED",
        _ => "TIMED_OUT",
    };

    /// <summary>A state-changing domain API call from libvirtd's log: what it does, and to which domain (by UUID).</summary>
    public sealed record ApiCall(string Function, string Effect, Guid Uuid);

    /// <summary>The state-changing domain calls in libvirtd's API log (reads are left out).</summary>
    public static IReadOnlyList<ApiCall> ApiCalls(string logPath)
    {
        if (!File.Exists(logPath))
        {
            return [];
        }

        var calls = new List<ApiCall>();
        var text = File.ReadAllText(logPath);
        foreach (Match entry in LogEntry().Matches(text))
        {
            var function = entry.Groups["function"].Value;
            var effect = function switch
            {
                "virDomainDefineXML" or "virDomainDefineXMLFlags" => "define",
                "virDomainCreate" or "virDomainCreateWithFlags" => "start",
                "virDomainSuspend" => "pause",
                "virDomainResume" => "resume",
                "virDomainReboot" => "reboot",
                "virDomainShutdown" or "virDomainShutdownFlags" => "shutdown",
                "virDomainDestroy" or "virDomainDestroyFlags" => "destroy",
                "virDomainUndefine" or "virDomainUndefineFlags" => "undefine",
                _ => null,
            };
            if (effect is null)
            {
                continue;
            }

            var uuid = effect == "define" ? XmlUuid().Match(entry.Groups["rest"].Value) : DomainUuid().Match(entry.Groups["rest"].Value);
            if (uuid.Success)
            {
                calls.Add(new ApiCall(function, effect, Guid.Parse(uuid.Groups[1].Value)));
            }
        }

        return calls;
    }

    // One log entry: "2026-01-01 00:00:00.000+0000: 123: debug : virDomainCreate:7004 : dom=0x.., (VM: name=.., uuid=..)";
    // a define's XML runs on over several lines, up to the next entry.
    [GeneratedRegex(@"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d+[+-]\d{4}: \d+: debug : (?<function>virDomain\w+):\d+ : (?<rest>.*?)(?=^\d{4}-\d\d-\d\d |\z)",
        RegexOptions.Multiline | RegexOptions.Singleline)]
    private static partial Regex LogEntry();

    [GeneratedRegex(@"uuid=([0-9a-fA-F-]{36})")]
    private static partial Regex DomainUuid();

    [GeneratedRegex(@"<uuid>\s*([0-9a-fA-F-]{36})\s*</uuid>")]
    private static partial Regex XmlUuid();

    private static string Text(JsonNode node, string property) => node[property]?.ToString() ?? "";
}
