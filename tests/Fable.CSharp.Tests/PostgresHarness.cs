// PostgreSQL for the facade tests: each app gets its own schema (its tables, and Fable's schema next to it) on the
// server named by FABLE_PG_CONNECTION; tests are skipped with the reason when it is not set.
using System.Runtime.CompilerServices;
using Fable.CSharp;
using Npgsql;
using Xunit;

namespace FacadeTests;

/// <summary>A fact that needs PostgreSQL: skipped when FABLE_PG_CONNECTION is not set, with the reason in its name
/// (so even the minimal console output says why).</summary>
public sealed class PostgresFactAttribute : FactAttribute
{
    public const string Reason = "FABLE_PG_CONNECTION is not set: PostgreSQL tests need a server (./build.sh test starts a throwaway one)";

    public PostgresFactAttribute([CallerMemberName] string test = "")
    {
        if (!string.IsNullOrWhiteSpace(PostgresHarness.ConnectionString)) return;
        Skip = Reason;
        DisplayName = $"PostgreSQL {test} (skipped: {Reason})";
    }
}

/// <summary>Apps on fresh schemas of one PostgreSQL server; disposes their data sources.</summary>
public sealed class PostgresHarness : IHarness, IAsyncDisposable
{
    public static string? ConnectionString => Environment.GetEnvironmentVariable("FABLE_PG_CONNECTION");

    public const string Ddl = """
        CREATE TABLE accounts (id uuid PRIMARY KEY, last_event_id bigint NULL, owner text, balance bigint NOT NULL,
                               is_open boolean NOT NULL);
        CREATE TABLE ledger (id uuid PRIMARY KEY, account_id uuid NOT NULL, event_id bigint NOT NULL, amount bigint NOT NULL);
        CREATE INDEX ledger_account_id ON ledger (account_id);
        CREATE TABLE counters (id bigint PRIMARY KEY, last_event_id bigint NULL, total bigint NOT NULL);
        CREATE TABLE tags (id text PRIMARY KEY, last_event_id bigint NULL, owner text);
        CREATE TABLE account_totals (id text PRIMARY KEY, deposited bigint NOT NULL);
        """;

    private readonly List<NpgsqlDataSource> sources = [];

    /// <summary>A data source whose search path is a new schema holding the accounts tables.</summary>
    public async Task<(NpgsqlDataSource Source, string Schema)> Schema(string ddl = Ddl)
    {
        var schema = "cs_" + Guid.NewGuid().ToString("N")[..16];
        var builder = new NpgsqlConnectionStringBuilder(ConnectionString) { SearchPath = schema };
        var source = NpgsqlDataSource.Create(builder.ConnectionString);
        sources.Add(source);
        await using var create = source.CreateCommand($"CREATE SCHEMA \"{schema}\"; {ddl}");
        await create.ExecuteNonQueryAsync();
        return (source, schema);
    }

    public async Task<FableApp> App(Func<FableBuilder, FableBuilder>? more = null)
    {
        var (source, schema) = await Schema();
        var builder = Accounts.Register(FableBuilder.Create()).UsePostgres(source, schema + "_fable");
        return await Expect.Right((more ?? (b => b))(builder).Build());
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var s in sources) await s.DisposeAsync();
    }
}
