// services.AddFable(...): the app as a singleton built by a hosted service at start, options through IOptions.
using Fable.CSharp;
using Fable.Extensions.Hosting;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary>Registers Fable in a service collection.</summary>
public static class FableServiceCollectionExtensions
{
    /// <summary>Registers a Fable app: <paramref name="configure"/> registers event types, aggregates, routes and
    /// process managers and chooses the interpreter (<c>UsePostgres()</c> takes the container's
    /// <c>NpgsqlDataSource</c> and <see cref="FableOptions"/>). A hosted service builds and migrates it when the host
    /// starts (start fails with <see cref="FableStartException"/> listing every problem), starts the process-manager
    /// runners and stops them when the host stops. <see cref="FableApp"/> is a singleton. Register it once.</summary>
    public static IServiceCollection AddFable(this IServiceCollection services, Action<FableBuilder> configure,
                                              Action<FableOptions>? options = null)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentNullException.ThrowIfNull(configure);
        if (services.Any(d => d.ServiceType == typeof(FableAppHolder)))
            throw new InvalidOperationException("AddFable was called twice; register one Fable app per container");
        var builder = services.AddOptions<FableOptions>();
        if (options is not null) builder.Configure(options);
        services.AddSingleton(sp => new FableAppHolder(sp, sp.GetRequiredService<IOptions<FableOptions>>(), configure));
        services.AddSingleton(sp => sp.GetRequiredService<FableAppHolder>().Build(CancellationToken.None).GetAwaiter().GetResult());
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IHostedService, FableHostedService>());
        return services;
    }

    /// <summary>As <see cref="AddFable(IServiceCollection, Action{FableBuilder}, Action{FableOptions})"/>, with
    /// <see cref="FableOptions"/> bound from <paramref name="configuration"/> (e.g. <c>builder.Configuration.GetSection("Fable")</c>:
    /// <c>Schema</c>, <c>Notify</c>, <c>RunnerId</c>, <c>PollInterval</c>, <c>LockTimeout</c>, <c>ConnectionString</c>,
    /// <c>InMemory</c>, <c>RunProcessManagers</c>).</summary>
    public static IServiceCollection AddFable(this IServiceCollection services, IConfiguration configuration, Action<FableBuilder> configure)
    {
        ArgumentNullException.ThrowIfNull(configuration);
        services.AddOptions<FableOptions>().Bind(configuration);
        return services.AddFable(configure);
    }
}
