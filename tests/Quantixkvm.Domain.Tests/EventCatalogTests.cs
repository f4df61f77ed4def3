using System.Text.RegularExpressions;
using Quantixkvm.Domain.Clusters;
using Quantixkvm.Domain.Hosts;
using Quantixkvm.Domain.Networks;
using Quantixkvm.Domain.Storage;
using Quantixkvm.Domain.Templates;
using Quantixkvm.Domain.Vms;

namespace Quantixkvm.Domain.Tests;

public partial class EventCatalogTests
{
    [GeneratedRegex(@"^[a-z]+(-[a-z]+)*\.[a-z]+(-[a-z]+)*\.v[0-9]+$")]
    private static partial Regex StoredName();

    /// <summary>The base type of each aggregate's (or family's) events.</summary>
    private static readonly Type[] EventBases =
    [
        typeof(VmEvent), typeof(HostEvent), typeof(ClusterEvent), typeof(StorageEvent), typeof(TemplateEvent),
        typeof(NetworkEvent), typeof(SecurityGroupEvent),
    ];

    private static bool IsDomainEvent(Type t) => EventBases.Any(t.IsSubclassOf);

    private static IEnumerable<Type> ConcreteEventTypes() =>
        typeof(VmEvent).Assembly.GetTypes()
            .Where(t => t is { IsAbstract: false, IsClass: true })
            .Where(IsDomainEvent);

    /// <summary>The stream a stored name starts with: storage events are a pool's, a volume's, or an operation on either.</summary>
    private static string AggregatePrefix(Type type) => type switch
    {
        _ when type.IsSubclassOf(typeof(VmEvent)) => "vm.",
        _ when type.IsSubclassOf(typeof(HostEvent)) => "host.",
        _ when type.IsSubclassOf(typeof(ClusterEvent)) => "cluster.",
        _ when type.IsSubclassOf(typeof(TemplateEvent)) => "template.",
        _ when type.IsSubclassOf(typeof(NetworkEvent)) => "network.",
        _ when type.IsSubclassOf(typeof(SecurityGroupEvent)) => "security-group.",
        _ when type.Name.StartsWith("StoragePool", StringComparison.Ordinal) => "storage-pool.",
        _ when type.Name.StartsWith("Volume", StringComparison.Ordinal) => "volume.",
        _ when type.Name.StartsWith("StorageOperation", StringComparison.Ordinal) => "storage.",
        _ => throw new InvalidOperationException($"the test knows no stored-name prefix for {type.Name}"),
    };

    [Fact]
    public void every_stored_name_is_unique()
    {
        EventCatalog.All.Select(e => e.Name).ShouldBeUnique();
    }

    [Fact]
    public void every_type_has_one_name()
    {
        EventCatalog.All.Select(e => e.Type).ShouldBeUnique();
    }

    [Fact]
    public void every_stored_name_is_aggregate_dot_event_dot_version()
    {
        EventCatalog.All.ShouldAllBe(e => StoredName().IsMatch(e.Name));
    }

    [Fact]
    public void every_event_of_the_domain_has_a_stored_name()
    {
        var catalogued = EventCatalog.All.Select(e => e.Type).ToHashSet();

        ConcreteEventTypes().Where(t => !catalogued.Contains(t)).Select(t => t.Name).ShouldBeEmpty(
            "add these events to EventCatalog.All (and to docs/vm-lifecycle.md)");
        ConcreteEventTypes().Count().ShouldBe(EventCatalog.All.Count);
    }

    [Fact]
    public void the_catalogue_holds_only_concrete_events_of_the_domain()
    {
        EventCatalog.All.ShouldAllBe(e => !e.Type.IsAbstract && IsDomainEvent(e.Type));
    }

    [Fact]
    public void a_stored_name_begins_with_its_aggregate()
    {
        foreach (var (type, name) in EventCatalog.All)
        {
            var prefix = AggregatePrefix(type);
            name.ShouldStartWith(prefix, Case.Sensitive, $"{type.Name} is stored as {name}");
        }
    }

    [Fact]
    public void the_stored_names_do_not_follow_the_class_names()
    {
        EventCatalog.All.Single(e => e.Type == typeof(VmOperationTimedOut)).Name.ShouldBe("vm.operation-timed-out.v1");
        EventCatalog.All.Single(e => e.Type == typeof(HostFactsChanged)).Name.ShouldBe("host.facts-changed.v1");
        EventCatalog.All.Single(e => e.Type == typeof(StoragePoolDefined)).Name.ShouldBe("storage-pool.defined.v1");
        EventCatalog.All.Single(e => e.Type == typeof(VmDiskDetached)).Name.ShouldBe("vm.disk-detached.v1");
    }
}
