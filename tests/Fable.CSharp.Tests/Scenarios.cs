// The facade's behaviours as scenarios over any interpreter; InMemoryTests and PostgresTests run each of them.
using Fable.CSharp;
using LanguageExt;
using LanguageExt.Common;
using Xunit;
using static LanguageExt.Prelude;

namespace FacadeTests;

public static class Scenarios
{
    public static async Task Emit_then_Bind_chains_decisions_on_each_new_state(IHarness h)
    {
        await using var app = await h.App();
        var id = Guid.NewGuid();
        var account = await Expect.Right(
            app.Emit(Accounts.Type, id, a => Accounts.Open(a, "ada"))
               .Bind(a => app.Emit(a, Accounts.Deposit(100)))
               .Bind(a => app.Emit(a, Accounts.Withdraw(30))));
        Assert.Equal(new Account(id, "ada", 70, true), account.State);
        var log = await Expect.Right(app.Log(Accounts.Type, id));
        Assert.Equal(["opened", "deposited", "withdrawn"], log.Select(e => e.TypeName));
        Assert.Equal([null, log[0].Id, log[1].Id], log.Select(e => e.PrevEventId));
        Assert.Equal(log[2].Id, account.LastEventId);
        var stored = await Expect.Right(app.Get(Accounts.Type, id));
        Assert.Equal(account.State, stored.State);
    }

    public static async Task Keys_of_all_three_kinds_are_typed_through_emit_load_log_and_replay(IHarness h)
    {
        await using var app = await h.App();
        var counter = await Expect.Right(app.Emit(Accounts.Counters, 42L, _ => Events.Of(new Counted(5)))
                                            .Bind(c => app.Append(c.Type, c.Id, [new Counted(7)])));
        long counterId = counter.Id;
        Assert.Equal((42L, 12L), (counterId, counter.State.Total));
        var tag = await Expect.Right(app.Emit(Accounts.Tags, "blue", _ => Events.Of(new Opened("ada"))));
        string tagId = tag.Id;
        Assert.Equal(("blue", "ada"), (tagId, tag.State.Owner));
        var log = await Expect.Right(app.Log(Accounts.Tags, "blue"));
        string loggedKey = log.Single().Key;
        Assert.Equal("blue", loggedKey);
        Assert.Equal(counter.State, (await Expect.Right(app.Replay(Accounts.Counters, 42L))).State);
        var loaded = await Expect.Right(app.Load(Accounts.Counters, 42L));
        Assert.Equal(42L, loaded.Map(c => c.Id).IfNone(0L));
        Assert.True(log.Single().TryKeyOf(Accounts.Tags, out var typed) && typed == "blue");
        Assert.False(log.Single().TryKeyOf(Accounts.Counters, out _));
    }

    public static async Task An_emit_returns_the_events_it_recorded_and_a_read_returns_none(IHarness h)
    {
        await using var app = await h.App();
        var id = Guid.NewGuid();
        var opened = await Expect.Right(app.Emit(Accounts.Type, id, a => Accounts.Open(a, "ada")));
        var deposited = await Expect.Right(app.Emit(opened, _ => Events.Of(Events.WithMeta(new Deposited(1), """{"by":"ada"}"""),
                                                                           new Deposited(2))));
        var log = await Expect.Right(app.Log(Accounts.Type, id));
        Assert.Equal(log.Select(e => (e.Id, e.TypeName, e.Position, e.Key)),
                     opened.Recorded.Concat(deposited.Recorded).Select(e => (e.Id, e.TypeName, e.Position, e.Key)));
        Assert.Equal(["deposited", "deposited"], deposited.Recorded.Select(e => e.TypeName));
        Assert.Equal("ada", (string?)System.Text.Json.Nodes.JsonNode.Parse(deposited.Recorded[0].Meta)!["by"]);
        Assert.Equal("{}", deposited.Recorded[1].Meta);
        Assert.Equal(deposited.LastEventId, deposited.Recorded[^1].Id);
        Assert.Equal(id, deposited.Recorded[0].Key);
        Assert.Empty((await Expect.Right(app.Get(Accounts.Type, id))).Recorded);
        Assert.Empty((await Expect.Right(app.Emit(deposited, _ => Events.None))).Recorded);
    }

