// The schema trap (issue 14, item 4): a user's table that resolves into Fable's own schema (an unqualified CREATE
// TABLE by a role named like that schema lands there) makes Build warn, in FableApp.Warnings and on the log.
using Fable.CSharp;
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
        var logged = new List<string>();
        await using var app = await Expect.Right(Accounts.Register(FableBuilder.Create()).UsePostgres(source, schema, log: logged.Add).Build());

        foreach (var table in new[] { "accounts", "counters", "tags", "ledger", "account_totals" })
            Assert.Contains(app.Warnings, w => w.StartsWith($"table {table} resolves into Fable's own schema \"{schema}\"", StringComparison.Ordinal));
        Assert.Equal(5, app.Warnings.Count);
        Assert.Equal(app.Warnings.Select(w => "fable: warning: " + w), logged.Where(l => l.StartsWith("fable: warning: ", StringComparison.Ordinal)));
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
            .Table($"{fable}.notes", KeyKind.Int, t => t.Text("body")).UsePostgres(source, fable, log: _ => { }).Build());

        Assert.Equal([$"table notes resolves into Fable's own schema \"{fable}\""], app.Warnings.Select(w => w[..w.IndexOf(" (as", StringComparison.Ordinal)]));
    }

    [PostgresFact]
    public async Task Build_does_not_warn_when_the_tables_are_outside_Fables_schema()
    {
        await using var h = new PostgresHarness();
        var (source, schema) = await h.Schema();
        var logged = new List<string>();
        await using var app = await Expect.Right(Accounts.Register(FableBuilder.Create()).UsePostgres(source, schema + "_fable", log: logged.Add).Build());
        Assert.Empty(app.Warnings);
        Assert.DoesNotContain(logged, l => l.StartsWith("fable: warning: ", StringComparison.Ordinal));
    }

    [Fact]
    public async Task In_memory_has_no_warnings()
    {
        await using var app = await Expect.Right(Accounts.Register(FableBuilder.Create()).UseInMemory().Build());
        Assert.Empty(app.Warnings);
    }
}
