// The task-based shapes: decisions, route handlers and process-manager handlers written with async/await (no
// LanguageExt plumbing), the process-manager host's results, Position's order and the PostgreSQL-only accessor.
using Fable.CSharp;
using LanguageExt;
using LanguageExt.Common;
using Xunit;
using static LanguageExt.Prelude;

namespace FacadeTests;

public static class AsyncScenarios
{
    static readonly Error Declined = Error.New(3003, "declined");

    /// <summary>A Dapper-style read: a plain Task of a value.</summary>
    static async Task<long> LargestLedgerAmount(DecideContext ctx, Guid account)
    {
        var rows = await ctx.Tables.Find("ledger", "account_id", account).IfLeft(_ => []);
        return rows.Max(r => r.Value<long>("amount"));
    }

    public static async Task An_async_decision_reads_refuses_and_throws_like_an_EitherAsync_one(IHarness h)
    {
        await using var app = await h.App();
        var id = Guid.NewGuid();
        await Expect.Right(app.Emit(Accounts.Type, id, a => Accounts.Open(a, "ada")).Bind(a => app.Emit(a, Accounts.Deposit(7))));
        var refunded = await Expect.Right(app.Emit(Accounts.Type, id, async (ctx, a) =>
        {
            var max = await LargestLedgerAmount(ctx, id);
            return Accounts.Withdraw(max)(a);
        }));
        Assert.Equal(0, refunded.State.Balance);
        Assert.Same(Declined, await Expect.Left(app.Emit(refunded, async (DecideContext _, Account _) =>
        {
            await Task.Yield();
            return Left<Error, IEnumerable<object>>(Declined);
        })));
        var thrown = await Expect.Left(app.Transact(u => u.Emit(Accounts.Type, id, async (DecideContext _, Account a) =>
        {
            await Task.Yield();
            if (a.IsOpen) throw new InvalidOperationException("no ledger today");
            return Events.None;
        })));
        Assert.Contains("no ledger today", thrown.Message, StringComparison.Ordinal);
        Assert.Equal(3, (await Expect.Right(app.Log(Accounts.Type, id))).Count);
    }

    public static async Task An_async_route_handler_writes_and_its_Left_is_HandlerFailed_with_the_users_error(IHarness h)
    {
        var routes = Routes.Empty.On<Unrouted>("async", async (HandlerContext ctx, Unrouted e) =>
        {
            await Task.Yield();
            if (e.N < 0) return Left<Error, LanguageExt.Unit>(Declined);
            return await ctx.Tables.Upsert("account_totals", Rows.Of(("id", "async"), ("deposited", (long)e.N))).ToEither();
        });
        await using var app = await h.App(b => b.Routes(routes));
        var id = Guid.NewGuid();
        await Expect.Right(app.Append(Accounts.Type, id, [new Unrouted(5)]));
        var row = await Expect.Right(app.Transact(u => u.Tables.Get("account_totals", "async")));
        Assert.Equal(5L, row.Map(r => r.Value<long>("deposited")).IfNone(0));
        var failed = Assert.IsType<FableErrors.HandlerFailed>(await Expect.Left(app.Append(Accounts.Type, id, [new Unrouted(-1)])));
        Assert.Equal(Declined.Code, failed.Inner.Map(e => e.Code).IfNone(0));
        Assert.Single(await Expect.Right(app.Log(Accounts.Type, id)));
    }

    public static async Task An_async_process_manager_handler_writes_in_the_checkpoint_transaction(IHarness h)
    {
        var counting = ProcessManager<int>.Create("async-count", 0)
            .On<Deposited>(async (ProcessContext ctx, int n, Deposited e) =>
            {
                await Task.Yield();
                var written = await ctx.Tables.Upsert("account_totals", Rows.Of(("id", "pm"), ("deposited", (long)(n + 1)))).ToEither();
                return written.Map(_ => n + 1);
            });
        await using var app = await h.App(b => b.ProcessManager(counting));
        await Expect.Right(app.Emit(Accounts.Type, Guid.NewGuid(), a => Accounts.Open(a, "ada"))
                              .Bind(a => app.Emit(a, Accounts.Deposit(1))).Bind(a => app.Emit(a, Accounts.Deposit(2))));
        await Expect.Right(app.ProcessManagers.CatchUp());
        Assert.Equal(2, await Expect.Right(app.ProcessManagers.State(counting)));
        var row = await Expect.Right(app.Transact(u => u.Tables.Get("account_totals", "pm")));
        Assert.Equal(2L, row.Map(r => r.Value<long>("deposited")).IfNone(0));
    }

