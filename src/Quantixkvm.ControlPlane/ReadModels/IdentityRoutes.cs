using System.Collections.Concurrent;
using Marten.Events.Projections;

namespace Quantixkvm.ControlPlane.ReadModels;

/// <summary>
/// Which document of a multi-stream projection an event belongs to, written once: the projection registers the routes
/// with Marten (<see cref="RegisterWith{TDoc}"/>, one <c>Identity&lt;TEvent&gt;</c> each), and whatever else must route
/// events the same way asks them (<see cref="DocumentIdOf"/>): the read-model rebuilder and the change feed.
/// </summary>
public sealed class IdentityRoutes
{
    private readonly List<EventRoute> _routes = [];
    private readonly ConcurrentDictionary<Type, Func<object, Guid>?> _byType = new();

    /// <summary>Events of type <typeparamref name="TEvent"/> (or derived from it) belong to the document <paramref name="documentId"/> names.</summary>
    public IdentityRoutes Route<TEvent>(Func<TEvent, Guid> documentId) where TEvent : notnull
    {
        if (_routes.Any(r => r.EventType == typeof(TEvent)))
        {
            throw new ArgumentException($"{typeof(TEvent).Name} is routed twice", nameof(documentId));
        }

        _routes.Add(new EventRoute<TEvent>(documentId));
        return this;
    }

    /// <summary>Registers every route with Marten: the projection's event slicing.</summary>
    public void RegisterWith<TDoc>(MultiStreamProjection<TDoc, Guid> projection) where TDoc : notnull
    {
        foreach (var route in _routes)
        {
            route.RegisterWith(projection);
        }
    }

    /// <summary>
    /// The id of the document the event data belongs to; null when no route takes it, or when its route names the empty
    /// id (Marten drops such an event too).
    /// </summary>
    public Guid? DocumentIdOf(object data) =>
        RouteFor(data.GetType()) is { } route && route(data) is var id && id != Guid.Empty ? id : null;

    /// <summary>
    /// The route that takes events of this CLR type, or null: the one registered for the type or a type it derives from
    /// (Marten matches <c>IEvent&lt;TEvent&gt;</c>, which is covariant). Looked up once per type.
    /// </summary>
    public Func<object, Guid>? RouteFor(Type eventType) => _byType.GetOrAdd(eventType, type =>
    {
        var matching = _routes.Where(r => r.EventType.IsAssignableFrom(type)).ToList();
        return matching.Count switch
        {
            0 => null,
            1 => matching[0].DocumentId,
            _ => throw new InvalidOperationException(
                $"{type.Name} is taken by more than one route ({string.Join(", ", matching.Select(r => r.EventType.Name))}): route each event once"),
        };
    });

    private abstract class EventRoute(Type eventType)
    {
        public Type EventType { get; } = eventType;

        public abstract Guid DocumentId(object data);

        public abstract void RegisterWith<TDoc>(MultiStreamProjection<TDoc, Guid> projection) where TDoc : notnull;
    }

    private sealed class EventRoute<TEvent>(Func<TEvent, Guid> documentId) : EventRoute(typeof(TEvent)) where TEvent : notnull
    {
        public override Guid DocumentId(object data) => documentId((TEvent)data);

        public override void RegisterWith<TDoc>(MultiStreamProjection<TDoc, Guid> projection) => projection.Identity(documentId);
    }
}

/// <summary>A multi-stream projection whose events find their document through <see cref="IdentityRoutes"/>.</summary>
public interface IRoutedProjection
{
    IdentityRoutes Routes { get; }
}
