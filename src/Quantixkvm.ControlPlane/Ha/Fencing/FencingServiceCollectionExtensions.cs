using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Http;
using Microsoft.Extensions.Options;

namespace Quantixkvm.ControlPlane.Ha.Fencing;

public static class FencingServiceCollectionExtensions
{
    /// <summary>
    /// The fencers (agent, redfish, ipmi, storage-lease), <see cref="HostFencers"/>, the agent's reply registry and
    /// the Redfish HTTP clients, with <see cref="FencingOptions"/> from <c>ControlPlane:Fencing</c>. The bus (for the
    /// agent fencer) and its <see cref="HostFencedBySelfConsumer"/> are configured with MassTransit.
    /// </summary>
    public static IServiceCollection AddHostFencing(this IServiceCollection services, IConfiguration configuration)
    {
        services.AddOptions<FencingOptions>()
            .Bind(configuration.GetSection(FencingOptions.Section))
            .Validate(o => FencingOptions.Check(o) is null, $"{FencingOptions.Section} is invalid (a time is not positive or the ipmitool path is empty)")
            .ValidateOnStart();
        services.TryAddSingleton(TimeProvider.System);
        services.TryAddSingleton<AgentFenceReplies>();

        foreach (var (name, verifyTls) in new[] { (RedfishFencer.VerifiedClient, true), (RedfishFencer.UnverifiedClient, false) })
        {
            services.AddHttpClient(name, http => http.Timeout = Timeout.InfiniteTimeSpan) // each request has its own limit
                .ConfigurePrimaryHttpMessageHandler(() => RedfishFencer.Handler(verifyTls))
                .RedactLoggedHeaders(["Authorization"]);
        }

        services.AddSingleton<IHostFencer, AgentFencer>();
        services.AddSingleton<IHostFencer, RedfishFencer>();
        services.AddSingleton<IHostFencer, IpmiFencer>();
        // Also by itself: HA feeds it lease readings of silent hosts before they are fenced.
        services.AddSingleton<StorageLeaseFencer>();
        services.AddSingleton<IHostFencer>(sp => sp.GetRequiredService<StorageLeaseFencer>());
        services.AddSingleton<HostFencers>();
        return services;
    }
}