    public static async Task The_host_lists_its_process_managers_and_starts_and_stops_with_results(IHarness h)
    {
        await using var app = await h.App();
        Assert.Equal(["account-totals"], app.ProcessManagers.Names);
        Assert.Equal(LanguageExt.Unit.Default, await Expect.Right(app.ProcessManagers.Start()));
        await Expect.Right(app.Emit(Accounts.Type, Guid.NewGuid(), a => Accounts.Open(a, "ada")));
        await Expect.Right(app.ProcessManagers.CatchUp());
        var statuses = await Expect.Right(app.ProcessManagers.List());
        var only = Assert.Single(statuses);
        Assert.Equal(("account-totals", true, 0L), (only.Name, only.Active, only.Lag));
        await Expect.Right(app.ProcessManagers.Stop());
    }
}

public sealed class AsyncInMemoryTests
{
    private readonly IHarness h = new InMemoryHarness();

    [Fact] public Task An_async_decision_reads_refuses_and_throws_like_an_EitherAsync_one() => AsyncScenarios.An_async_decision_reads_refuses_and_throws_like_an_EitherAsync_one(h);
    [Fact] public Task An_async_route_handler_writes_and_its_Left_is_HandlerFailed_with_the_users_error() => AsyncScenarios.An_async_route_handler_writes_and_its_Left_is_HandlerFailed_with_the_users_error(h);
    [Fact] public Task An_async_process_manager_handler_writes_in_the_checkpoint_transaction() => AsyncScenarios.An_async_process_manager_handler_writes_in_the_checkpoint_transaction(h);
    [Fact] public Task The_host_lists_its_process_managers_and_starts_and_stops_with_results() => AsyncScenarios.The_host_lists_its_process_managers_and_starts_and_stops_with_results(h);

    [Fact]
    public void Positions_are_ordered_by_tx_then_id()
    {
        var positions = new[] { new Position(2, 1), new Position(1, 9), new Position(1, 3), Position.Origin };
        Assert.Equal([Position.Origin, new Position(1, 3), new Position(1, 9), new Position(2, 1)], positions.Order());
        Assert.True(new Position(1, 9) < new Position(2, 1) && new Position(2, 1) >= new Position(2, 1));
    }

    [Fact]
    public async Task The_PostgreSQL_accessor_is_a_typed_error_in_memory()
    {
        await using var app = await h.App();
        var error = await Expect.Left(app.Transact(u => u.Postgres.ToAsync()));
        Assert.Contains("in-memory interpreter", Assert.IsType<FableErrors.InvalidDefinition>(error).Problems[0], StringComparison.Ordinal);
    }
}

public sealed class AsyncPostgresTests : IAsyncLifetime
{
    private readonly PostgresHarness h = new();

    public Task InitializeAsync() => Task.CompletedTask;
    public async Task DisposeAsync() => await h.DisposeAsync();

    [PostgresFact] public Task An_async_decision_reads_refuses_and_throws_like_an_EitherAsync_one() => AsyncScenarios.An_async_decision_reads_refuses_and_throws_like_an_EitherAsync_one(h);
    [PostgresFact] public Task An_async_route_handler_writes_and_its_Left_is_HandlerFailed_with_the_users_error() => AsyncScenarios.An_async_route_handler_writes_and_its_Left_is_HandlerFailed_with_the_users_error(h);
    [PostgresFact] public Task An_async_process_manager_handler_writes_in_the_checkpoint_transaction() => AsyncScenarios.An_async_process_manager_handler_writes_in_the_checkpoint_transaction(h);
    [PostgresFact] public Task The_host_lists_its_process_managers_and_starts_and_stops_with_results() => AsyncScenarios.The_host_lists_its_process_managers_and_starts_and_stops_with_results(h);

    [PostgresFact]
    public async Task The_PostgreSQL_accessor_gives_a_non_null_connection_for_async_SQL()
    {
        await using var app = await h.App();
        var id = Guid.NewGuid();
        var opened = await Expect.Right(app.Emit(Accounts.Type, id, async (ctx, a) =>
        {
            if (ctx.Postgres.Case is not PostgresSession pg) return Left<Error, IEnumerable<object>>((Error)ctx.Postgres);
            await using var cmd = new Npgsql.NpgsqlCommand("SELECT count(*) FROM accounts", pg.Connection, pg.Transaction);
            var count = (long)(await cmd.ExecuteScalarAsync())!;
            return Accounts.Open(a, $"owner-{count}");
        }));
        Assert.Equal("owner-0", opened.State.Owner);
    }
}
