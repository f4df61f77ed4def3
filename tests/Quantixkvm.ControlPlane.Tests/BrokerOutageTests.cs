using Quantixkvm.Contracts;
using Quantixkvm.ControlPlane.Tests.Support;

namespace Quantixkvm.ControlPlane.Tests;

/// <summary>A dropped broker connection delays dispatch and outcomes; it loses neither.</summary>
public sealed class BrokerOutageTests(ControlPlaneFixture fixture) : IClassFixture<ControlPlaneFixture>
{
    [Fact]
    public async Task a_dropped_broker_connection_loses_neither_dispatch_nor_outcomes()
    {
        var api = fixture.App.Api();

        // The control plane's connection and the agent's.
        await BrokerConnections.CloseAllAsync(fixture.VirtualHost, expected: 2);
        var created = await api.CreateVmAsync("through-the-blip");

        var message = await fixture.Agent.NextOperationAsync(Guid.Parse(created.Str("operation.id")), TimeSpan.FromSeconds(20));
        await fixture.Agent.ReportFinishedAsync(message, succeeded: true, DomainPowerState.Stopped);
        await api.OperationEndsAsync(created.Str("operation.id"), "SUCCEEDED", TimeSpan.FromSeconds(20));
    }

    [Fact]
    public async Task dispatch_resumes_after_a_broker_outage_of_some_seconds()
    {
        var api = fixture.App.Api();
        var outage = await BrokerConnections.RefuseAsync(fixture.VirtualHost, expected: 2);
        string operationId;
        try
        {
            operationId = (await api.CreateVmAsync("through-the-outage")).Str("operation.id");
            // Long enough for the dispatcher to try, and fail, to send while the broker refuses it.
            await Task.Delay(TimeSpan.FromSeconds(2));
        }
        finally
        {
            await outage.DisposeAsync();
        }

        var message = await fixture.Agent.NextOperationAsync(Guid.Parse(operationId), TimeSpan.FromSeconds(30));
        await fixture.Agent.ReportFinishedAsync(message, succeeded: true, DomainPowerState.Stopped);
        await api.OperationEndsAsync(operationId, "SUCCEEDED", TimeSpan.FromSeconds(20));
    }
}