    public static async Task A_Bind_chain_stops_at_the_first_error(IHarness h)
    {
        await using var app = await h.App();
        var id = Guid.NewGuid();
        var laterDecisions = 0;
        var error = await Expect.Left(
            app.Emit(Accounts.Type, id, Accounts.Deposit(5))
               .Bind(a => app.Emit(a, s => { laterDecisions++; return Accounts.Deposit(1)(s); })));
        Assert.Same(Accounts.NotOpen, error);
        Assert.Equal(0, laterDecisions);
        Assert.Empty(await Expect.Right(app.Log(Accounts.Type, id)));
        Assert.True((await Expect.Right(app.Load(Accounts.Type, id))).IsNone);
    }

    public static async Task A_rejection_returns_the_callers_own_error(IHarness h)
    {
        await using var app = await h.App();
        var id = Guid.NewGuid();
        var mine = Error.New(777, "not today");
        var error = await Expect.Left(app.Emit(Accounts.Type, id, _ => mine));
        Assert.Same(mine, error);
        var matched = await app.Emit(Accounts.Type, id, _ => Events.Reject(Accounts.AlreadyOpen))
                               .Match(Right: _ => 0, Left: e => e.Code);
        Assert.Equal(1002, matched);
    }

    public static async Task Metadata_given_with_an_event_is_recorded_with_it_and_bad_metadata_records_nothing(IHarness h)
    {
        await using var app = await h.App();
        var id = Guid.NewGuid();
        var opened = await Expect.Right(app.Emit(Accounts.Type, id, a => Accounts.Open(a, "ada")));
        var meta = new Dictionary<string, object?> { ["by"] = "clerk-7", ["ticket"] = 42, ["none"] = null };
        var deposited = await Expect.Right(
            app.Emit(opened, a => Accounts.Deposit(10)(a).Map(es => es.Select(e => Events.WithMeta(e, meta)))));
        Assert.Equal(10, deposited.State.Balance);
        var log = await Expect.Right(app.Log(Accounts.Type, id));
        Assert.Equal("{}", log[0].Meta);
        var stored = System.Text.Json.Nodes.JsonNode.Parse(log[1].Meta)!;
        Assert.Equal("clerk-7", (string?)stored["by"]);
        Assert.Equal(42, (int)stored["ticket"]!);
        Assert.Null(stored["none"]);
        var error = await Expect.Left(app.Emit(deposited, _ => Events.Of(Events.WithMeta(new Deposited(1), "[\"not an object\"]"))));
        Assert.IsType<FableErrors.UndecodablePayload>(error);
        Assert.Equal(2, (await Expect.Right(app.Log(Accounts.Type, id))).Count);
    }

    public static async Task A_lone_surrogate_is_refused_with_any_json_options_and_texts_come_back_in_jsonb_form(IHarness h)
    {
        var lone = "ada" + (char)0xD800;
        foreach (var options in new System.Text.Json.JsonSerializerOptions?[] { null, new() { PropertyNamingPolicy = System.Text.Json.JsonNamingPolicy.SnakeCaseLower } })
        {
            await using var app = await h.App(b => options is null ? b : b.Json(options));
            var id = Guid.NewGuid();
            var error = await Expect.Left(app.Emit(Accounts.Type, id, a => Accounts.Open(a, lone)));
            Assert.Equal(7005, Assert.IsType<FableErrors.UndecodablePayload>(error).Code);
            var opened = await Expect.Right(app.Emit(Accounts.Type, id, a => Accounts.Open(a, "ada")));
            var byLone = new Dictionary<string, object?> { ["by"] = lone };
            error = await Expect.Left(app.Emit(opened, a => Accounts.Deposit(10)(a).Map(es => es.Select(e => Events.WithMeta(e, byLone)))));
            Assert.Equal(7005, Assert.IsType<FableErrors.UndecodablePayload>(error).Code);
            var meta = new Dictionary<string, object?> { ["ticket"] = 42, ["by"] = "clerk" };
            await Expect.Right(app.Emit(opened, a => Accounts.Deposit(10)(a).Map(es => es.Select(e => Events.WithMeta(e, meta)))));
            var log = await Expect.Right(app.Log(Accounts.Type, id));
            Assert.Equal(["{\"owner\": \"ada\"}", "{\"amount\": 10}"], log.Select(e => e.Data));
            Assert.Equal(["{}", "{\"by\": \"clerk\", \"ticket\": 42}"], log.Select(e => e.Meta));
        }
    }

