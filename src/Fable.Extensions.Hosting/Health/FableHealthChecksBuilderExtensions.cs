// health.AddFableHealthChecks(): one check for the app's process managers, or one per process manager.
using Fable.Extensions.Hosting;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Options;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary>Registers Fable's health checks (they need <c>services.AddFable(...)</c>).</summary>
public static class FableHealthChecksBuilderExtensions
{
    /// <summary>One check, <paramref name="name"/>, over the app's process managers (or those listed in
    /// <see cref="FableHealthOptions.ProcessManagers"/>). Its options are the named <see cref="FableHealthOptions"/>
    /// <paramref name="name"/> (bindable with <c>services.Configure&lt;FableHealthOptions&gt;(name, section)</c>), then
    /// <paramref name="configure"/>.</summary>
    public static IHealthChecksBuilder AddFableHealthChecks(this IHealthChecksBuilder builder, Action<FableHealthOptions>? configure = null,
                                                            string name = "fable", HealthStatus? failureStatus = null,
                                                            IEnumerable<string>? tags = null)
    {
        ArgumentNullException.ThrowIfNull(builder);
        var options = builder.Services.AddOptions<FableHealthOptions>(name);
        if (configure is not null) options.Configure(configure);
        return builder.Add(new HealthCheckRegistration(name,
            sp => new FableHealthCheck(sp.GetRequiredService<FableAppHolder>(),
                                       sp.GetRequiredService<IOptionsMonitor<FableHealthOptions>>().Get(name),
                                       sp.GetService<TimeProvider>() ?? TimeProvider.System),
            failureStatus, tags));
    }

    /// <summary>A check of process manager <paramref name="processManager"/> alone, named <c>fable:&lt;name&gt;</c>.</summary>
    public static IHealthChecksBuilder AddFableHealthCheck(this IHealthChecksBuilder builder, string processManager,
                                                           Action<FableHealthOptions>? configure = null, HealthStatus? failureStatus = null,
                                                           IEnumerable<string>? tags = null)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(processManager);
        return builder.AddFableHealthChecks(o =>
        {
            configure?.Invoke(o);
            o.ProcessManagers.Clear();
            o.ProcessManagers.Add(processManager);
        }, "fable:" + processManager, failureStatus, tags);
    }
}
