// The interpreter choice inside services.AddFable(b => ...): PostgreSQL through the container's NpgsqlDataSource (or a
// connection string) with the IOptions<FableOptions> settings, or in memory when the options' test switch is on.
using Fable.CSharp;

namespace Fable.Extensions.Hosting;

/// <summary>Builder calls that take their settings from the host.</summary>
public static class FableBuilderExtensions
{
    /// <summary>Inside <c>services.AddFable(...)</c>: runs on PostgreSQL through the container's <c>NpgsqlDataSource</c>
    /// (else <see cref="FableOptions.ConnectionString"/>), with the schema, notify, runner id and poll interval of
    /// <see cref="FableOptions"/>; on the in-memory interpreter instead when <see cref="FableOptions.InMemory"/> is set.</summary>
    public static FableBuilder UsePostgres(this FableBuilder builder) => Choose(builder, null);

    /// <summary>As <see cref="UsePostgres(FableBuilder)"/> with a data source made from <paramref name="connectionString"/>
    /// (owned and disposed by the host).</summary>
    public static FableBuilder UsePostgres(this FableBuilder builder, string connectionString) =>
        string.IsNullOrWhiteSpace(connectionString)
            ? Fail(builder, "UsePostgres was given a blank connection string")
            : Choose(builder, connectionString);

    private static FableBuilder Choose(FableBuilder builder, string? connectionString)
    {
        ArgumentNullException.ThrowIfNull(builder);
        var context = HostingContext.Current
                      ?? throw new InvalidOperationException(
                          "UsePostgres() without a data source takes it from the host: call it inside services.AddFable(b => ...), " +
                          "or pass an NpgsqlDataSource to FableBuilder.UsePostgres");
        var o = context.Options;
        if (o.InMemory) return builder.UseInMemory(lockTimeout: o.LockTimeout);
        var dataSource = context.DataSource(connectionString);
        if (dataSource is null)
            return Fail(builder, "no PostgreSQL data source: register an NpgsqlDataSource in the container (e.g. AddNpgsqlDataSource), " +
                                 "set Fable:ConnectionString (FableOptions.ConnectionString), or set Fable:InMemory to true for the in-memory interpreter");
        return builder.UsePostgres(dataSource, o.Schema, o.Notify, o.RunnerId, o.PollInterval);
    }

    private static FableBuilder Fail(FableBuilder builder, string problem)
    {
        if (HostingContext.Current is { } context) context.Problems.Add(problem);
        else throw new InvalidOperationException(problem);
        return builder;
    }
}