    public static async Task An_emit_with_a_stale_snapshot_is_a_Conflict(IHarness h)
    {
        await using var app = await h.App();
        var id = Guid.NewGuid();
        var opened = await Expect.Right(app.Emit(Accounts.Type, id, a => Accounts.Open(a, "ada")));
        await Expect.Right(app.Emit(opened, Accounts.Deposit(10)));
        var error = await Expect.Left(app.Emit(opened, Accounts.Deposit(20)));
        var conflict = Assert.IsType<FableErrors.Conflict>(error);
        Assert.Equal(FableErrors.ConflictCode, conflict.Code);
        Assert.Equal(opened.LastEventId, conflict.ExpectedEventId);
        Assert.NotEqual(opened.LastEventId, conflict.ActualEventId);
        Assert.Equal(10, (await Expect.Right(app.Get(Accounts.Type, id))).State.Balance);
    }

    public static async Task An_unregistered_event_type_is_UnknownEventType_and_records_nothing(IHarness h)
    {
        await using var app = await h.App();
        var id = Guid.NewGuid();
        var error = await Expect.Left(app.Append(Accounts.Type, id, [new Opened("ada"), new NeverRegistered(1)]));
        Assert.IsType<FableErrors.UnknownEventType>(error);
        Assert.Equal(FableErrors.UnknownEventTypeCode, error.Code);
        Assert.Empty(await Expect.Right(app.Log(Accounts.Type, id)));
    }

    public static async Task An_event_type_without_a_route_is_NoRoute(IHarness h)
    {
        await using var app = await h.App();
        var error = await Expect.Left(app.Append(Accounts.Type, Guid.NewGuid(), [new Unrouted(1)]));
        var noRoute = Assert.IsType<FableErrors.NoRoute>(error);
        Assert.Equal("unrouted", noRoute.EventType);
    }

    public static async Task A_failing_handler_leaves_no_event_no_row_and_no_handler_write(IHarness h)
    {
        await using var app = await h.App();
        var id = Guid.NewGuid();
        var opened = await Expect.Right(app.Emit(Accounts.Type, id, a => Accounts.Open(a, "ada"))
                                           .Bind(a => app.Emit(a, Accounts.Deposit(10))));
        var error = await Expect.Left(app.Emit(opened, _ => Events.Of(new Deposited(5), new Exploded("test"))));
        var failed = Assert.IsType<FableErrors.HandlerFailed>(error);
        Assert.Equal("exploded", failed.EventType);
        Assert.Equal("explode", failed.Handler);
        Assert.Same(Accounts.Boom, (Error)failed.Inner);
        Assert.Equal(2, (await Expect.Right(app.Log(Accounts.Type, id))).Count);
        Assert.Single(await Expect.Ledger(app, id));
        var stored = await Expect.Right(app.Get(Accounts.Type, id));
        Assert.Equal(10, stored.State.Balance);
        Assert.Equal(opened.LastEventId, stored.LastEventId);
    }

    public static async Task A_decision_reads_tables_inside_the_transaction(IHarness h)
    {
        await using var app = await h.App();
        var id = Guid.NewGuid();
        await Expect.Right(app.Emit(Accounts.Type, id, a => Accounts.Open(a, "ada"))
                              .Bind(a => app.Emit(a, Accounts.Deposit(7)))
                              .Bind(a => app.Emit(a, Accounts.Deposit(8))));
        // Refund the ledger's largest entry: the decision reads the ledger in the emit's transaction.
        var refunded = await Expect.Right(app.Emit(Accounts.Type, id, (ctx, a) =>
            ctx.Tables.Find("ledger", "account_id", id)
               .Map(rows => rows.Max(r => r.Value<long>("amount")))
               .Bind(max => Accounts.Withdraw(max)(a).ToAsync())));
        Assert.Equal(7, refunded.State.Balance);
    }

