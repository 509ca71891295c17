// The one seam between the hosting package and Fable's logging: the container's ILoggerFactory goes to the builder.
using Fable.CSharp;
using Microsoft.Extensions.Logging;

namespace Fable.Extensions.Hosting;

/// <summary>Wires the container's logging into a builder (<c>FableBuilder.UseLoggerFactory</c>); without logging in
/// the container Fable logs nothing.</summary>
internal static class HostingLogging
{
    /// <summary>Gives <paramref name="builder"/> the container's <paramref name="loggerFactory"/>, when there is one.</summary>
    public static void Apply(FableBuilder builder, ILoggerFactory? loggerFactory)
    {
        if (loggerFactory is not null) builder.UseLoggerFactory(loggerFactory);
    }
}
