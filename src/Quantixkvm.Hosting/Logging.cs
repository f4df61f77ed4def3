using Microsoft.Extensions.Hosting;
using Serilog;
using Serilog.Formatting.Compact;

namespace Quantixkvm.Hosting;

public static class Logging
{
    /// <summary>The property that follows a command from the mutation through RabbitMQ to the agent and back.</summary>
    public const string CorrelationId = "CorrelationId";

    /// <summary>
    /// Serilog for both processes: compact JSON lines (one event a line, properties kept) unless
    /// Logging:Format is "text"; every log line carries the pushed CorrelationId when there is one.
    /// </summary>
    public static void UseQuantixkvmLogging(this IHostApplicationBuilder builder, string application)
    {
        var text = string.Equals(builder.Configuration["Logging:Format"], "text", StringComparison.OrdinalIgnoreCase);
        builder.Services.AddSerilog((services, logger) =>
        {
            logger.ReadFrom.Configuration(builder.Configuration)
                .MinimumLevel.Information()
                .MinimumLevel.Override("Microsoft", Serilog.Events.LogEventLevel.Warning)
                .MinimumLevel.Override("MassTransit", Serilog.Events.LogEventLevel.Warning)
                .MinimumLevel.Override("Marten", Serilog.Events.LogEventLevel.Warning)
                .MinimumLevel.Override("JasperFx", Serilog.Events.LogEventLevel.Warning)
                .Enrich.FromLogContext()
                .Enrich.WithProperty("Application", application);
            if (text)
            {
                logger.WriteTo.Console(outputTemplate:
                    "[{Timestamp:HH:mm:ss.fff} {Level:u3}] {Application} {CorrelationId} {Message:lj}{NewLine}{Exception}");
            }
            else
            {
                logger.WriteTo.Console(new CompactJsonFormatter());
            }
        });
    }
}