    public static async Task An_exception_in_a_decision_is_HandlerFailed_and_records_nothing(IHarness h)
    {
        await using var app = await h.App();
        var id = Guid.NewGuid();
        var error = await Expect.Left(app.Emit(Accounts.Type, id, (Account _) => throw new InvalidOperationException("bad")));
        var failed = Assert.IsType<FableErrors.HandlerFailed>(error);
        Assert.Equal("decide", failed.Handler);
        Assert.Empty(await Expect.Right(app.Log(Accounts.Type, id)));
    }

    public static async Task A_cancelled_emit_is_Cancelled_and_records_nothing(IHarness h)
    {
        await using var app = await h.App();
        var id = Guid.NewGuid();
        var opened = await Expect.Right(app.Emit(Accounts.Type, id, a => Accounts.Open(a, "ada")));
        using var cts = new CancellationTokenSource();
        var error = await Expect.Left(app.Emit(opened, a => { cts.Cancel(); return Accounts.Deposit(5)(a); }, cts.Token));
        Assert.IsType<FableErrors.Cancelled>(error);
        Assert.Equal(FableErrors.CancelledCode, error.Code);
        Assert.Single(await Expect.Right(app.Log(Accounts.Type, id)));
        Assert.Empty(await Expect.Ledger(app, id));
    }

    public static async Task Get_of_a_missing_aggregate_is_NotFound(IHarness h)
    {
        await using var app = await h.App();
        var id = Guid.NewGuid();
        var notFound = Assert.IsType<FableErrors.NotFound>(await Expect.Left(app.Get(Accounts.Type, id)));
        Assert.Equal("accounts", notFound.Table);
        Assert.Equal<object>(id, notFound.Key);
    }

    public static async Task A_null_decision_snapshot_or_event_list_is_InvalidDefinition(IHarness h)
    {
        await using var app = await h.App();
        Func<Account, Either<Error, IEnumerable<object>>> none = null!;
        Assert.IsType<FableErrors.InvalidDefinition>(await Expect.Left(app.Emit(Accounts.Type, Guid.NewGuid(), none)));
        Aggregate<Account, Guid> noSnapshot = null!;
        Assert.IsType<FableErrors.InvalidDefinition>(await Expect.Left(app.Emit(noSnapshot, Accounts.Deposit(1))));
        Assert.IsType<FableErrors.InvalidDefinition>(await Expect.Left(app.Append(Accounts.Type, Guid.NewGuid(), null!)));
    }

    public static async Task Replay_rebuilds_the_same_row(IHarness h)
    {
        await using var app = await h.App();
        var id = Guid.NewGuid();
        var emitted = await Expect.Right(app.Emit(Accounts.Type, id, a => Accounts.Open(a, "ada"))
                                            .Bind(a => app.Emit(a, Accounts.Deposit(10)))
                                            .Bind(a => app.Emit(a, Accounts.Withdraw(4))));
        var replayed = await Expect.Right(app.Replay(Accounts.Type, id));
        Assert.Equal(emitted.State, replayed.State);
        Assert.Equal(emitted.LastEventId, replayed.LastEventId);
    }

    public static async Task A_unit_of_work_commits_every_emit_and_write_together(IHarness h)
    {
        await using var app = await h.App();
        var (a, b) = (Guid.NewGuid(), Guid.NewGuid());
        var total = await Expect.Right(app.Transact(u =>
            u.Emit(Accounts.Type, a, s => Accounts.Open(s, "ada"))
             .Bind(_ => u.Emit(Accounts.Type, b, s => Accounts.Open(s, "bob")))
             .Bind(_ => u.Emit(Accounts.Type, b, Accounts.Deposit(3)))
             .Bind(x => u.Tables.Insert("ledger", Rows.Of(("id", Guid.NewGuid()), ("account_id", a), ("event_id", 0L), ("amount", 99L)))
                         .Map(_ => x.State.Balance))));
        Assert.Equal(3, total);
        Assert.True((await Expect.Right(app.Get(Accounts.Type, a))).State.IsOpen);
        Assert.Equal(3, (await Expect.Right(app.Get(Accounts.Type, b))).State.Balance);
        Assert.Single(await Expect.Ledger(app, a));
    }

