using Quantixkvm.ControlPlane.ReadModels;
using Quantixkvm.Domain.Vms;

namespace Quantixkvm.ControlPlane.Tests.Replay;

/// <summary>The routing table a multi-stream projection registers with Marten, asked directly as the rebuilder and change feed ask it.</summary>
public sealed class IdentityRoutesTests
{
    private static readonly Guid Vm = Guid.NewGuid();

    [Fact]
    public void an_event_goes_to_the_document_its_route_names_and_an_unrouted_event_to_none()
    {
        var operation = Guid.NewGuid();

        OperationViewProjection.Routes.DocumentIdOf(new VmOperationStarted(Vm, operation, DateTimeOffset.UnixEpoch)).ShouldBe(operation);
        OperationViewProjection.Routes.DocumentIdOf(new VmCreated(Vm, "vm", 1, 256, Guid.NewGuid(), DateTimeOffset.UnixEpoch)).ShouldBeNull();
        OperationViewProjection.Routes.RouteFor(typeof(VmCreated)).ShouldBeNull();
    }

    [Fact]
    public void an_event_whose_route_names_the_empty_id_goes_nowhere_as_in_marten()
    {
        OperationViewProjection.Routes.DocumentIdOf(new VmOperationStarted(Vm, Guid.Empty, DateTimeOffset.UnixEpoch)).ShouldBeNull();
    }

    [Fact]
    public void a_route_for_a_base_type_takes_the_events_derived_from_it()
    {
        var routes = new IdentityRoutes().Route<VmEvent>(e => e.VmId);

        routes.DocumentIdOf(new VmOperationStarted(Vm, Guid.NewGuid(), DateTimeOffset.UnixEpoch)).ShouldBe(Vm);
    }

    [Fact]
    public void an_event_type_routed_twice_is_refused()
    {
        var routes = new IdentityRoutes().Route<VmOperationStarted>(e => e.OperationId);

        Should.Throw<ArgumentException>(() => routes.Route<VmOperationStarted>(e => e.VmId)).Message.ShouldContain("VmOperationStarted is routed twice");
    }

    [Fact]
    public void an_event_two_routes_take_is_refused_when_it_is_routed()
    {
        var routes = new IdentityRoutes().Route<VmEvent>(e => e.VmId).Route<VmOperationStarted>(e => e.OperationId);

        Should.Throw<InvalidOperationException>(() => routes.DocumentIdOf(new VmOperationStarted(Vm, Guid.NewGuid(), DateTimeOffset.UnixEpoch)))
            .Message.ShouldContain("VmOperationStarted is taken by more than one route (VmEvent, VmOperationStarted)");
    }
}
