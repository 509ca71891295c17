// What the hosting's builder extensions (UsePostgres()) see while the AddFable configuration runs: the options, the
// container's data source and logging, and the problems they found (reported with the builder's own at start).
using Npgsql;

namespace Fable.Extensions.Hosting;

/// <summary>The container and options at hand while an AddFable configuration runs (on the building thread).</summary>
internal sealed class HostingContext(FableOptions options, Func<string?, NpgsqlDataSource?> dataSource)
{
    [ThreadStatic] private static HostingContext? current;

    /// <summary>The context of the configuration running on this thread, if any.</summary>
    public static HostingContext? Current => current;

    public FableOptions Options { get; } = options;
    public List<string> Problems { get; } = [];

    /// <summary>The container's data source, else one from the connection string given or configured; null if none.</summary>
    public NpgsqlDataSource? DataSource(string? connectionString) => dataSource(connectionString);

    /// <summary>Runs <paramref name="configure"/> with <paramref name="context"/> current.</summary>
    public static void Run(HostingContext context, Action configure)
    {
        var previous = current;
        current = context;
        try { configure(); }
        finally { current = previous; }
    }
}
