// Generic hosts running Fable for the tests, in memory or on a fresh PostgreSQL schema (skipped with the reason when
// FABLE_PG_CONNECTION is not set).
using System.Runtime.CompilerServices;
using Fable.CSharp;
using Fable.Extensions.Hosting;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Npgsql;
using Xunit;

// The follower horizon is server-wide: a batch another test class holds open (slow handlers, shutdown tests) keeps
// this class's committed events invisible to ReadAll, and lag/age assertions would depend on timing. One at a time.
[assembly: CollectionBehavior(DisableTestParallelization = true)]

namespace HostingTests;

/// <summary>A theory over the interpreters: "in-memory" always, "postgres" when FABLE_PG_CONNECTION is set.</summary>
public sealed class InterpretersAttribute : Xunit.Sdk.DataAttribute
{
    public override IEnumerable<object[]> GetData(System.Reflection.MethodInfo testMethod)
    {
        yield return ["in-memory"];
        if (Hosts.PgConnection is not null) yield return ["postgres"];
    }
}

/// <summary>A fact that needs PostgreSQL: skipped (saying why) when FABLE_PG_CONNECTION is not set.</summary>
public sealed class PostgresFactAttribute : FactAttribute
{
    public PostgresFactAttribute([CallerMemberName] string test = "")
    {
        if (Hosts.PgConnection is not null) return;
        Skip = "FABLE_PG_CONNECTION is not set: PostgreSQL tests need a server (./build.sh test starts a throwaway one)";
        DisplayName = $"PostgreSQL {test} (skipped: {Skip})";
    }
}

/// <summary>A fresh schema for the domain's tables (Fable's own schema is <c>&lt;schema&gt;_fable</c>).</summary>
public sealed record PgSchema(string Schema, string ConnectionString)
{
    public string FableSchema => Schema + "_fable";

    public static async Task<PgSchema> Create()
    {
        var schema = "h_" + Guid.NewGuid().ToString("N")[..16];
        var cs = new NpgsqlConnectionStringBuilder(Hosts.PgConnection) { SearchPath = schema }.ConnectionString;
        await using var source = NpgsqlDataSource.Create(cs);
        await using var create = source.CreateCommand($"CREATE SCHEMA \"{schema}\"; {Domain.Ddl}");
        await create.ExecuteNonQueryAsync();
        return new PgSchema(schema, cs);
    }
}

public static class Hosts
{
    public static string? PgConnection =>
        Environment.GetEnvironmentVariable("FABLE_PG_CONNECTION") is { Length: > 0 } c ? c : null;

    /// <summary>A host (not started) with Fable on <paramref name="interpreter"/>: configuration keys under "Fable"
    /// (PostgreSQL: a fresh schema unless <paramref name="pg"/> is given), the domain, health checks.</summary>
    public static async Task<IHost> Create(string interpreter, Behaviour behaviour, Dictionary<string, string?>? settings = null,
                                           PgSchema? pg = null, TimeSpan? shutdown = null, ErrorPolicy? policy = null,
                                           Action<FableHealthOptions>? health = null, Action<IServiceCollection>? more = null,
                                           int partitions = 1)
    {
        var config = new Dictionary<string, string?> { ["Fable:PollInterval"] = "00:00:00.050" };
        if (interpreter == "in-memory") config["Fable:InMemory"] = "true";
        else
        {
            pg ??= await PgSchema.Create();
            config["Fable:ConnectionString"] = pg.ConnectionString;
            config["Fable:Schema"] = pg.FableSchema;
        }
        foreach (var (k, v) in settings ?? []) config[k] = v;
        var builder = Host.CreateEmptyApplicationBuilder(new HostApplicationBuilderSettings());
        builder.Configuration.AddInMemoryCollection(config);
        builder.Services.AddFable(builder.Configuration.GetSection(FableOptions.Section), b => Domain.Register(b, behaviour, policy, partitions).UsePostgres());
        builder.Services.AddHealthChecks().AddFableHealthChecks(health);
        builder.Services.Configure<HostOptions>(o => o.ShutdownTimeout = shutdown ?? TimeSpan.FromSeconds(30));
        more?.Invoke(builder.Services);
        return builder.Build();
    }

    /// <summary>Waits until <paramref name="done"/> holds (checking every 20 ms), failing after <paramref name="within"/>.</summary>
    public static async Task Eventually(Func<Task<bool>> done, TimeSpan within, string what)
    {
        var until = DateTime.UtcNow + within;
        while (!await done())
        {
            if (DateTime.UtcNow > until) throw new Xunit.Sdk.XunitException($"not within {within}: {what}");
            await Task.Delay(20);
        }
    }

    /// <summary>How many of the ticks 0..count-1 have their <c>seen</c> row (one counter's ticks).</summary>
    public static async Task<int> Seen(FableApp app, int count)
    {
        var seen = 0;
        for (var n = 0; n < count; n++)
            seen += (await Expect.Right(app.Transact(u => u.Tables.Find("seen", "n", n)))).Count;
        return seen;
    }
}