    public static async Task A_unit_of_work_that_fails_late_commits_nothing(IHarness h)
    {
        await using var app = await h.App();
        var (a, b) = (Guid.NewGuid(), Guid.NewGuid());
        var error = await Expect.Left(app.Transact(u =>
            u.Emit(Accounts.Type, a, s => Accounts.Open(s, "ada"))
             .Bind(_ => u.Emit(Accounts.Type, a, Accounts.Deposit(3)))
             .Bind(_ => u.Tables.Insert("ledger", Rows.Of(("id", Guid.NewGuid()), ("account_id", b), ("event_id", 0L), ("amount", 1L))))
             .Bind(_ => u.Emit(Accounts.Type, b, Accounts.Deposit(1)))));
        Assert.Same(Accounts.NotOpen, error);
        Assert.True((await Expect.Right(app.Load(Accounts.Type, a))).IsNone);
        Assert.Empty(await Expect.Right(app.Log(Accounts.Type, a)));
        Assert.Empty(await Expect.Ledger(app, a));
        Assert.Empty(await Expect.Ledger(app, b));
    }

    public static async Task A_process_manager_catches_up_with_every_committed_event(IHarness h)
    {
        await using var app = await h.App();
        var (a, b) = (Guid.NewGuid(), Guid.NewGuid());
        await Expect.Right(app.Emit(Accounts.Type, a, s => Accounts.Open(s, "ada"))
                              .Bind(x => app.Emit(x, Accounts.Deposit(10)))
                              .Bind(x => app.Emit(x, Accounts.Withdraw(4))));
        await Expect.Right(app.Emit(Accounts.Type, b, s => Accounts.Open(s, "bob"))
                              .Bind(x => app.Emit(x, Accounts.Deposit(5))));
        await Expect.Left(app.Emit(Accounts.Type, b, Accounts.Withdraw(1000)));
        await Expect.Right(app.ProcessManagers.CatchUp());
        Assert.Equal(new Totals(2, 15, 4), await Expect.Right(app.ProcessManagers.State(Accounts.Statistics)));
        var row = await Expect.Right(app.Transact(u => u.Tables.Get("account_totals", "all")));
        Assert.Equal(15L, row.Map(r => r.Value<long>("deposited")).IfNone(-1));
        var status = await Expect.Right(app.ProcessManagers.Status("account-totals"));
        Assert.True(status.Active);
        Assert.Equal(0, status.Lag);
    }

