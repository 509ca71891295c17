// Behaviours only PostgreSQL has: emitting inside the caller's own transaction, handlers on the emit's Npgsql
// connection, Build checking the aggregate tables, and upcasting payloads written by an older version.
using System.Text.Json.Nodes;
using Fable.CSharp;
using LanguageExt;
using LanguageExt.Common;
using Npgsql;
using Xunit;
using static LanguageExt.Prelude;

namespace FacadeTests;

public sealed class PostgresOnlyTests : IAsyncLifetime
{
    private readonly PostgresHarness h = new();

    public Task InitializeAsync() => Task.CompletedTask;
    public async Task DisposeAsync() => await h.DisposeAsync();

    private static async Task<long> Count(NpgsqlDataSource source, string sql, object? parameter = null)
    {
        await using var cmd = source.CreateCommand(sql);
        if (parameter is not null) cmd.Parameters.AddWithValue(parameter);
        return Convert.ToInt64(await cmd.ExecuteScalarAsync());
    }

    private static FableBuilder Accounts_(FableBuilder b) => Accounts.Register(b);

    [PostgresFact]
    public async Task An_emit_inside_the_callers_transaction_commits_or_rolls_back_with_it()
    {
        var (source, schema) = await h.Schema();
        await using var app = await Expect.Right(Accounts_(FableBuilder.Create()).UsePostgres(source, schema + "_fable").Build());
        var (kept, dropped) = (Guid.NewGuid(), Guid.NewGuid());
        foreach (var (id, commit) in new[] { (kept, true), (dropped, false) })
        {
            await using var conn = await source.OpenConnectionAsync();
            await using var tx = await conn.BeginTransactionAsync();
            await using (var own = new NpgsqlCommand("INSERT INTO ledger VALUES ($1, $1, 0, 1)", conn, tx))
            {
                own.Parameters.AddWithValue(id);
                await own.ExecuteNonQueryAsync();
            }
            var state = await Expect.Right(app.InTransaction(conn, tx, u =>
                u.Emit(Accounts.Type, id, a => Accounts.Open(a, "ada")).Bind(a => u.Emit(a, Accounts.Deposit(4)))));
            Assert.Equal(4, state.State.Balance);
            if (commit) await tx.CommitAsync(); else await tx.RollbackAsync();
        }
        Assert.Equal(4, (await Expect.Right(app.Get(Accounts.Type, kept))).State.Balance);
        Assert.True((await Expect.Right(app.Load(Accounts.Type, dropped))).IsNone);
        Assert.Empty(await Expect.Right(app.Log(Accounts.Type, dropped)));
        Assert.Equal(1, await Count(source, "SELECT count(*) FROM ledger WHERE account_id = $1 AND event_id = 0", kept));
        Assert.Equal(0, await Count(source, "SELECT count(*) FROM ledger WHERE account_id = $1", dropped));
    }

    [PostgresFact]
    public async Task Disposing_the_app_ends_its_stores_notifier()
    {
        var (source, schema) = await h.Schema();
        var app = await Expect.Right(Accounts_(FableBuilder.Create()).UsePostgres(source, schema + "_fable").Build());
        var store = Assert.IsType<global::Fable.FSharp.Postgres.PostgresStore>(app.Backend.Store);
        await Expect.Right(app.Emit(Accounts.Type, Guid.NewGuid(), a => Accounts.Open(a, "ada")));
        var loop = store.Notifier.Completion;
        Assert.False(loop.IsCompleted, "the first commit started the notifier's loop");
        await app.DisposeAsync();
        await Task.WhenAny(loop, Task.Delay(TimeSpan.FromSeconds(10)));
        Assert.True(loop.IsCompleted, "disposing the app ended its store's notifier loop");
    }

    [PostgresFact]
    public async Task A_failed_emit_inside_the_callers_transaction_leaves_it_usable()
    {
        var (source, schema) = await h.Schema();
        await using var app = await Expect.Right(Accounts_(FableBuilder.Create()).UsePostgres(source, schema + "_fable").Build());
        var id = Guid.NewGuid();
        await using var conn = await source.OpenConnectionAsync();
        await using var tx = await conn.BeginTransactionAsync();
        var error = await Expect.Left(app.InTransaction(conn, tx, u =>
            u.Emit(Accounts.Type, id, a => Accounts.Open(a, "ada")).Bind(a => u.Emit(a, _ => Events.Of(new Exploded("x"))))));
        Assert.IsType<FableErrors.HandlerFailed>(error);
        await Expect.Right(app.InTransaction(conn, tx, u => u.Emit(Accounts.Type, id, a => Accounts.Deposit(1)(a with { IsOpen = true }))));
        await tx.CommitAsync();
        var log = await Expect.Right(app.Log(Accounts.Type, id));
        Assert.Equal(["opened", "deposited"], log.Select(e => e.TypeName));
    }

