// The schema trap (issue 14, item 4): a user's table that resolves into Fable's own schema (an unqualified CREATE
// TABLE by a role named like that schema lands there) makes Build warn, in FableApp.Warnings and on the log; and a
// data source that prepares no statements makes it say so on the log (Information).
using Fable.CSharp;
using Microsoft.Extensions.Logging;
using Xunit;

namespace FacadeTests;

public sealed class SchemaWarningTests
{
    [PostgresFact]
    public async Task Build_warns_for_each_aggregate_and_declared_table_in_Fables_own_schema()
    {
        await using var h = new PostgresHarness();
        // The connection's search_path is the schema holding the accounts tables; Fable is given that same schema.
        var (source, schema) = await h.Schema();
        var loggers = new CapturingLoggerFactory();
        await using var app = await Expect.Right(Accounts.Register(FableBuilder.Create()).UsePostgres(source, schema).UseLoggerFactory(loggers).Build());

        foreach (var table in new[] { "accounts", "counters", "tags", "ledger", "account_totals" })
            Assert.Contains(app.Warnings, w => w.StartsWith($"table {table} resolves into Fable's own schema \"{schema}\"", StringComparison.Ordinal));
        Assert.Equal(5, app.Warnings.Count);
        var logged = loggers.Entries.Where(e => e.Category == "Fable.Build" && e.Level == LogLevel.Warning).ToList();
        Assert.All(logged, e => Assert.Equal((LogLevel.Warning, 1020, "TableInFableSchema"), (e.Level, e.Event.Id, e.Event.Name)));
        Assert.Equal(app.Warnings, logged.Select(e => e.Message));
    }

    [PostgresFact]
    public async Task Build_warns_for_a_table_named_schema_qualified_into_Fables_schema()
    {
        await using var h = new PostgresHarness();
        var (source, schema) = await h.Schema();
        var fable = schema + "_fable";
        await using (var create = source.CreateCommand($"CREATE SCHEMA \"{fable}\"; CREATE TABLE \"{fable}\".notes (id bigint PRIMARY KEY, body text NOT NULL)"))
            await create.ExecuteNonQueryAsync();
        await using var app = await Expect.Right(Accounts.Register(FableBuilder.Create())
            .Table($"{fable}.notes", KeyKind.Int, t => t.Text("body")).UsePostgres(source, fable).Build());

        Assert.Equal([$"table notes resolves into Fable's own schema \"{fable}\""], app.Warnings.Select(w => w[..w.IndexOf(" (as", StringComparison.Ordinal)]));
    }

    [PostgresFact]
    public async Task Build_does_not_warn_when_the_tables_are_outside_Fables_schema()
    {
        await using var h = new PostgresHarness();
        var (source, schema) = await h.Schema();
        var loggers = new CapturingLoggerFactory();
        await using var app = await Expect.Right(Accounts.Register(FableBuilder.Create()).UsePostgres(source, schema + "_fable").UseLoggerFactory(loggers).Build());
        Assert.Empty(app.Warnings);
        Assert.DoesNotContain(loggers.Entries, e => e.Category == "Fable.Build" && e.Level >= LogLevel.Warning);
    }

    [PostgresFact]
    public async Task Build_tells_when_the_data_source_prepares_no_statements_and_only_then()
    {
        await using var h = new PostgresHarness();
        var (source, schema) = await h.Schema();
        var plain = new CapturingLoggerFactory();
        await using (var app = await Expect.Right(Accounts.Register(FableBuilder.Create()).UsePostgres(source, schema + "_fable").UseLoggerFactory(plain).Build()))
        {
            var hint = Assert.Single(plain.Entries, e => e.Event.Id == 1021);
            Assert.Equal((LogLevel.Information, "Fable.Build", "StatementsNotPrepared"), (hint.Level, hint.Category, hint.Event.Name));
            Assert.Contains("Max Auto Prepare", hint.Message);
            Assert.Empty(app.Warnings);
        }
        await using var preparing = Npgsql.NpgsqlDataSource.Create(new Npgsql.NpgsqlConnectionStringBuilder(source.ConnectionString) { MaxAutoPrepare = 16 }.ConnectionString);
        var tuned = new CapturingLoggerFactory();
        await using (var app = await Expect.Right(Accounts.Register(FableBuilder.Create()).UsePostgres(preparing, schema + "_fable").UseLoggerFactory(tuned).Build()))
            Assert.DoesNotContain(tuned.Entries, e => e.Event.Id == 1021);
    }

    [Fact]
    public async Task In_memory_has_no_warnings()
    {
        await using var app = await Expect.Right(Accounts.Register(FableBuilder.Create()).UseInMemory().Build());
        Assert.Empty(app.Warnings);
    }
}
