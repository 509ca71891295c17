// The PostgreSQL pieces with the xunit pattern others copy: one throwaway database per test class (a class fixture
// with IAsyncLifetime), and each test's work in one transaction rolled back at its end.
using System.Runtime.CompilerServices;
using Fable.CSharp;
using Fable.Testing;
using Npgsql;
using Xunit;

namespace KitTests;

/// <summary>A fact skipped (with the reason) when FABLE_PG_CONNECTION is not set.</summary>
public sealed class PostgresFactAttribute : FactAttribute
{
    public PostgresFactAttribute([CallerMemberName] string test = "")
    {
        if (!string.IsNullOrWhiteSpace(BankDatabase.Server)) return;
        Skip = "FABLE_PG_CONNECTION is not set: PostgreSQL tests need a server (./build.sh test starts a throwaway one)";
        DisplayName = $"PostgreSQL {test} (skipped)";
    }
}

/// <summary>The class fixture: one database for the test class, its tables, one app on it; dropped after the class.</summary>
public sealed class BankDatabase : IAsyncLifetime
{
    public static string? Server => Environment.GetEnvironmentVariable("FABLE_PG_CONNECTION");

    public PostgresTestDatabase Database { get; private set; } = null!;
    public FableApp App { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        if (string.IsNullOrWhiteSpace(Server)) return;
        Database = await PostgresTestDatabase.Create(Server, Bank.Ddl);
        App = await Database.BuildApp(Bank.Register, schema: "fable_events");
    }

    public async Task DisposeAsync()
    {
        if (Database is not null) await Database.DisposeAsync();
    }
}

public sealed class PostgresTests(BankDatabase db) : IClassFixture<BankDatabase>, IAsyncLifetime
{
    private PostgresTestTransaction test = null!;

    public async Task InitializeAsync()
    {
        if (db.App is not null) test = await db.Database.BeginTest(db.App);
    }

    public async Task DisposeAsync()
    {
        if (test is not null) await test.DisposeAsync();
    }

    [PostgresFact]
    public async Task An_emit_in_the_test_transaction_is_seen_by_it_and_rolled_back_after()
    {
        await test.ThenRows("ledger");   // the other tests' rows were rolled back
        var id = Guid.NewGuid();
        var balance = await test.Run(u => u.Emit(Bank.Accounts, id, a => Bank.Open(a, "ada"))
                                            .Bind(_ => u.Emit(Bank.Accounts, id, a => Bank.Deposit(a, 7))))
                                .Match(Right: a => a.State.Balance, Left: e => throw new Exception(e.Message));
        Assert.Equal(7, balance);
        await test.ThenRows("ledger", Rows.Of(("account_id", id), ("amount", 7)));
        await test.ThenRows("accounts", Rows.Of(("id", id), ("owner", "ada"), ("balance", 7L)));
    }

    [PostgresFact]
    public async Task A_second_test_starts_from_empty_tables_too()
    {
        await test.ThenRows("accounts");
        await test.Run(u => u.Emit(Bank.Accounts, Guid.NewGuid(), a => Bank.Open(a, "bob"))).ToEither();
        await test.ThenRows("accounts", Rows.Of(("owner", "bob")));
    }

    [PostgresFact]
    public async Task A_refused_emit_leaves_the_test_transaction_usable()
    {
        var id = Guid.NewGuid();
        var refused = await test.Run(u => u.Emit(Bank.Accounts, id, a => Bank.Deposit(a, 1))).ToEither();
        Assert.Equal(1001, refused.Match(Right: _ => 0, Left: e => e.Code));
        await test.Run(u => u.Emit(Bank.Accounts, id, a => Bank.Open(a, "cy"))).ToEither();
        await test.ThenRows("accounts", Rows.Of(("owner", "cy"), ("balance", 0)));
        await test.ThenRows("ledger");
    }

    [PostgresFact]
    public async Task ThenRows_fails_on_other_rows_in_the_transaction()
    {
        await test.Run(u => u.Emit(Bank.Accounts, Guid.NewGuid(), a => Bank.Open(a, "dee"))).ToEither();
        var ex = await Fails.WithAsync(() => test.ThenRows("accounts", Rows.Of(("owner", "eve"))));
        Assert.Equal("ThenRows(accounts)", ex.Step);
        Assert.Contains("column owner: expected eve", ex.Hint);
    }
}

public sealed class PostgresDatabaseTests
{
    [PostgresFact]
    public async Task A_test_database_is_created_migrated_and_dropped()
    {
        string name;
        await using (var db = await PostgresTestDatabase.Create(BankDatabase.Server!, Bank.Ddl))
        {
            name = db.Name;
            var app = await db.BuildApp(Bank.Register);
            await app.Emit(Bank.Accounts, Guid.NewGuid(), a => Bank.Open(a, "ada")).ToEither();
            await using var count = db.DataSource.CreateCommand("SELECT count(*) FROM fable.events");
            Assert.Equal(1L, await count.ExecuteScalarAsync());
            var rows = await app.Rows("accounts").Match(Right: r => r, Left: e => throw new Exception(e.Message));
            RowValues.AssertRows("accounts", "Rows", "accounts", [Rows.Of(("owner", "ada"), ("balance", 0))], rows);
            Assert.Throws<SpecificationException>(() => RowValues.AssertRows("accounts", "Rows", "accounts", [Rows.Of(("owner", "bob"))], rows));
        }
        await using var server = new NpgsqlConnection(BankDatabase.Server);
        await server.OpenAsync();
        await using var exists = new NpgsqlCommand("SELECT count(*) FROM pg_database WHERE datname = @n", server);
        exists.Parameters.AddWithValue("n", name);
        Assert.Equal(0L, await exists.ExecuteScalarAsync());
    }

    [PostgresFact]
    public async Task A_registration_whose_tables_are_missing_fails_BuildApp()
    {
        await using var db = await PostgresTestDatabase.Create(BankDatabase.Server!);
        var ex = await Fails.WithAsync(() => db.BuildApp(Bank.Register));
        Assert.Equal("BuildApp", ex.Step);
        Assert.Contains("accounts", ex.Actual);
    }

    [Fact]
    public async Task Without_a_server_Create_says_what_to_set() =>
        Assert.Contains("FABLE_PG_CONNECTION", (await Fails.WithAsync(() => PostgresTestDatabase.Create(""))).Hint);
}
