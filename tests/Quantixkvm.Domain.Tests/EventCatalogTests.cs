using System.Text.RegularExpressions;
using Quantixkvm.Domain.Hosts;
using Quantixkvm.Domain.Vms;

namespace Quantixkvm.Domain.Tests;

public partial class EventCatalogTests
{
    [GeneratedRegex(@"^[a-z]+\.[a-z-]+\.v[0-9]+$")]
    private static partial Regex StoredName();

    private static IEnumerable<Type> ConcreteEventTypes() =>
        typeof(VmEvent).Assembly.GetTypes()
            .Where(t => t is { IsAbstract: false, IsClass: true })
            .Where(t => t.IsSubclassOf(typeof(VmEvent)) || t.IsSubclassOf(typeof(HostEvent)));

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
        EventCatalog.All.ShouldAllBe(e =>
            !e.Type.IsAbstract && (e.Type.IsSubclassOf(typeof(VmEvent)) || e.Type.IsSubclassOf(typeof(HostEvent))));
    }

    [Fact]
    public void a_stored_name_begins_with_its_aggregate()
    {
        foreach (var (type, name) in EventCatalog.All)
        {
            var prefix = type.IsSubclassOf(typeof(VmEvent)) ? "vm." : "host.";
            name.ShouldStartWith(prefix, Case.Sensitive, $"{type.Name} is stored as {name}");
        }
    }

    [Fact]
    public void the_stored_names_do_not_follow_the_class_names()
    {
        EventCatalog.All.Single(e => e.Type == typeof(VmOperationTimedOut)).Name.ShouldBe("vm.operation-timed-out.v1");
        EventCatalog.All.Single(e => e.Type == typeof(HostFactsChanged)).Name.ShouldBe("host.facts-changed.v1");
    }
}