    public static async Task Decode_reads_a_recorded_event_back_as_its_CLR_type(IHarness h)
    {
        await using var app = await h.App();
        var id = Guid.NewGuid();
        await Expect.Right(app.Emit(Accounts.Type, id, a => Accounts.Open(a, "ada")));
        var log = await Expect.Right(app.Log(Accounts.Type, id));
        Assert.Equal(new Opened("ada"), Expect.Right(app.Decode(log[0])));
        var bad = new RecordedEvent<Guid>(1, null, "accounts", id, "opened", 1, "{}", "not json", DateTimeOffset.UtcNow, Position.Origin);
        var decoded = app.Decode(bad);
        Assert.True(decoded.IsLeft);
        Assert.IsType<FableErrors.UndecodablePayload>((Error)decoded);
        var unknown = new RecordedEvent<Guid>(1, null, "accounts", id, "no-such-type", 1, "{}", "{}", DateTimeOffset.UtcNow, Position.Origin);
        Assert.IsType<FableErrors.UnknownEventType>((Error)app.Decode(unknown));
    }
    public static async Task Concurrent_emits_on_one_aggregate_are_serial_and_lose_nothing(IHarness h)
    {
        await using var app = await h.App();
        var id = Guid.NewGuid();
        await Expect.Right(app.Emit(Accounts.Type, id, a => Accounts.Open(a, "ada")));
        var deposits = Enumerable.Range(1, 16).Select(i => Task.Run(() => app.Emit(Accounts.Type, id, Accounts.Deposit(i)).ToEither()));
        var results = await Task.WhenAll(deposits);
        Assert.All(results, r => Assert.True(r.IsRight, r.ToString()));
        var log = await Expect.Right(app.Log(Accounts.Type, id));
        Assert.Equal(17, log.Count);
        Assert.Equal(Enumerable.Range(1, 16).Sum(), (await Expect.Right(app.Get(Accounts.Type, id))).State.Balance);
        Assert.Equal(log.Skip(1).Select(e => e.PrevEventId), log.SkipLast(1).Select(e => (long?)e.Id));
    }
    public static async Task Process_managers_are_disabled_enabled_reset_and_rebuilt_at_runtime(IHarness h)
    {
        await using var app = await h.App();
        var pms = app.ProcessManagers;
        const string name = "account-totals";
        await Expect.Right(pms.Disable(name));
        await Expect.Right(app.Emit(Accounts.Type, Guid.NewGuid(), a => Accounts.Open(a, "ada")).Bind(a => app.Emit(a, Accounts.Deposit(10))));
        await Expect.Right(pms.CatchUp());
        Assert.Equal(new Totals(0, 0, 0), await Expect.Right(pms.State(Accounts.Statistics)));
        Assert.False((await Expect.Right(pms.Status(name))).Active);

        await Expect.Right(pms.Enable(name));
        await Expect.Right(pms.CatchUp());
        Assert.Equal(new Totals(1, 10, 0), await Expect.Right(pms.State(Accounts.Statistics)));

        await Expect.Right(pms.Reset(name, StartPosition.Head));
        await Expect.Right(pms.CatchUp());
        Assert.Equal(new Totals(0, 0, 0), await Expect.Right(pms.State(Accounts.Statistics)));

        await Expect.Right(pms.Rebuild(name));
        await Expect.Right(pms.CatchUp());
        Assert.Equal(new Totals(1, 10, 0), await Expect.Right(pms.State(Accounts.Statistics)));
        Assert.IsType<FableErrors.InvalidDefinition>(await Expect.Left(pms.Status("no-such-process-manager")));
    }

    public static async Task A_failing_process_manager_with_the_Stop_policy_is_disabled_and_keeps_its_error(IHarness h)
    {
        var fragile = ProcessManager<int>.Create("fragile", 0)
            .WithErrorPolicy(ErrorPolicy.Stop)
            .On<Deposited>((_, n, e) => e.Amount == 13 ? EitherAsync<Error, int>.Left(Accounts.Boom) : EitherAsync<Error, int>.Right(n + 1));
        await using var app = await h.App(b => b.ProcessManager(fragile));
        await Expect.Right(app.Emit(Accounts.Type, Guid.NewGuid(), a => Accounts.Open(a, "ada"))
                              .Bind(a => app.Emit(a, Accounts.Deposit(1)))
                              .Bind(a => app.Emit(a, Accounts.Deposit(13)))
                              .Bind(a => app.Emit(a, Accounts.Deposit(2))));
        await Expect.Right(app.ProcessManagers.CatchUp());
        var status = await Expect.Right(app.ProcessManagers.Status("fragile"));
        Assert.False(status.Active);
        Assert.NotNull(status.LastError);
        Assert.Equal(1, await Expect.Right(app.ProcessManagers.State(fragile)));
        Assert.Equal(new Totals(1, 16, 0), await Expect.Right(app.ProcessManagers.State(Accounts.Statistics)));
    }
    public static async Task Started_runners_handle_new_events_and_stop(IHarness h)
    {
        await using var app = await h.App();
        await Expect.Right(app.ProcessManagers.Start());
        await Expect.Right(app.Emit(Accounts.Type, Guid.NewGuid(), a => Accounts.Open(a, "ada")).Bind(a => app.Emit(a, Accounts.Deposit(6))));
        await Expect.Right(app.ProcessManagers.CatchUp());
        Assert.Equal(new Totals(1, 6, 0), await Expect.Right(app.ProcessManagers.State(Accounts.Statistics)));
        await Expect.Right(app.ProcessManagers.Stop());
        await Expect.Right(app.Emit(Accounts.Type, Guid.NewGuid(), a => Accounts.Open(a, "bob")));
        await Expect.Right(app.ProcessManagers.CatchUp());
        Assert.Equal(new Totals(2, 6, 0), await Expect.Right(app.ProcessManagers.State(Accounts.Statistics)));
    }
}
