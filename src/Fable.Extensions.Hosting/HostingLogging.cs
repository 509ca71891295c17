// The one seam between the hosting package and Fable's logging: the container's ILoggerFactory goes to the builder.
using Fable.CSharp;
using Microsoft.Extensions.Logging;

namespace Fable.Extensions.Hosting;

/// <summary>Wires the container's logging into a builder. Today the PostgreSQL runners take an
/// <c>Action&lt;string&gt;</c> (passed to <c>UsePostgres</c>); once the builder takes an <c>ILoggerFactory</c>
/// (<c>FableBuilder.UseLoggerFactory</c>), this calls it and returns null.</summary>
internal static class HostingLogging
{
    /// <summary>Gives <paramref name="builder"/> the container's logging and returns the runner log line receiver for
    /// <c>UsePostgres</c>: the "Fable" logger (Warning), or one that drops lines when the container has no logging (so
    /// nothing is printed to standard error by default).</summary>
    public static Action<string>? Apply(FableBuilder builder, ILoggerFactory? loggerFactory)
    {
        _ = builder;
        if (loggerFactory is null) return _ => { };
        var logger = loggerFactory.CreateLogger("Fable");
        return line => logger.LogWarning("{FableMessage}", line);
    }
}