    [PostgresFact]
    public async Task Handlers_and_decisions_see_the_emits_own_Npgsql_transaction()
    {
        var (source, schema) = await h.Schema();
        var seen = new List<bool>();
        var routes = Routes.Empty.OnAsync<Withdrawn>("raw-sql", async (ctx, e) =>
        {
            await using var cmd = new NpgsqlCommand("INSERT INTO ledger VALUES (gen_random_uuid(), $1, $2, 0)", ctx.Connection, ctx.Transaction);
            cmd.Parameters.AddWithValue(ctx.KeyOf(Accounts.Type));
            cmd.Parameters.AddWithValue(ctx.Recorded.Id);
            await cmd.ExecuteNonQueryAsync();
        });
        await using var app = await Expect.Right(Accounts_(FableBuilder.Create()).Routes(routes).UsePostgres(source, schema + "_fable").Build());
        var id = Guid.NewGuid();
        await Expect.Right(app.Emit(Accounts.Type, id, a => Accounts.Open(a, "ada")).Bind(a => app.Emit(a, Accounts.Deposit(10))));
        var withdrawn = await Expect.Right(app.Emit(Accounts.Type, id, (ctx, a) =>
        {
            seen.Add(ctx.Connection is not null && ctx.Transaction is not null);
            return Accounts.Withdraw(3)(a).ToAsync();
        }));
        Assert.Equal([true], seen);
        Assert.Equal(3, (await Expect.Ledger(app, id)).Count); // deposit, withdrawal, and the raw SQL row
        // A later failure in the same emit rolls the raw SQL row back too.
        await Expect.Left(app.Emit(withdrawn, _ => Events.Of(new Withdrawn(1), new Exploded("x"))));
        Assert.Equal(3, (await Expect.Ledger(app, id)).Count);
    }

    [PostgresFact]
    public async Task Build_checks_every_aggregate_table_and_reports_all_problems()
    {
        var (source, schema) = await h.Schema("CREATE TABLE accounts (id bigint PRIMARY KEY, owner text);");
        var error = await Expect.Left(Accounts_(FableBuilder.Create()).UsePostgres(source, schema + "_fable").Build());
        var invalid = Assert.IsType<FableErrors.InvalidDefinition>(error);
        Assert.Contains(invalid.Problems, p => p.Contains("last_event_id", StringComparison.Ordinal));
    }

    [PostgresFact]
    public async Task Payloads_of_an_older_version_are_upcast_when_read()
    {
        var (source, schema) = await h.Schema();
        var fable = schema + "_fable";
        var id = Guid.NewGuid();
        await using (var v1 = await Expect.Right(Accounts_(FableBuilder.Create()).UsePostgres(source, fable).Build()))
            await Expect.Right(v1.Emit(Accounts.Type, id, a => Accounts.Open(a, "ada")));
        // Version 2 of "opened" renamed Owner to Holder; the upcaster rewrites version-1 payloads.
        await using var v2 = await Expect.Right(FableBuilder.Create()
            .Event<OpenedV2>("opened", 2, new Upcaster(1, node =>
            {
                var o = node.AsObject();
                o["holder"] = o["owner"]?.DeepClone();
                o.Remove("owner");
                return o;
            }))
            .Aggregate(AccountsV2).Routes(Routes.Empty.On<OpenedV2>())
            .UsePostgres(source, fable).Build());
        var recorded = Assert.Single(await Expect.Right(v2.Log(AccountsV2, id)));
        Assert.Equal(1, recorded.TypeVersion);
        Assert.Equal(new OpenedV2("ada"), Expect.Right(v2.Decode(recorded)));
    }

    [PostgresFact]
    public async Task A_database_failure_while_emitting_is_an_Exceptional_Infrastructure_error()
    {
        var (source, schema) = await h.Schema();
        await using var app = await Expect.Right(Accounts_(FableBuilder.Create()).UsePostgres(source, schema + "_fable").Build());
        var id = Guid.NewGuid();
        // The server cancels the decision's own query (statement timeout): not the caller's cancellation, so Infrastructure.
        var error = await Expect.Left(app.Emit(Accounts.Type, id, (ctx, a) => SlowOpen(ctx, a).ToAsync()));
        Assert.IsType<FableErrors.Infrastructure>(error);
        Assert.True(error.IsExceptional);
        Assert.Empty(await Expect.Right(app.Log(Accounts.Type, id)));
    }

    private static async Task<Either<Error, IEnumerable<object>>> SlowOpen(DecideContext ctx, Account a)
    {
        await using var cmd = new NpgsqlCommand("SET LOCAL statement_timeout = 50; SELECT pg_sleep(5)", ctx.Connection, ctx.Transaction);
        await cmd.ExecuteNonQueryAsync();
        return Accounts.Open(a, "ada");
    }

    public sealed record OpenedV2(string Holder);

    private static readonly AggregateType<Account, Guid> AccountsV2 =
        AggregateType<Account, Guid>.Create("accounts", id => new Account(id, null, 0, false),
                                      a => Rows.Of(("owner", a.Owner), ("balance", a.Balance), ("is_open", a.IsOpen)),
                                      r => new Account(r.Value<Guid>("id"), r.Value<string>("owner"), r.Value<long>("balance"), r.Value<bool>("is_open")))
                              .Columns(t => t.Text("owner", nullable: true).BigInt("balance").Boolean("is_open"))
                              .On<OpenedV2>((a, e) => a with { Owner = e.Holder, IsOpen = true });
}
